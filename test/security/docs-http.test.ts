import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type HttpEndpoint,
  type SessionEvent,
  type StreamableHttpOptions,
  serveStreamableHttp,
} from '../../src/tools/docs-server/http.ts';
import { DocumentRoot } from '../../src/tools/docs-server/root.ts';
import { createDocsServer } from '../../src/tools/docs-server/server.ts';

// The repartee-docs HTTP endpoint against DNS rebinding and session floods (issue 13). Requests are sent raw
// (node:http), because fetch will not send a forged Host header.

let base: string;
let root: DocumentRoot;
const endpoints: HttpEndpoint[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-docs-http-'));
  await writeFile(path.join(base, 'private.md'), 'the private plan\n');
  root = await DocumentRoot.open(base);
});

afterEach(async () => {
  await Promise.all(endpoints.splice(0).map((e) => e.close()));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function serve(options: Partial<StreamableHttpOptions> = {}) {
  const endpoint = await serveStreamableHttp(() => createDocsServer(root), { port: 0, ...options });
  endpoints.push(endpoint);
  return new URL(endpoint.url);
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'probe', version: '1' },
  },
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP request to the endpoint's address, with whatever Host and Origin a rebound page would send. */
function send(
  url: URL,
  {
    method = 'POST',
    host,
    origin,
    body = initialize,
    headers = {},
  }: {
    method?: string;
    host?: string;
    origin?: string;
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: url.pathname,
        method,
        headers: {
          host: host ?? url.host,
          ...(origin ? { origin } : {}),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? body : undefined);
  });
}

async function openSession(url: URL): Promise<string> {
  const answer = await send(url);
  expect(answer.status, answer.body).toBe(200);
  return answer.headers['mcp-session-id'] as string;
}

