import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentRoot } from '../src/tools/docs-server/root.ts';
import { createDocsServer } from '../src/tools/docs-server/server.ts';
import { contentVersion } from '../src/tools/docs-server/versions.ts';
import { base, docs, textOf, useDocsFixture } from './mcp-docs-server.testkit.ts';

useDocsFixture();

async function inMemoryClient(maxFileBytes?: number) {
  const server = createDocsServer(await DocumentRoot.open(docs, { maxFileBytes }));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

describe('repartee-docs tools', () => {
  let client: Client;
  beforeAll(async () => {
    client = await inMemoryClient(1024 * 1024);
  });
  afterAll(async () => {
    await client.close();
  });
  const call = (name: string, args: Record<string, unknown>) =>
    client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

  it('lists the tools with JSON Schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['list', 'read', 'search', 'edit', 'compare', 'analyze']);
    expect(tools.find((t) => t.name === 'search')?.inputSchema.required).toEqual(['query']);
  });

  it('list, read, search, compare', async () => {
    const version = async (name: string) => contentVersion(await readFile(path.join(docs, name)));
    expect(textOf(await call('list', {}))).toBe(
      [
        'huge.txt (1400000 bytes)',
        `notes.txt (42 bytes, version ${await version('notes.txt')})`,
        `photo.jpg (7 bytes, version ${await version('photo.jpg')})`,
        `plan.md (74 bytes, version ${await version('plan.md')})`,
        'reports/',
      ].join('\n'),
    );
    expect(textOf(await call('list', { path: 'reports' }))).toBe(
      `reports/q1.md (31 bytes, version ${await version('reports/q1.md')})`,
    );
    const excerpt = await call('read', { path: 'plan.md', startLine: 3, endLine: 4 });
    expect(excerpt.content).toEqual([
      { type: 'text', text: '## Budget\nThe budget for May is 40 euros.' },
      {
        type: 'text',
        text: `(plan.md is at version ${await version('plan.md')}; to change it, call edit with baseVersion "${await version('plan.md')}")`,
      },
    ]);
    const search = textOf(await call('search', { query: 'BUDGET' }));
    expect(search.split('\n')).toEqual([
      'notes.txt:1: Call the bank about the budget.',
      'plan.md:3: ## Budget',
      'plan.md:4: The budget for May is 40 euros.',
      '(2 file(s) skipped: binary or too large)',
    ]);
    expect(search).not.toContain('secret');
    expect(textOf(await call('search', { query: 'BUDGET', caseSensitive: true }))).toMatch(/^No matches/);
    expect(textOf(await call('compare', { a: 'plan.md', b: 'plan.md' }))).toBe(
      'plan.md and plan.md are identical.',
    );
    expect(textOf(await call('compare', { a: 'notes.txt', b: 'reports/q1.md', context: 0 }))).toContain(
      '-Call the bank about the budget.',
    );
  });

  it('edits atomically with a backup, and refuses ambiguous or missing text', async () => {
    await writeFile(path.join(docs, 'todo.md'), '- milk\n- bread\n- milk\n');
    const baseVersion = contentVersion(Buffer.from('- milk\n- bread\n- milk\n'));
    const unversioned = await call('edit', { path: 'todo.md', edits: [{ oldText: 'bread', newText: 'x' }] });
    expect(textOf(unversioned)).toMatch(/baseVersion is required/);
    const ambiguous = await call('edit', {
      path: 'todo.md',
      baseVersion,
      edits: [{ oldText: '- milk', newText: '- oat milk' }],
    });
    expect(ambiguous.isError).toBe(true);
    expect(textOf(ambiguous)).toMatch(/more than once/);
    const missing = await call('edit', {
      path: 'todo.md',
      baseVersion,
      edits: [{ oldText: 'eggs', newText: 'x' }],
    });
    expect(textOf(missing)).toMatch(/not found/);
    const both = await call('edit', {
      path: 'todo.md',
      content: 'x',
      edits: [{ oldText: 'a', newText: 'b' }],
    });
    expect(textOf(both)).toMatch(/either edits or content/);
    const ok = await call('edit', {
      path: 'todo.md',
      baseVersion,
      edits: [{ oldText: '- bread', newText: '- rye bread' }],
    });
    expect(ok.isError).toBeFalsy();
    const newVersion = contentVersion(Buffer.from('- milk\n- rye bread\n- milk\n'));
    expect(textOf(ok)).toMatch(
      `Updated todo.md (now version ${newVersion}); the previous version is in todo.md.bak.`,
    );
    expect(textOf(ok)).toContain('-- bread\n+- rye bread');
    expect(await readFile(path.join(docs, 'todo.md'), 'utf8')).toBe('- milk\n- rye bread\n- milk\n');
    expect(await readFile(path.join(docs, 'todo.md.bak'), 'utf8')).toBe('- milk\n- bread\n- milk\n');
    const created = await call('edit', { path: 'reports/q2.md', content: '# Q2\n' });
    expect(textOf(created)).toMatch(/^Created reports\/q2.md/);
    // The same base version again: the document has moved on, so nothing is written and the answer says so.
    const stale = await call('edit', { path: 'todo.md', baseVersion, content: 'overwritten' });
    expect(stale.isError).toBe(true);
    expect(textOf(stale)).toContain(
      `todo.md changed since version ${baseVersion} (current version ${newVersion})`,
    );
    expect(textOf(await call('edit', { path: 'todo.md', content: 'overwritten' }))).toMatch(/already exists/);
    expect(await readFile(path.join(docs, 'todo.md'), 'utf8')).toBe('- milk\n- rye bread\n- milk\n');
    await rm(path.join(docs, 'todo.md'));
    await rm(path.join(docs, 'todo.md.bak'));
    await rm(path.join(docs, 'reports', 'q2.md'));
  });

  it('answers traversal, links out, oversized and binary files with MCP tool errors', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['read', { path: '../secret.txt' }, /"\.\." is refused/],
      ['read', { path: path.join(base, 'secret.txt') }, /absolute paths are refused/],
      ['read', { path: 'escape.txt' }, /outside the document root/],
      ['edit', { path: 'escape.txt', content: 'pwned' }, /outside the document root/],
      ['edit', { path: '../new.txt', content: 'x' }, /refused/],
      ['list', { path: '/' }, /absolute paths are refused/],
      ['read', { path: 'huge.txt' }, /limit is 1048576 bytes/],
      ['read', { path: 'photo.jpg' }, /binary file/],
      ['read', { path: 'nothing.md' }, /does not exist/],
      ['compare', { a: 'plan.md', b: '../secret.txt' }, /refused/],
    ];
    for (const [name, args, message] of cases) {
      const result = await call(name, args);
      expect(result.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result)).toMatch(message);
    }
    expect(await readFile(path.join(base, 'secret.txt'), 'utf8')).toBe('budget secret\n');
  });

  it('answers invalid arguments and unknown tools with errors, and keeps serving', async () => {
    for (const [name, args] of [
      ['search', { query: 5 }],
      ['search', { query: '' }],
      ['read', {}],
      ['read', { path: 'plan.md', startLine: 0 }],
      ['edit', { path: 'plan.md', edits: 'all of it' }],
    ] as const) {
      const result = await call(name, args);
      expect(result.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result)).toMatch(/Invalid arguments|Input validation/);
    }
    const unknown = await call('format_disk', {});
    expect(unknown.isError).toBe(true);
    expect(textOf(await call('read', { path: 'notes.txt' }))).toContain('Buy milk.');
  });

  it('analyze reports progress, and a cancelled analyze stops while the server keeps serving', async () => {
    const corpus = path.join(docs, 'corpus');
    await mkdir(corpus);
    const line = 'The quick brown fox reads the quarterly budget report again. ';
    for (let i = 0; i < 40; i++)
      await writeFile(path.join(corpus, `doc${i}.md`), `# Doc ${i}\n${`${line}\n`.repeat(8000)}`);
    const updates: { progress: number; total?: number }[] = [];
    const result = await client.callTool({ name: 'analyze', arguments: { path: 'corpus' } }, undefined, {
      onprogress: (p) => updates.push(p),
    });
    expect(textOf(result)).toMatch(/^40 document\(s\), 3200080 words/);
    expect(textOf(result)).toContain('budget (320000)');
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.at(-1)?.progress).toBe(updates.at(-1)?.total);
    for (let i = 1; i < updates.length; i++)
      expect(updates[i].progress).toBeGreaterThanOrEqual(updates[i - 1].progress);

    // Cancel one on its first progress report, and watch the server side: the slices of work it does and the
    // progress notifications it sends.
    const journal = { slices: 0, slicesAtAbort: -1, outcome: '' };
    let aborted = false;
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const watchedServer = createDocsServer(await DocumentRoot.open(docs), {
      analyze: {
        linesPerSlice: 500,
        onStart: (signal) =>
          signal.addEventListener('abort', () => {
            journal.slicesAtAbort = journal.slices;
            aborted = true;
          }),
        onSlice: () => journal.slices++,
        onSettled: (outcome) => {
          journal.outcome = outcome;
          settle();
        },
      },
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const sent: { method: string; afterAbort: boolean }[] = [];
    const send = serverSide.send.bind(serverSide);
    serverSide.send = (message, options) => {
      if ('method' in message) sent.push({ method: message.method, afterAbort: aborted });
      return send(message, options);
    };
    const watched = new Client({ name: 'test', version: '1' });
    await Promise.all([watchedServer.connect(serverSide), watched.connect(clientSide)]);
    const controller = new AbortController();
    const cancelled = watched.callTool({ name: 'analyze', arguments: { path: 'corpus' } }, undefined, {
      signal: controller.signal,
      onprogress: () => controller.abort(new Error('user said cancel')),
    });
    await expect(cancelled).rejects.toThrow('user said cancel');
    await settled;
    expect(journal.outcome).toBe('cancelled');
    // It stopped within the slice it was in when the cancellation arrived: 40 documents × 16 slices were left.
    expect(journal.slicesAtAbort).toBeGreaterThanOrEqual(0);
    expect(journal.slices - journal.slicesAtAbort).toBeLessThanOrEqual(1);
    expect(journal.slices).toBeLessThan(40 * 16);
    const slicesAfterCancel = journal.slices;
    expect(textOf(await watched.callTool({ name: 'read', arguments: { path: 'notes.txt' } }))).toContain(
      'Buy milk.',
    );
    expect(journal.slices).toBe(slicesAfterCancel);
    expect(sent.filter((m) => m.method === 'notifications/progress' && m.afterAbort)).toEqual([]);
    await watched.close();
    await rm(corpus, { recursive: true });
  });
});
