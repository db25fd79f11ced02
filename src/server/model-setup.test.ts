import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pullModel } from '../providers/llm/models.ts';
import { ModelSetup } from './model-setup.ts';
import { type RunningServer, startServer } from './server.ts';

const FILE = Buffer.alloc(3 * 1024 * 1024, 7);
const SHA = createHash('sha256').update(FILE).digest('hex');

let host: Server | undefined;
let running: RunningServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await running?.close();
  await new Promise((r) => (host ? host.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
  host = running = dir = undefined;
});

/** A loopback stand-in for the model host: answers HEAD, serves the file in slow pieces so progress shows. */
async function startModelHost(): Promise<string> {
  host = createServer((request, response) => {
    if (request.method === 'HEAD' || request.url !== '/tiny.gguf') return response.end();
    response.writeHead(200, { 'content-length': String(FILE.length) });
    let offset = 0;
    const next = () => {
      if (offset >= FILE.length) return response.end();
      response.write(FILE.subarray(offset, offset + 256 * 1024));
      offset += 256 * 1024;
      setTimeout(next, 20);
    };
    next();
  });
  await new Promise<void>((r) => host!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(host!.address() as AddressInfo).port}`;
}

async function serveSetup(setup: ModelSetup): Promise<string> {
  running = await startServer({
    host: '127.0.0.1',
    port: 0,
    webRoot: false,
    setup,
    createSession: async () => {
      throw new Error('no sessions here');
    },
  });
  return running.url;
}

describe('first-run setup API', () => {
  it('offline: the notice and the command, no download offered, a pull refused with the command', async () => {
    const url = await serveSetup(
      new ModelSetup({
        llmSpec: null,
        notice: 'No model.',
        modelHostUrl: 'http://127.0.0.1:9/',
        reachTimeoutMs: 2000,
      }),
    );
    const status = await (await fetch(`${url}/api/setup`)).json();
    expect(status).toMatchObject({
      llm: null,
      notice: 'No model.',
      command: 'repartee models pull',
      online: false,
    });
    const pull = await fetch(`${url}/api/setup/pull`, { method: 'POST' });
    expect(pull.status).toBe(503);
    expect((await pull.json()).error).toContain('repartee models pull');
  });

  it('online: the download runs once, its progress is polled, and it ends with the file in the models folder', async () => {
    const base = await startModelHost();
    dir = await mkdtemp(join(tmpdir(), 'repartee-setup-'));
    const entry = {
      name: 'tiny',
      description: 'test',
      url: `${base}/tiny.gguf`,
      fileName: 'tiny.gguf',
      sizeBytes: FILE.length,
      sha256: SHA,
      license: 'MIT',
    };
    const url = await serveSetup(
      new ModelSetup({
        llmSpec: null,
        notice: 'No model.',
        modelsDir: dir,
        modelHostUrl: base,
        pull: (options) => pullModel(undefined, { ...options, entry }),
      }),
    );
    expect((await (await fetch(`${url}/api/setup`)).json()).online).toBe(true);
    const started = await fetch(`${url}/api/setup/pull`, { method: 'POST' });
    expect(started.status).toBe(202);
    // A second click while it runs starts nothing new.
    expect((await fetch(`${url}/api/setup/pull`, { method: 'POST' })).status).toBe(202);
    const seen: number[] = [];
    const deadline = Date.now() + 60_000;
    let download: { state: string; receivedBytes?: number; path?: string } = { state: 'running' };
    while (download.state === 'running' && Date.now() < deadline) {
      download = (await (await fetch(`${url}/api/setup`)).json()).download;
      if (download.receivedBytes) seen.push(download.receivedBytes);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(download.state).toBe('done');
    expect(seen.length).toBeGreaterThan(0);
    expect((await readFile(join(dir, 'tiny.gguf'))).equals(FILE)).toBe(true);
  });

  it('with an LLM configured there is nothing to set up', async () => {
    const url = await serveSetup(new ModelSetup({ llmSpec: 'llama:x.gguf', notice: 'unused' }));
    expect(await (await fetch(`${url}/api/setup`)).json()).toEqual({ llm: 'llama:x.gguf' });
    expect((await fetch(`${url}/api/setup/pull`, { method: 'POST' })).status).toBe(409);
  });
});
