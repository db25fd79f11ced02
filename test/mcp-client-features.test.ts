import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serveStreamableHttp } from '../src/tools/docs-server/http.ts';
import { DocumentRoot } from '../src/tools/docs-server/root.ts';
import { createDocsServer } from '../src/tools/docs-server/server.ts';
import { McpToolset } from '../src/tools/mcp/toolset.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A sessionless (stateless) MCP server that answers the GET notification stream with 404, as some do. The 404
 * is held until the client's tool list has been answered, so it reaches a client that is fully connected (as
 * it does over a real network, where the GET races the first requests).
 */
async function sessionlessServer(counts: { get: number; initialize: number }): Promise<string> {
  const heldGets: import('node:http').ServerResponse[] = [];
  let listed = false;
  const notFound = (res: import('node:http').ServerResponse) =>
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
  const http: Server = createServer(async (req, res) => {
    if (req.method === 'GET') {
      counts.get++;
      if (listed) notFound(res);
      else heldGets.push(res);
      return;
    }
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const body = await readBody(req);
    const method = (body as { method?: string }).method;
    if (method === 'initialize') counts.initialize++;
    if (method === 'tools/list')
      res.once('finish', () => {
        listed = true;
        for (const held of heldGets.splice(0)) notFound(held);
      });
    const server = new McpServer({ name: 'stateless', version: '1' });
    server.registerTool(
      'echo',
      { description: 'Echo', inputSchema: { text: z.string() } },
      async ({ text }) => ({
        content: [{ type: 'text', text: `echo: ${text}` }],
      }),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => void transport.close().then(() => server.close()));
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
}

describe('MCP client features', () => {
  it('a sessionless server answering the GET stream with 404 is used as it is, not reconnected in a loop', async () => {
    const counts = { get: 0, initialize: 0 };
    const url = await sessionlessServer(counts);
    const errors: string[] = [];
    const logs: string[] = [];
    const toolset = await McpToolset.connect(
      [{ name: 'stateless', transport: 'http', url, reconnectInitialDelayMs: 5, reconnectMaxDelayMs: 20 }],
      { onError: (e) => errors.push(e.message), onLog: (line) => logs.push(line) },
    );
    cleanups.push(() => toolset.close());
    expect(toolset.servers[0].status).toBe('connected');
    const echo = toolset.tools().find((t) => t.name === 'echo');
    // Twenty calls, one after another: with the loop, each 404 started a new session within ~5 ms.
    for (let i = 0; i < 20; i++) {
      await expect(echo?.execute({ text: `n${i}` }, { signal: new AbortController().signal })).resolves.toBe(
        `echo: n${i}`,
      );
    }
    expect(counts.get).toBeGreaterThanOrEqual(1);
    expect(counts.initialize).toBe(1);
    expect(errors).toEqual([]);
    expect(toolset.servers[0].status).toBe('connected');
    expect(logs).toEqual(['MCP server stateless offers no GET notification stream (404 without a session)']);
  }, 60_000);

  it('a server that offers resources gets list_resources and read_resource tools the LLM can call', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'repartee-mcp-resources-'));
    cleanups.push(() => rm(base, { recursive: true, force: true }));
    await mkdir(path.join(base, 'docs'));
    await writeFile(path.join(base, 'docs', 'menu.md'), '# Menu\nSoup of the day: lentil.\n');
    const root = await DocumentRoot.open(path.join(base, 'docs'));
    const endpoint = await serveStreamableHttp(() => createDocsServer(root), { port: 0 });
    cleanups.push(() => endpoint.close());
    const toolset = await McpToolset.connect([
      { name: 'docs', transport: 'http', url: endpoint.url, toolPrefix: 'docs_' },
    ]);
    cleanups.push(() => toolset.close());
    const names = toolset.tools().map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['docs_read', 'docs_list_resources', 'docs_read_resource']));
    const signal = new AbortController().signal;
    const list = toolset.tools().find((t) => t.name === 'docs_list_resources');
    await expect(list?.execute({}, { signal })).resolves.toContain('docs:///menu.md');
    const read = toolset.tools().find((t) => t.name === 'docs_read_resource');
    await expect(read?.execute({ uri: 'docs:///menu.md' }, { signal })).resolves.toBe(
      '# Menu\nSoup of the day: lentil.\n',
    );
    await expect(read?.execute({ uri: 'docs:///nope.md' }, { signal })).rejects.toThrow(/not found/i);
  }, 60_000);

  it('a server without resources gets no resource tools', async () => {
    const counts = { get: 0, initialize: 0 };
    const toolset = await McpToolset.connect([
      { name: 'plain', transport: 'http', url: await sessionlessServer(counts) },
    ]);
    cleanups.push(() => toolset.close());
    expect(toolset.tools().map((t) => t.name)).toEqual(['echo']);
  }, 60_000);
});
