import { describe, expect, it } from 'vitest';
import { SentenceChunker } from './chunker.ts';
import { heardText } from './heard.ts';

function chunkAll(text: string, pieceSize = 3): string[] {
  const chunker = new SentenceChunker();
  const out: string[] = [];
  for (let i = 0; i < text.length; i += pieceSize) out.push(...chunker.push(text.slice(i, i + pieceSize)));
  const rest = chunker.flush();
  if (rest) out.push(rest);
  return out;
}

describe('SentenceChunker', () => {
  it('cuts streamed text at sentence ends', () => {
    expect(chunkAll('The sky is blue today. It might rain later! Do you need an umbrella?')).toEqual([
      'The sky is blue today.',
      'It might rain later!',
      'Do you need an umbrella?',
    ]);
  });

  it('does not split decimals, abbreviations, or very short sentences', () => {
    expect(chunkAll('It costs 3.50 dollars, said Dr. Smith. Ok. That is all for now.')).toEqual([
      'It costs 3.50 dollars, said Dr. Smith.',
      'Ok. That is all for now.',
    ]);
  });

  it('emits a sentence as soon as the next word starts, not at the end of the reply', () => {
    const chunker = new SentenceChunker();
    expect(chunker.push('Hello there, friend.')).toEqual([]);
    expect(chunker.push(' How')).toEqual(['Hello there, friend.']);
  });

  it('splits a run-on sentence at a clause boundary', () => {
    const long = `${'word '.repeat(40)}and then, ${'more '.repeat(30)}`;
    const chunker = new SentenceChunker({ maxSentenceChars: 120 });
    const out = chunker.push(long);
    expect(out.length).toBeGreaterThan(0);
    expect(out[0].length).toBeLessThanOrEqual(120);
  });
});

describe('heardText', () => {
  const texts = ['First sentence here.', 'Second one is longer than that.'];
  const samples = [1000, 2000];
  it('returns whole segments played and cuts the partial one at a word boundary', () => {
    const steps = [0, 0];
    expect(heardText({ texts, samples, steps, step: 0, playedSamples: 3000 })).toBe(
      'First sentence here. Second one is longer than that.',
    );
    expect(heardText({ texts, samples, steps, step: 0, playedSamples: 1000 })).toBe('First sentence here.');
    expect(heardText({ texts, samples, steps, step: 0, playedSamples: 2000 })).toBe(
      'First sentence here. Second one is',
    );
    expect(heardText({ texts, samples, steps, step: 0, playedSamples: 1010 })).toBe('First sentence here.');
    expect(heardText({ texts, samples, steps, step: 0, playedSamples: 0 })).toBe('');
  });
});
