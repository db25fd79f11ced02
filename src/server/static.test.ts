import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WEB_ROOT, type RunningServer, startServer } from './server.ts';

let server: RunningServer;
let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'repartee-web-'));
  const root = join(base, 'web');
  await mkdir(join(root, 'js'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(join(root, 'js', 'app.js'), 'export {};');
  await writeFile(join(root, 'styles.css'), 'body{}');
  await writeFile(join(root, '.env'), 'SECRET=1');
  await writeFile(join(base, 'secret.txt'), 'outside the web root');
  await symlink(join(base, 'secret.txt'), join(root, 'link.txt'));
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    webRoot: root,
    createSession: () => Promise.reject(new Error('no sessions in this test')),
  });
});
afterAll(() => server.close());

/** A raw request: fetch() would normalise `..` away before it reached the server. */
function raw(path: string, method = 'GET', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const req = request({ hostname, port, path, method, headers }, (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('web client serving', () => {
  it('serves index.html at / and files with their content types, security and caching headers', async () => {
    const index = await raw('/');
    expect(index.status).toBe(200);
    expect(index.body).toContain('<title>t</title>');
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(index.headers['content-security-policy']).toMatch(
      /default-src 'self'.*connect-src 'self' ws:\/\//,
    );
    expect((await raw('/js/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await raw('/styles.css')).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers a revalidation with 304 and HEAD without a body', async () => {
    const first = await raw('/js/app.js');
    const again = await raw('/js/app.js', 'GET', { 'if-none-match': String(first.headers.etag) });
    expect(again.status).toBe(304);
    const head = await raw('/js/app.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await raw('/js/app.js', 'POST')).status).toBe(405);
  });

  it('never leaves the web root', async () => {
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/js/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/link.txt',
      '/.env',
      '/%00',
      '/%E0%A4%A',
      '/js/',
      '/missing.html',
    ]) {
      const response = await raw(path);
      expect(response.status, path).toBe(404);
      expect(response.body).not.toContain('outside');
      expect(response.body).not.toContain('SECRET');
    }
  });

  it('keeps /health', async () => {
    const health = await raw('/health');
    expect(JSON.parse(health.body)).toMatchObject({ sessions: 0, maxSessions: expect.any(Number) });
  });

  it('points at the repository web/ folder by default', () => {
    expect(DEFAULT_WEB_ROOT).toMatch(/[/\\]web$/);
  });
});
