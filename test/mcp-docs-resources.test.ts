import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  LoggingMessageNotificationSchema,
  McpError,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStreamableHttp } from '../src/tools/docs-server/http.ts';
import { DocumentRoot } from '../src/tools/docs-server/root.ts';
import { createDocsServer } from '../src/tools/docs-server/server.ts';

let base: string;
let docs: string;
let client: Client;

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

async function errorOf(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof McpError) return error;
    throw error;
  }
  throw new Error('expected an MCP error');
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-docs-resources-'));
  docs = path.join(base, 'docs');
  await mkdir(path.join(docs, 'reports'), { recursive: true });
  await writeFile(path.join(docs, 'plan.md'), '# Plan\n\nShip on Friday.\n');
  await writeFile(path.join(docs, 'notes.txt'), 'Buy milk.\n');
  await writeFile(path.join(docs, 'reports', 'q1 summary.md'), '# Q1\nRevenue grew.\n');
  await writeFile(path.join(base, 'secret.txt'), 'secret\n');
  const server = createDocsServer(await DocumentRoot.open(docs));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  client = new Client({ name: 'test', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
});

afterAll(async () => {
  await client?.close();
  await rm(base, { recursive: true, force: true });
});

describe('repartee-docs: documents as resources', () => {
  it('declares resources (with subscribe), prompts, completions and logging', () => {
    expect(client.getServerCapabilities()).toMatchObject({
      resources: { subscribe: true, listChanged: true },
      prompts: {},
      completions: {},
      logging: {},
    });
  });

  it('lists every document as docs:///<path> with its type, and offers the path template', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((r) => [r.uri, r.mimeType])).toEqual(
      expect.arrayContaining([
        ['docs:///plan.md', 'text/markdown'],
        ['docs:///notes.txt', 'text/plain'],
        ['docs:///reports/q1%20summary.md', 'text/markdown'],
      ]),
    );
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['docs:///{+path}']);
  });

  it('reads a document by URI; a missing one is -32002, a path out of the root is invalid params', async () => {
    const read = await client.readResource({ uri: 'docs:///reports/q1%20summary.md' });
    expect(read.contents).toEqual([
      { uri: 'docs:///reports/q1%20summary.md', mimeType: 'text/markdown', text: '# Q1\nRevenue grew.\n' },
    ]);
    expect((await errorOf(client.readResource({ uri: 'docs:///nope.md' }))).code).toBe(-32002);
    // A plain ../ is resolved away by URL parsing (docs:///secret.txt, not found); an encoded slash is not.
    expect((await errorOf(client.readResource({ uri: 'docs:///../secret.txt' }))).code).toBe(-32002);
    const outside = await errorOf(client.readResource({ uri: 'docs:///..%2Fsecret.txt' }));
    expect(outside.code).toBe(-32602);
    expect(outside.message).toContain('".." is refused');
    expect(outside.message).not.toContain(base);
  });

  it('completes paths for the template and for prompt arguments', async () => {
    const template = await client.complete({
      ref: { type: 'ref/resource', uri: 'docs:///{+path}' },
      argument: { name: 'path', value: 'rep' },
    });
    expect(template.completion.values).toEqual(['reports/q1 summary.md']);
    const prompt = await client.complete({
      ref: { type: 'ref/prompt', name: 'summarize' },
      argument: { name: 'path', value: 'PL' },
    });
    expect(prompt.completion.values).toEqual(['plan.md']);
  });

  it('offers prompts for the common tasks, with the document embedded', async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['compare', 'proofread', 'revise', 'summarize']);
    const got = await client.getPrompt({ name: 'summarize', arguments: { path: 'plan.md' } });
    expect(got.messages[0].content).toEqual({
      type: 'resource',
      resource: { uri: 'docs:///plan.md', mimeType: 'text/markdown', text: '# Plan\n\nShip on Friday.\n' },
    });
    expect(got.messages[1].content).toMatchObject({ type: 'text' });
    expect(
      (await errorOf(client.getPrompt({ name: 'proofread', arguments: { path: 'gone.md' } }))).code,
    ).toBe(-32602);
  });

  it('a subscribed document that changes on disk is announced; unsubscribe is accepted', async () => {
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updated.push(n.params.uri);
    });
    await client.subscribeResource({ uri: 'docs:///notes.txt' });
    await client.subscribeResource({ uri: 'docs:///later.md' }); // not there yet: its creation is an update
    await writeFile(path.join(docs, 'notes.txt'), 'Buy milk.\nAnd bread.\n');
    await until(() => updated.includes('docs:///notes.txt'), 'the update of notes.txt');
    await writeFile(path.join(docs, 'later.md'), 'new\n');
    await until(() => updated.includes('docs:///later.md'), 'the creation of later.md');
    await client.unsubscribeResource({ uri: 'docs:///notes.txt' });
    const refused = await errorOf(client.subscribeResource({ uri: 'file:///etc/passwd' }));
    expect(refused.code).toBe(-32602);
  });

  it('logs edits to the client at the level it set', async () => {
    const messages: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      messages.push(n.params);
    });
    await client.setLoggingLevel('info');
    await client.callTool({ name: 'edit', arguments: { path: 'logged.md', content: 'hello\n' } });
    await until(() => messages.length > 0, 'a log message');
    expect(messages[0]).toEqual({
      level: 'info',
      logger: 'repartee-docs',
      data: expect.stringMatching(/^Created logged\.md \(version /),
    });
  });
});

describe('repartee-docs over HTTP: JSON-RPC error codes', () => {
  it('malformed JSON gets -32700 (parse error); a first request that is not initialize gets -32600', async () => {
    const root = await DocumentRoot.open(docs);
    const endpoint = await serveStreamableHttp(() => createDocsServer(root), { port: 0 });
    try {
      const post = (body: string) =>
        fetch(endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body,
        });
      const bad = await post('{"jsonrpc": "2.0", "method": ');
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
      const notInit = await post('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
      expect(((await notInit.json()) as { error: { code: number } }).error.code).toBe(-32600);
    } finally {
      await endpoint.close();
    }
  });
});
