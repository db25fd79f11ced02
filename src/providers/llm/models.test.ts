import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelPullError } from './errors.ts';
import { findModel, listModels, type ModelEntry, progressBar, pullModel } from './models.ts';

/** A file server with Range support, counting the bytes it actually sends. */
const FILE = randomBytes(300_000);
const SHA = createHash('sha256').update(FILE).digest('hex');
let server: Server;
let base: string;
let sentBytes = 0;
let ranges: (string | undefined)[] = [];
let ignoreRange = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !ignoreRange) {
      const start = Number(m[1]);
      if (start >= FILE.length) {
        res.writeHead(416, { 'content-range': `bytes */${FILE.length}` });
        res.end();
        return;
      }
      const body = FILE.subarray(start);
      res.writeHead(206, {
        'content-length': body.length,
        'content-range': `bytes ${start}-${FILE.length - 1}/${FILE.length}`,
      });
      sentBytes += body.length;
      res.end(body);
      return;
    }
    if (req.url === '/stall.gguf') {
      // Half the file, then silence: an interrupted download.
      res.writeHead(200, { 'content-length': FILE.length });
      res.write(FILE.subarray(0, 100_000));
      return;
    }
    if (req.url === '/missing') {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': FILE.length });
    sentBytes += FILE.length;
    res.end(FILE);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repartee-models-'));
  sentBytes = 0;
  ranges = [];
  ignoreRange = false;
  return () => rm(dir, { recursive: true, force: true });
});

const entry = (over: Partial<ModelEntry> = {}): ModelEntry => ({
  name: 'tiny',
  description: 'test file',
  url: `${base}/tiny.gguf`,
  fileName: 'tiny.gguf',
  sizeBytes: FILE.length,
  sha256: SHA,
  license: 'MIT',
  ...over,
});

