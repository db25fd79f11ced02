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

function chunkWords(text: string, options: ConstructorParameters<typeof SentenceChunker>[0]): string[] {
  const chunker = new SentenceChunker(options);
  const out: string[] = [];
  // Token by token as an LLM writes: each word with its trailing space.
  for (const token of text.match(/\S+\s*/g) ?? []) out.push(...chunker.push(token));
  const rest = chunker.flush();
  if (rest) out.push(rest);
  return out;
}

describe('SentenceChunker strategies', () => {
  const REPLY = 'Sure thing, the weather today is sunny and warm. Take a hat with you. Enjoy it!';

  it('streaming-input engines get the first clause early, then whole sentences', () => {
    expect(chunkWords(REPLY, { streamingInput: true })).toEqual([
      'Sure thing,',
      'the weather today is sunny and warm.',
      'Take a hat with you.',
      'Enjoy it!',
    ]);
  });

  it('without a clause boundary, the first chunk goes after four words', () => {
    const chunker = new SentenceChunker({ streamingInput: true });
    expect(chunker.push('The ')).toEqual([]);
    expect(chunker.push('weather ')).toEqual([]);
    expect(chunker.push('today ')).toEqual([]);
    expect(chunker.push('is ')).toEqual(['The weather today is']);
    expect(chunker.push('sunny ')).toEqual([]);
    expect(chunker.push('and warm. It ')).toEqual(['sunny and warm.']);
  });

  it('a short first sentence goes alone at once on a streaming engine ("Hi." is not held for more)', () => {
    expect(chunkWords('Hi. How can I help you today?', { streamingInput: true })).toEqual([
      'Hi.',
      'How can I help you today?',
    ]);
  });

  it('sentence-at-a-time engines keep sentences; a long first sentence is cut at a clause', () => {
    expect(chunkWords(REPLY, {})).toEqual([
      'Sure thing, the weather today is sunny and warm.',
      'Take a hat with you.',
      'Enjoy it!',
    ]);
    const long =
      'The train from the central station leaves every twenty minutes on weekdays, and on Sundays it runs ' +
      'once an hour from early morning. Check the board.';
    expect(chunkWords(long, {})).toEqual([
      'The train from the central station leaves every twenty minutes on weekdays,',
      'and on Sundays it runs once an hour from early morning.',
      'Check the board.',
    ]);
  });

  it('word strategy hands out every complete word', () => {
    expect(chunkWords('One two, three.', { strategy: 'word' })).toEqual(['One', 'two,', 'three.']);
  });

  it('every strategy keeps every word in order', () => {
    for (const strategy of ['sentence', 'first-clause', 'word'] as const) {
      const words = chunkWords(REPLY, { strategy }).join(' ').split(/\s+/);
      expect(words).toEqual(REPLY.split(/\s+/));
    }
  });
});
