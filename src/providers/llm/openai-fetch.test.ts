import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeepAliveFetch } from './openai-fetch.ts';

let server: Server;
let base: string;
let connections = 0;

beforeAll(async () => {
  server = createServer(async (req, res) => {
    let body = '';
    for await (const part of req) body += part;
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
      setTimeout(() => res.end('b'), 20);
      return;
    }
    if (req.url === '/never') {
      res.writeHead(200);
      res.write('x');
      return;
    }
    res.writeHead(req.url === '/missing' ? 404 : 200, {
      'content-type': 'application/json',
      'x-echo': 'yes',
    });
    res.end(JSON.stringify({ method: req.method, body, type: req.headers['content-type'] ?? null }));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('createKeepAliveFetch', () => {
  it('sends bodies and headers, returns status, headers and a streamed body', async () => {
    const f = createKeepAliveFetch();
    const posted = await f(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"x":1}',
    });
    expect(posted.status).toBe(200);
    expect(posted.headers.get('x-echo')).toBe('yes');
    expect(await posted.json()).toEqual({ method: 'POST', body: '{"x":1}', type: 'application/json' });
    const missing = await f(`${base}/missing`);
    expect(missing.status).toBe(404);
    await missing.text();
    expect(await (await f(`${base}/stream`)).text()).toBe('ab');
    f.close();
  });

  it('keeps the connection across a pause longer than the built-in fetch keeps it (4 s)', async () => {
    const f = createKeepAliveFetch();
    const before = connections;
    await (await f(`${base}/one`)).text();
    await new Promise((r) => setTimeout(r, 4_500));
    await (await f(`${base}/two`)).text();
    expect(connections - before).toBe(1);
    expect(f.connectionsOpened).toBe(1);
    f.close();
  }, 15_000);

  it('aborts before and during the body with an AbortError', async () => {
    const f = createKeepAliveFetch();
    const early = new AbortController();
    early.abort();
    await expect(f(`${base}/echo`, { signal: early.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const late = new AbortController();
    const response = await f(`${base}/never`, { signal: late.signal });
    const reader = response.body?.getReader();
    expect((await reader?.read())?.value).toBeDefined();
    late.abort();
    await expect(reader?.read()).rejects.toMatchObject({ name: 'AbortError' });
    f.close();
  });

  it('reports a refused connection as fetch does', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const error = await createKeepAliveFetch()(`http://127.0.0.1:${port}/`).catch((e) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.cause.code).toBe('ECONNREFUSED');
  });
});
