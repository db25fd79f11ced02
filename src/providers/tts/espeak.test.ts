import { describe, expect, it } from 'vitest';
import { TtsEngineUnavailableError } from './engine-util.ts';
import { ESPEAK_SAMPLE_RATE, EspeakSynthesizer } from './espeak.ts';
import { describeSentenceSynthesizer } from './synthesizer-conformance.ts';

describeSentenceSynthesizer('espeak-ng en-us', () => new EspeakSynthesizer());

describe('EspeakSynthesizer options', () => {
  it('runs at 22.05 kHz', () => {
    expect(new EspeakSynthesizer().sampleRate).toBe(ESPEAK_SAMPLE_RATE);
  });

  it('names the missing voice and its package, then keeps working', async () => {
    const missing = new EspeakSynthesizer({ voice: 'xx-nonexistent' });
    const run = async () => {
      for await (const _ of missing.synthesize('Hello.', new AbortController().signal)) {
      }
    };
    await expect(run()).rejects.toThrow(TtsEngineUnavailableError);
    await expect(run()).rejects.toThrow(/xx-nonexistent.*espeak-ng-data/);
    let n = 0;
    for await (const c of new EspeakSynthesizer().synthesize('Hello.', new AbortController().signal))
      n += c.length;
    expect(n).toBeGreaterThan(ESPEAK_SAMPLE_RATE * 0.2);
  });

  it('refuses a rate outside 80-450 words per minute', () => {
    expect(() => new EspeakSynthesizer({ wordsPerMinute: 20 })).toThrow(RangeError);
  });
});
