import { describe, expect, it } from 'vitest';
import { defaultModelPaths } from './pocketsphinx-native.ts';
import { DecoderPool, DecoderPoolExhaustedError, type DecoderPoolOptions } from './pocketsphinx-pool.ts';

// The small turtle language model and dictionary from pocketsphinx-testdata: ps_init still runs every step that
// touched sphinxbase's global log (the race this guards against), in a fraction of the time of the en-us LM.
const DATA = '/usr/share/pocketsphinx/test/data';
const SMALL: DecoderPoolOptions = {
  paths: { ...defaultModelPaths(), lm: `${DATA}/turtle.lm.bin`, dict: `${DATA}/turtle.dic` },
  args: ['-fwdflat', 'no', '-bestpath', 'no'],
  offThread: true,
  maxIdle: 0,
  maxDecoders: 8,
  maxWaiting: 8,
  acquireTimeoutMs: 60_000,
};
const ROUNDS = Number(process.env.REPARTEE_POOL_ROUNDS ?? 40);

describe('DecoderPool', () => {
  it(`loads decoders concurrently on worker threads without corrupting the process (${ROUNDS} rounds of 6)`, async () => {
    const pool = new DecoderPool(SMALL);
    const speech = new Int16Array(1_600).map((_, i) => Math.round(3_000 * Math.sin(i / 3)));
    for (let round = 0; round < ROUNDS; round++) {
      const decoders = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
      // Each decoder works: a native call on every one, then all freed at once (maxIdle 0).
      await Promise.all(decoders.map((d) => d.process(speech)));
      await Promise.all(decoders.map((d) => d.finish()));
      for (const decoder of decoders) pool.release(decoder);
    }
    expect(pool.stats).toMatchObject({ live: 0, created: ROUNDS * 6, freed: ROUNDS * 6, peakLive: 6 });
  }, 240_000);

  it('bounds the decoders loaded at once: a bounded queue, then a clear refusal; a release serves the queue', async () => {
    const pool = new DecoderPool({ ...SMALL, maxDecoders: 2, maxWaiting: 1, maxIdle: 2 });
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    const queued = pool.acquire();
    expect(pool.stats).toMatchObject({ live: 2, inUse: 2, waiting: 1 });
    await expect(pool.acquire()).rejects.toThrow(DecoderPoolExhaustedError);
    await expect(pool.acquire()).rejects.toThrow(/all 2 pocketsphinx decoders are busy/);
    pool.release(a);
    expect(await queued).toBe(a); // handed over, not reloaded
    expect(pool.stats).toMatchObject({ live: 2, waiting: 0, refused: 2, queued: 1, created: 2 });
    pool.release(a);
    pool.release(b);
    expect(pool.stats).toMatchObject({ live: 2, idle: 2, inUse: 0 });
    pool.dispose();
    expect(pool.stats).toMatchObject({ live: 0, idle: 0, freed: 2 });
  }, 60_000);

  it('fails a waiting acquire at its deadline or on abort, and a freed slot loads a decoder for the next', async () => {
    const pool = new DecoderPool({ ...SMALL, maxDecoders: 1, maxWaiting: 4, acquireTimeoutMs: 300 });
    const held = await pool.acquire();
    await expect(pool.acquire()).rejects.toThrow(/no pocketsphinx decoder came free within 300 ms/);
    const controller = new AbortController();
    const aborted = pool.acquire(controller.signal);
    controller.abort(new Error('caller went away'));
    await expect(aborted).rejects.toThrow('caller went away');
    expect(pool.stats).toMatchObject({ waiting: 0, timedOut: 1 });

    const next = pool.acquire();
    await held.process(new Int16Array(320));
    pool.release(held); // utterance still open: freed, never handed on; its slot loads a fresh one
    const fresh = await next;
    expect(fresh).not.toBe(held);
    expect(fresh.utteranceOpen).toBe(false);
    expect(pool.stats).toMatchObject({ live: 1, created: 2, freed: 1 });
    pool.release(fresh);
    expect(pool.stats.live).toBe(0);
  }, 60_000);

  it('prewarms only up to the idle count asked for, however many callers ask at once', async () => {
    const pool = new DecoderPool({ ...SMALL, maxIdle: 2 });
    await Promise.all(Array.from({ length: 8 }, () => pool.prewarm(1)));
    expect(pool.stats).toMatchObject({ live: 1, idle: 1, created: 1 });
    await pool.prewarm(2);
    expect(pool.stats).toMatchObject({ live: 2, idle: 2 });
    pool.dispose();
  }, 60_000);

  it('refuses invalid bounds with clear errors', () => {
    expect(() => new DecoderPool({ ...SMALL, maxDecoders: 0 })).toThrow(/maxDecoders must be >= 1/);
    expect(() => new DecoderPool({ ...SMALL, acquireTimeoutMs: 0 })).toThrow(/acquireTimeoutMs/);
    expect(() => new DecoderPool({ ...SMALL, paths: { ...SMALL.paths, lm: '/nonexistent.lm' } })).toThrow(
      /pocketsphinx-en-us/,
    );
  });
});