describe('pullModel', () => {
  it('downloads, checks the sha256 and reports progress', async () => {
    const seen: number[] = [];
    const r = await pullModel('tiny', {
      entry: entry(),
      modelsDir: dir,
      onProgress: (p) => seen.push(p.receivedBytes),
    });
    expect(r).toMatchObject({
      alreadyPresent: false,
      resumedFromBytes: 0,
      bytes: FILE.length,
      sha256: SHA,
      verified: true,
    });
    expect(r.spec).toBe(`llama:${join(dir, 'tiny.gguf')}`);
    expect((await readFile(r.path)).equals(FILE)).toBe(true);
    expect(seen.at(-1)).toBe(FILE.length);
    // Already there: verified from disk, nothing fetched.
    sentBytes = 0;
    expect((await pullModel('tiny', { entry: entry(), modelsDir: dir })).alreadyPresent).toBe(true);
    expect(sentBytes).toBe(0);
  });

  it('resumes an interrupted download with a Range request', async () => {
    await writeFile(join(dir, 'tiny.gguf.partial'), FILE.subarray(0, 120_000));
    const r = await pullModel('tiny', { entry: entry(), modelsDir: dir, progressStream: null });
    expect(ranges).toEqual(['bytes=120000-']);
    expect(sentBytes).toBe(FILE.length - 120_000);
    expect(r.resumedFromBytes).toBe(120_000);
    expect((await readFile(r.path)).equals(FILE)).toBe(true);
    await expect(stat(join(dir, 'tiny.gguf.partial'))).rejects.toThrow();
  });

  it('finishes a complete partial file (416) and restarts when the server ignores Range', async () => {
    await writeFile(join(dir, 'tiny.gguf.partial'), FILE);
    expect((await pullModel('tiny', { entry: entry(), modelsDir: dir, progressStream: null })).sha256).toBe(
      SHA,
    );
    await rm(join(dir, 'tiny.gguf'));
    ignoreRange = true;
    await writeFile(join(dir, 'tiny.gguf.partial'), FILE.subarray(0, 1000));
    const r = await pullModel('tiny', { entry: entry(), modelsDir: dir, progressStream: null });
    expect(r.resumedFromBytes).toBe(0);
    expect((await readFile(r.path)).equals(FILE)).toBe(true);
  });

  it('rejects and deletes a download whose checksum does not match', async () => {
    const bad = entry({ sha256: 'f'.repeat(64) });
    const error = await pullModel('tiny', { entry: bad, modelsDir: dir, progressStream: null }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ModelPullError);
    expect(error.code).toBe('checksum');
    await expect(stat(join(dir, 'tiny.gguf'))).rejects.toThrow();
    await expect(stat(join(dir, 'tiny.gguf.partial'))).rejects.toThrow();
  });

  it('fails quickly and clearly when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const started = performance.now();
    const error = await pullModel('x', {
      entry: entry({ url: `http://127.0.0.1:${port}/model.gguf` }),
      modelsDir: dir,
      progressStream: null,
    }).catch((e) => e);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(ModelPullError);
    expect(error.code).toBe('network');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain(join(dir, 'tiny.gguf'));
  });

  it('reports HTTP errors and unknown names', async () => {
    const error = await pullModel('x', {
      entry: entry({ url: `${base}/missing` }),
      modelsDir: dir,
      progressStream: null,
    }).catch((e) => e);
    expect(error.code).toBe('http');
    expect(error.message).toContain('404');
    expect(() => findModel('nope')).toThrow(/known models: qwen2.5-0.5b-instruct/);
  });

  it('stops on abort or a stall and keeps the partial file for a later resume', async () => {
    const pre = new AbortController();
    pre.abort();
    const early = await pullModel('tiny', { entry: entry(), modelsDir: dir, signal: pre.signal }).catch(
      (e) => e,
    );
    expect(early.code).toBe('aborted');

    const ac = new AbortController();
    const stalled = entry({ url: `${base}/stall.gguf` });
    const aborted = await pullModel('tiny', {
      entry: stalled,
      modelsDir: dir,
      signal: ac.signal,
      onProgress: (p) => p.receivedBytes >= 100_000 && ac.abort(),
    }).catch((e) => e);
    expect(aborted).toBeInstanceOf(ModelPullError);
    expect(aborted.code).toBe('aborted');
    expect((await stat(join(dir, 'tiny.gguf.partial'))).size).toBe(100_000);

    await rm(join(dir, 'tiny.gguf.partial'));
    const idle = await pullModel('tiny', {
      entry: stalled,
      modelsDir: dir,
      idleTimeoutMs: 200,
      progressStream: null,
    }).catch((e) => e);
    expect(idle.code).toBe('network');
    expect(idle.message).toContain('download stalled');

    const r = await pullModel('tiny', { entry: entry(), modelsDir: dir, progressStream: null });
    expect(r.resumedFromBytes).toBe(100_000);
    expect(r.sha256).toBe(SHA);
  });
});

describe('registry', () => {
  it('has a default Qwen2.5 0.5B Q4_K_M entry with size and checksum, and lists install state', async () => {
    const def = findModel();
    expect(def.name).toBe('qwen2.5-0.5b-instruct');
    expect(def.url).toMatch(
      /^https:\/\/huggingface\.co\/Qwen\/Qwen2\.5-0\.5B-Instruct-GGUF\/resolve\/main\//,
    );
    expect(def.sha256).toMatch(/^[0-9a-f]{64}$/);
    const listed = await listModels({ modelsDir: dir });
    expect(listed.map((m) => m.installed)).toEqual(listed.map(() => false));
    expect(listed[0].path).toBe(join(dir, def.fileName));
  });

  it('draws a progress bar on one line', () => {
    let out = '';
    const sink = {
      write(s: string) {
        out = s;
        return true;
      },
    };
    const bar = progressBar(sink as unknown as NodeJS.WritableStream, 'm', 10);
    bar({ receivedBytes: 50 * 1048576, totalBytes: 100 * 1048576, bytesPerSecond: 10 * 1048576 });
    expect(out).toBe('\rm [#####-----]  50%  50/100 MiB  10.0 MiB/s  ETA 0:05   ');
  });
});