describe('repartee-docs HTTP: DNS rebinding', () => {
  it('refuses a foreign Host, and a foreign Origin with a valid Host (403), on every method', async () => {
    const url = await serve();
    const port = url.port;
    expect((await send(url, { host: `evil.example:${port}` })).status).toBe(403);
    expect((await send(url, { host: 'evil.example' })).status).toBe(403);
    expect((await send(url, { host: `127.0.0.1:${Number(port) + 1}` })).status).toBe(403);
    // The MCP specification: a request whose Origin is not ours gets 403, whatever its Host.
    for (const origin of [
      `http://evil.example:${port}`,
      'http://evil.example',
      `https://127.0.0.1:${port}`, // the scheme counts
      `http://127.0.0.1:${Number(port) + 1}`,
      'null',
      'file://',
    ]) {
      const answer = await send(url, { origin });
      expect(answer.status, origin).toBe(403);
      expect(answer.body).toMatch(/forbidden/);
    }
    const session = await openSession(url);
    for (const method of ['GET', 'DELETE', 'POST']) {
      const answer = await send(url, {
        method,
        origin: 'http://evil.example',
        headers: { 'mcp-session-id': session },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'read', arguments: { path: 'private.md' } },
        }),
      });
      expect(answer.status, method).toBe(403);
      expect(answer.body).not.toContain('private plan');
    }
    // Other paths too: a rebound page learns nothing.
    expect((await send(new URL('/', url), { method: 'GET', host: `evil.example:${port}` })).status).toBe(403);
  });

  it('lets a legitimate page on localhost or 127.0.0.1 in, and non-browser clients without an Origin', async () => {
    const url = await serve();
    const port = url.port;
    for (const [host, origin] of [
      [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`],
      [`localhost:${port}`, `http://localhost:${port}`],
      [`LOCALHOST:${port}`, `http://localhost:${port}`],
      [`127.0.0.1:${port}`, undefined],
    ] as const) {
      const answer = await send(url, { host, origin });
      expect(answer.status, `${host} ${origin}`).toBe(200);
    }
    const client = new Client({ name: 'legit', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(url));
    const read = await client.callTool({ name: 'read', arguments: { path: 'private.md' } });
    expect(JSON.stringify(read)).toContain('the private plan');
    await client.close();
  });

  it('keeps the protection on for any loopback address (127.0.0.2, ::1) and for configured names', async () => {
    const other = await serve({ host: '127.0.0.2' });
    expect((await send(other, { host: `evil.example:${other.port}` })).status).toBe(403);
    expect((await send(other, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await send(other)).status).toBe(200);

    const ipv6 = await serve({ host: '::1' }).catch(() => undefined);
    if (ipv6) {
      expect((await send(ipv6, { host: `evil.example:${ipv6.port}` })).status).toBe(403);
      expect((await send(ipv6, { origin: `http://evil.example:${ipv6.port}` })).status).toBe(403);
      expect((await send(ipv6, { origin: `http://[::1]:${ipv6.port}` })).status).toBe(200);
    } else {
      console.log('::1 is not available here; the IPv6 loopback case was skipped');
    }

    const named = await serve({ allowedHosts: ['docs.internal'], allowedOrigins: ['https://app.internal'] });
    const port = named.port;
    expect((await send(named, { host: `docs.internal:${port}` })).status).toBe(200);
    expect(
      (await send(named, { host: `docs.internal:${port}`, origin: `http://docs.internal:${port}` })).status,
    ).toBe(200);
    expect((await send(named, { origin: 'https://app.internal' })).status).toBe(200);
    expect((await send(named, { host: `evil.example:${port}` })).status).toBe(403);
    expect(
      (await send(named, { host: `docs.internal:${port}`, origin: 'https://evil.example' })).status,
    ).toBe(403);
  });
});

describe('repartee-docs HTTP: options', () => {
  it('refuse malformed allowed hosts and origins before listening', async () => {
    await expect(serve({ allowedHosts: ['evil.example/path'] })).rejects.toThrow(
      /allowed host "evil.example\/path"/,
    );
    await expect(serve({ allowedOrigins: ['app.example'] })).rejects.toThrow(/allowed origin "app.example"/);
    await expect(serve({ maxSessions: 0 })).rejects.toThrow(/maxSessions/);
  });
});

describe('repartee-docs HTTP: sessions', () => {
  it('caps the open sessions with a clear error, and a closed session makes room', async () => {
    const url = await serve({ maxSessions: 5 });
    const sessions = [];
    for (let i = 0; i < 5; i++) sessions.push(await openSession(url));
    const refused = await send(url);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(JSON.parse(refused.body).error.message).toMatch(/too many open sessions \(the limit is 5\)/);
    const closed = await send(url, { method: 'DELETE', headers: { 'mcp-session-id': sessions[0] } });
    expect(closed.status).toBe(200);
    expect((await send(url)).status).toBe(200);
    expect((await send(url)).status).toBe(503);
  });

  it('a flood of initialize requests cannot grow the sessions past the cap', async () => {
    const events: SessionEvent[] = [];
    const url = await serve({ maxSessions: 20, onSession: (e) => events.push(e) });
    const before = process.memoryUsage().rss;
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 30 }, () => send(url)));
      for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    }
    const opened = events.filter((e) => e.type === 'opened').length;
    console.log(
      `initialize flood: 300 requests, ${statuses.get(200) ?? 0} sessions opened, ${statuses.get(503) ?? 0} refused ` +
        `(503), RSS ${((process.memoryUsage().rss - before) / 1e6).toFixed(1)} MB more`,
    );
    expect(opened).toBe(20);
    expect(statuses.get(200)).toBe(20);
    expect(statuses.get(503)).toBe(280);
  }, 60_000);

  it('expires idle sessions, which frees their place', async () => {
    const events: SessionEvent[] = [];
    const url = await serve({ maxSessions: 1, sessionIdleTimeoutMs: 200, onSession: (e) => events.push(e) });
    const session = await openSession(url);
    expect((await send(url)).status).toBe(503);
    const deadline = Date.now() + 20_000;
    while (!events.some((e) => e.type === 'closed') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(events.find((e) => e.type === 'closed')).toEqual({
      type: 'closed',
      sessionId: session,
      reason: 'expired',
    });
    const stale = await send(url, {
      headers: { 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    });
    expect(stale.status).toBe(404);
    expect((await send(url)).status).toBe(200);
  }, 30_000);
});
