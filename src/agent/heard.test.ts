import { describe, expect, it } from 'vitest';
import { heardText } from './heard.ts';

/** One segment of 16 kHz audio, 1 s long, cut 450 ms in. */
const base = {
  texts: ['Hello there my good friend.'],
  samples: [16_000],
  steps: [0],
  step: 0,
  playedSamples: 7_200,
};

describe('heardText', () => {
  it('without word timings, a cut segment is heard in proportion to its text', () => {
    expect(heardText(base)).toBe('Hello there');
  });

  it("with the engine's word timings, a cut segment is heard up to its last word that ended", () => {
    // The first words are drawn out: only one of them ended by 450 ms, whatever the text's share says.
    const words = [
      { word: 'Hello', startMs: 0, endMs: 300 },
      { word: 'there', startMs: 320, endMs: 640 },
      { word: 'my', startMs: 660, endMs: 760 },
      { word: 'good', startMs: 780, endMs: 880 },
      { word: 'friend.', startMs: 900, endMs: 990 },
    ];
    expect(heardText({ ...base, words: [words], sampleRates: [16_000] })).toBe('Hello');
    // A 320 ms lead-in trimmed off the segment: what played is later in the engine's timeline.
    const trimmed = heardText({ ...base, words: [words], sampleRates: [16_000], trimmedMs: [320] });
    expect(trimmed).toBe('Hello there my');
    // Played out whole: every word, as before.
    expect(heardText({ ...base, playedSamples: 16_000, words: [words], sampleRates: [16_000] })).toBe(
      base.texts[0],
    );
  });
});
