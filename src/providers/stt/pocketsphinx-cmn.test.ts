import { describe, expect, it } from 'vitest';
import { readWavFile } from '../../audio/wav.ts';
import { type Decoder, defaultModelPaths } from './pocketsphinx-native.ts';
import { DecoderPool } from './pocketsphinx-pool.ts';

// A decoder shared across sessions must not carry one speaker's live cepstral-mean estimate into the next
// speaker's utterance: clip B decoded after clip A (another speaker) must read exactly as from a fresh decoder.
const DATA = '/usr/share/pocketsphinx/test/data';
const CLIP_A = `${DATA}/cards/005.wav`; // a cards-test speaker, 3.5 s
const CLIP_B = `${DATA}/librivox/sense_and_sensibility_01_austen_64kb-0870.wav`; // LibriVox reader, 7 s

/** Feeds the clip in 100 ms blocks, as a live stream does (live CMN), and returns the settled text. */
async function decode(decoder: Decoder, samples: Int16Array): Promise<string> {
  for (let at = 0; at < samples.length; at += 1_600) await decoder.process(samples.subarray(at, at + 1_600));
  return decoder.finish();
}

function pool(): DecoderPool {
  return new DecoderPool({
    paths: defaultModelPaths(),
    args: ['-fwdflat', 'no', '-bestpath', 'no'],
    offThread: true,
    maxIdle: 1,
    maxDecoders: 1, // every acquire gets the same native decoder back
    maxWaiting: 1,
    acquireTimeoutMs: 60_000,
  });
}

describe('pocketsphinx decoder handed to another speaker', () => {
  it('resets the live CMN estimate to the model initial value: clip B after clip A reads as from a fresh decoder', async () => {
    const [a, b] = await Promise.all([readWavFile(CLIP_A), readWavFile(CLIP_B)]);
    const p = pool();
    const first = {};
    const fresh = await p.acquire(undefined, first);
    const init = fresh.cmnEstimate();
    expect(init).toBeDefined();
    const reference = await decode(fresh, b.samples);
    expect(reference.split(' ').length).toBeGreaterThan(5);
    p.release(fresh);

    const speakerA = {};
    const decoderA = await p.acquire(undefined, speakerA);
    expect(decoderA).toBe(fresh); // pooled, not reloaded
    expect(decoderA.cmnEstimate()).toEqual(init); // reset: it last heard another owner
    await decode(decoderA, a.samples);
    const afterA = decoderA.cmnEstimate() as Float32Array;
    expect(Math.abs(afterA[0] - (init as Float32Array)[0])).toBeGreaterThan(0.1); // A moved the estimate
    p.release(decoderA);

    // The same owner keeps its own estimate (it adapts to that speaker across utterances).
    const againA = await p.acquire(undefined, speakerA);
    expect(againA.cmnEstimate()).toEqual(afterA);
    const carried = await decode(againA, b.samples); // what B reads like without the reset
    p.release(againA);

    const decoderB = await p.acquire(undefined, {});
    expect(decoderB).toBe(fresh);
    expect(decoderB.cmnEstimate()).toEqual(init);
    expect(await decode(decoderB, b.samples)).toBe(reference);
    p.release(decoderB);
    console.info(`fresh: "${reference}"; after speaker A without a reset: "${carried}"`);
    p.dispose();
  }, 120_000);
});
