import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CachedTts } from '../src/cache/cached-tts.ts';
import { cachedSessionTts, fixedPhrases, responseBinding } from '../src/config/cache.ts';
import { ConfigSchema, loadConfig } from '../src/config/config.ts';
import { createProviders } from '../src/config/providers.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('cache configuration', () => {
  it('defaults: TTS cache on (memory + disk), response cache off; bad values are refused', () => {
    const config = ConfigSchema.parse({});
    expect(config.cache.tts).toMatchObject({ enabled: true, memoryMb: 32, diskMb: 256, presynthesize: true });
    expect(config.cache.response).toMatchObject({ enabled: false, mode: 'auto', threshold: 0.92 });
    expect(() => ConfigSchema.parse({ cache: { response: { threshold: 2 } } })).toThrow();
    expect(() => ConfigSchema.parse({ cache: { tts: { sizeMb: 1 } } })).toThrow();
  });

  it('pre-synthesizes the fixed phrases at start into the on-disk store, and wraps each session TTS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-cache-config-'));
    dirs.push(dir);
    const config = await loadConfig({
      file: '/nonexistent.json',
      env: {},
      overrides: {
        vad: 'energy',
        tts: 'flite:kal',
        modelsDir: '/nonexistent',
        cache: { ...ConfigSchema.parse({}).cache, tts: { ...ConfigSchema.parse({}).cache.tts, dir } },
      },
    });
    const providers = await createProviders(config, { env: {} });
    try {
      const result = await providers.caches?.presynthesis;
      // Status line, tool-timeout apology, provider apology and the no-model notice (no LLM configured), by sentence.
      const phrases = fixedPhrases(config, ['x']);
      expect(phrases).toContain('Still working on it.');
      expect(result?.synthesized).toBeGreaterThanOrEqual(4);
      await providers.caches?.tts?.settled();
      expect((await readdir(dir)).filter((f) => f.endsWith('.seg')).length).toBe(result?.synthesized);
      const tts = cachedSessionTts(providers.createSessionTts?.() ?? providers.tts, providers.caches, config);
      expect(tts).toBeInstanceOf(CachedTts);
      // A session saying the status line is served from the cache.
      const hits: boolean[] = [];
      const stream = tts.stream({
        signal: new AbortController().signal,
        onCacheLookup: (hit) => hits.push(hit),
      });
      stream.pushText('Still working on it.');
      stream.flush();
      stream.end();
      let frames = 0;
      for await (const _ of stream) frames++;
      expect(hits).toEqual([true]);
      expect(frames).toBeGreaterThan(5);
      // No LLM, no response cache binding (even when enabled).
      expect(responseBinding(providers.caches, config, providers.llmSpec, [])).toBeUndefined();
    } finally {
      await providers.close();
    }
  }, 60_000);
});
