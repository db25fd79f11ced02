import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentRoot } from '../src/tools/docs-server/root.ts';
import { createDocsServer } from '../src/tools/docs-server/server.ts';
import { contentVersion } from '../src/tools/docs-server/versions.ts';

const repo = path.resolve(import.meta.dirname, '..');
const bin = path.join(repo, 'bin', 'repartee-docs');
let base: string;
let docs: string;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-mcp-docs-'));
  docs = path.join(base, 'docs');
  await mkdir(path.join(docs, 'reports'), { recursive: true });
  await writeFile(
    path.join(docs, 'plan.md'),
    '# Plan\n\n## Budget\nThe budget for May is 40 euros.\nSee [notes](notes.txt).\n',
  );
  await writeFile(path.join(docs, 'notes.txt'), 'Call the bank about the budget.\nBuy milk.\n');
  await writeFile(path.join(docs, 'reports', 'q1.md'), '# Q1\nRevenue grew. Costs fell.\n');
  await writeFile(path.join(docs, 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0, 0x10, 0x4a, 0x46]));
  await writeFile(path.join(docs, 'huge.txt'), 'budget '.repeat(200_000));
  await writeFile(path.join(base, 'secret.txt'), 'budget secret\n');
  await symlink(path.join(base, 'secret.txt'), path.join(docs, 'escape.txt'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const textOf = (result: unknown) =>
  (result as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

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

describe('repartee-docs executable', () => {
  it('serves MCP over stdio: lists, calls, and survives a refused request', async () => {
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new StdioClientTransport({ command: bin, args: [docs], stderr: 'ignore' }));
    try {
      expect((await client.listTools()).tools).toHaveLength(6);
      const refused = (await client.callTool({
        name: 'read',
        arguments: { path: '../secret.txt' },
      })) as CallToolResult;
      expect(refused.isError).toBe(true);
      const search = await client.callTool({ name: 'search', arguments: { query: 'milk' } });
      expect(textOf(search)).toBe('notes.txt:2: Buy milk.\n(2 file(s) skipped: binary or too large)');
    } finally {
      await client.close();
    }
  }, 60_000);

  it('serves Streamable HTTP with --http 0 on 127.0.0.1', async () => {
    const child = spawn(bin, [docs, '--http', '0', '--max-sessions', '1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
          const match = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
      });
      const client = new Client({ name: 'test', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const updates: unknown[] = [];
      const result = await client.callTool({ name: 'analyze', arguments: { path: 'reports' } }, undefined, {
        onprogress: (p) => updates.push(p),
      });
      expect(textOf(result)).toMatch(/^1 document\(s\), 5 words/);
      expect(updates.length).toBeGreaterThanOrEqual(1);
      expect((await client.callTool({ name: 'read', arguments: { path: 'escape.txt' } })).isError).toBe(true);
      // --max-sessions 1: a second client is told so; a page from another origin is refused outright.
      const initialize = {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'second', version: '1' },
        },
      };
      const post = (headers: Record<string, string> = {}) =>
        fetch(url, {
          method: 'POST',
          body: JSON.stringify(initialize),
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
        });
      const second = await post();
      expect(second.status).toBe(503);
      expect(await second.text()).toMatch(/too many open sessions \(the limit is 1\)/);
      expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
      await client.close();
      const refused = await fetch(url, {
        method: 'POST',
        body: '{not json',
        headers: { 'content-type': 'application/json' },
      });
      expect(refused.status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('refuses a missing root with a message and exit code 2', async () => {
    const run = promisify(execFile);
    const error = await run(bin, [path.join(base, 'missing')]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toMatch(/does not exist/);
  }, 60_000);
});

describe('MCP Inspector CLI (@modelcontextprotocol/inspector-cli)', () => {
  const inspector = path.join(
    repo,
    'node_modules',
    '@modelcontextprotocol',
    'inspector-cli',
    'build',
    'cli.js',
  );
  // inspector-cli 1.0.3 looks for "../package.json" relative to the working directory but imports it relative to
  // its own module; from a folder one level inside the repository both resolve.
  const cwd = path.join(repo, 'bin');
  const inspect = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, [inspector, '--cli', bin, docs, ...args], {
      cwd,
      timeout: 60_000,
    });
    return JSON.parse(stdout);
  };

  it('lists and calls the tools of ./bin/repartee-docs', async () => {
    const listed = await inspect('--method', 'tools/list');
    expect(listed.tools.map((t: { name: string }) => t.name)).toEqual([
      'list',
      'read',
      'search',
      'edit',
      'compare',
      'analyze',
    ]);
    const called = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'search',
      '--tool-arg',
      'query=milk',
    );
    expect(called.content[0].text).toMatch(/^notes.txt:2: Buy milk.\n/);
    const refused = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'read',
      '--tool-arg',
      'path=../secret.txt',
    );
    expect(refused.isError).toBe(true);
  }, 90_000);
});
