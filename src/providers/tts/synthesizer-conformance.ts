/**
 * The behaviour every `SentenceSynthesizer` owes the pipeline, as a Vitest suite each engine's test file runs
 * against its own factory (a test helper, imported only from `*.test.ts`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { concatSamples } from '../../audio/frame.ts';
import { peak, rmsDbfs } from '../../audio/level.ts';
import type { SentenceSynthesizer } from './contract.ts';
import { sentenceTts } from './sentence-adapter.ts';

const SENTENCE = 'The birch canoe slid on the smooth planks.';
const OTHER =
  'Glue the sheet to the dark blue background, and then let it dry overnight in the warm kitchen.';
/** Long enough that synthesis is still running when the test aborts it. */
const LONG_TEXT = Array.from({ length: 8 }, () => `${SENTENCE} ${OTHER}`).join(' ');
/** Abort must end the iteration within this, whatever the engine is doing. */
const PROMPT_STOP_MS = 100;

async function collect(
  synthesizer: SentenceSynthesizer,
  text: string,
  signal = new AbortController().signal,
) {
  const chunks: Int16Array[] = [];
  for await (const chunk of synthesizer.synthesize(text, signal)) {
    expect(chunk).toBeInstanceOf(Int16Array);
    chunks.push(chunk);
  }
  return concatSamples(chunks);
}

const seconds = (samples: Int16Array, synthesizer: SentenceSynthesizer) =>
  samples.length / synthesizer.sampleRate;

export function describeSentenceSynthesizer(label: string, create: () => SentenceSynthesizer): void {
  describe(`${label} (SentenceSynthesizer conformance)`, () => {
    const synthesizer = create();
    afterAll(() => synthesizer.close?.());

    it('speaks a sentence: audible, plausible length at its declared rate', async () => {
      await synthesizer.prewarm?.();
      const samples = await collect(synthesizer, SENTENCE);
      // ~2.5 s of speech: a wrong declared rate (8 vs 16 vs 22.05 kHz) lands outside this window.
      expect(seconds(samples, synthesizer)).toBeGreaterThan(1.5);
      expect(seconds(samples, synthesizer)).toBeLessThan(4.5);
      expect(peak(samples)).toBeGreaterThan(3000);
      expect(rmsDbfs(samples)).toBeGreaterThan(-35);
    });

    it('stops promptly when aborted after its first audio, and stays usable', async () => {
      const controller = new AbortController();
      let received = 0;
      let abortedAt = 0;
      for await (const chunk of synthesizer.synthesize(LONG_TEXT, controller.signal)) {
        received += chunk.length;
        if (!abortedAt) {
          abortedAt = performance.now();
          controller.abort();
        }
      }
      expect(performance.now() - abortedAt).toBeLessThan(PROMPT_STOP_MS);
      expect(received / synthesizer.sampleRate).toBeLessThan(20); // the whole text is ~40-55 s
      const next = await collect(synthesizer, SENTENCE);
      expect(seconds(next, synthesizer)).toBeGreaterThan(1.5);
    });

    it('stops promptly when aborted before any audio, and stays usable', async () => {
      const controller = new AbortController();
      const started = performance.now();
      setTimeout(() => controller.abort(), 1);
      const samples = await collect(synthesizer, LONG_TEXT, controller.signal);
      expect(performance.now() - started).toBeLessThan(PROMPT_STOP_MS);
      expect(seconds(samples, synthesizer)).toBeLessThan(20);
      const next = await collect(synthesizer, SENTENCE);
      expect(seconds(next, synthesizer)).toBeGreaterThan(1.5);
    });

    it('keeps concurrent calls apart', async () => {
      const soloShort = seconds(await collect(synthesizer, SENTENCE), synthesizer);
      const soloLong = seconds(await collect(synthesizer, OTHER), synthesizer);
      const [short, long] = await Promise.all([collect(synthesizer, SENTENCE), collect(synthesizer, OTHER)]);
      // Some engines vary slightly run to run (espeak-ng's pitch jitter); mixed-up streams would be far off.
      expect(Math.abs(seconds(short, synthesizer) - soloShort) / soloShort).toBeLessThan(0.05);
      expect(Math.abs(seconds(long, synthesizer) - soloLong) / soloLong).toBeLessThan(0.05);
    });

    it('streams through sentenceTts: segment 0 plays before segment 1 is written', async () => {
      const tts = sentenceTts(synthesizer);
      const stream = tts.stream({ signal: new AbortController().signal });
      const iterator = stream[Symbol.asyncIterator]();
      stream.pushText('The birch canoe ');
      stream.pushText('slid on the smooth planks.');
      stream.flush();
      const first = await iterator.next();
      expect(first.done).toBe(false);
      expect(first.value.segment).toBe(0);
      expect(first.value.frame.sampleRate).toBe(synthesizer.sampleRate);
      stream.pushText(OTHER);
      stream.end();
      const segments = [first.value.segment];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) segments.push(r.value.segment);
      expect(segments.at(-1)).toBe(1);
      expect(segments.indexOf(1)).toBeGreaterThan(segments.lastIndexOf(0));
    });
  });
}
