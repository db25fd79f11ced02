import { describe, expect, it, vi } from 'vitest';
import type { ChatMessage } from '../llm/contract.ts';
import type { TurnDetector } from './contract.ts';
import { readInputMode } from './input-mode.ts';
import { loadNgramModel, NgramModelError } from './ngram-native.ts';
import { createTurnDetector, TURN_DETECTOR_SPECS } from './spec.ts';
import { tokenize } from './text-features.ts';

const history: ChatMessage[] = [];
const p = async (detector: TurnDetector, transcript: string, h: readonly ChatMessage[] = history) =>
  detector.endOfTurnProbability({ transcript, history: h });

describe('n-gram model binding', () => {
  it('scores a sentence end after a content word above one after an article', async () => {
    const model = await loadNgramModel();
    const done = model.sentenceEnd(tokenize('i would like to book a table'));
    const open = model.sentenceEnd(tokenize('i would like to book a'));
    expect(done.log10Prob).toBeGreaterThan(open.log10Prob + 1);
    expect(done.order).toBeGreaterThanOrEqual(2);
    expect(await loadNgramModel()).toBe(model); // one copy per process
  });

  it('backs off on an unknown last word instead of failing', async () => {
    const model = await loadNgramModel();
    const score = model.sentenceEnd(['my', 'name', 'is', 'zxqvbnm']);
    expect(score.lastWordUnknown).toBe(true);
    expect(score.order).toBe(1);
    expect(Number.isFinite(score.log10Prob)).toBe(true);
  });

  it('names the missing file and the Debian package', async () => {
    await expect(loadNgramModel('/nonexistent/en-us.lm.bin')).rejects.toThrow(NgramModelError);
    await expect(loadNgramModel('/nonexistent/en-us.lm.bin')).rejects.toThrow(/pocketsphinx-en-us/);
  });
});

describe('input modes', () => {
  it('holds while digits, spelling, an e-mail or an open list are dictated', () => {
    expect(readInputMode(tokenize('it is four seven two'))).toMatchObject({
      mode: 'digits',
      complete: false,
    });
    expect(readInputMode(tokenize('five five five one two three four five six seven')).complete).toBe(true);
    expect(readInputMode(tokenize('j o h'))).toMatchObject({ mode: 'spelling' });
    expect(readInputMode(tokenize('john dot smith at gmail'))).toMatchObject({
      mode: 'email',
      complete: false,
    });
    expect(readInputMode(tokenize('john dot smith at gmail dot com'))).toMatchObject({ complete: true });
    expect(readInputMode(tokenize('i need eggs milk bread'))).toMatchObject({
      mode: 'list',
      complete: false,
    });
    expect(readInputMode(tokenize('i need eggs milk and bread'))).toMatchObject({
      mode: 'list',
      complete: true,
    });
    expect(readInputMode(tokenize('what time do you open'))).toMatchObject({ mode: undefined });
  });

  it('knows the mode the agent asked for', () => {
    const reading = readInputMode(tokenize('four four'), 'What is your phone number?');
    expect(reading).toMatchObject({ mode: 'digits', prompted: true });
  });

  it('spells digits and addresses out as the language model writes them', () => {
    expect(tokenize('Call 0207, please.')).toEqual(['call', 'zero', 'two', 'zero', 'seven', 'please']);
    expect(tokenize('j.smith@example.org')).toEqual(['j', 'dot', 'smith', 'at', 'example', 'dot', 'org']);
  });
});

describe('createTurnDetector', () => {
  it('builds every spec but llm without deps, and refuses unknown ones clearly', () => {
    for (const spec of TURN_DETECTOR_SPECS.filter((s) => s !== 'llm')) {
      expect(createTurnDetector(spec).name).toBe(spec);
    }
    expect(() => createTurnDetector('llm')).toThrow(/llamaModel/);
    expect(() => createTurnDetector('magic')).toThrow(/unknown turn detector "magic".*combined/);
    expect(() => createTurnDetector('fixed:2')).toThrow(RangeError);
  });

  it('fixed is constant, wordlist is the old list', async () => {
    expect(await p(createTurnDetector('fixed:0.7'), 'i want to')).toBe(0.7);
    expect(await p(createTurnDetector('wordlist'), 'i want to')).toBeLessThan(0.5);
  });

  it('ngram and combined rank an unfinished phrase below a finished one', async () => {
    for (const spec of ['ngram', 'combined']) {
      const detector = createTurnDetector(spec);
      const open = await p(detector, 'i would like to book a');
      const done = await p(detector, 'i would like to book a table for two please');
      expect(done, spec).toBeGreaterThan(open);
      expect(open).toBeGreaterThan(0);
      expect(done).toBeLessThan(1);
    }
  });

  it('combined holds for a phone number in progress after the agent asked for it', async () => {
    const detector = createTurnDetector('combined');
    const asked: ChatMessage[] = [{ role: 'assistant', content: 'What is your phone number?' }];
    const midway = await p(detector, 'four one five', asked);
    const plain = await p(detector, 'yes that is fine thank you', asked);
    expect(midway).toBeLessThan(plain);
  });

  it('combined goes on without the n-gram model, saying so once', async () => {
    const warn = vi.fn();
    const detector = createTurnDetector('combined', { ngramModelPath: '/nonexistent/lm.bin', warn });
    const a = await p(detector, 'i would like to book a');
    const b = await p(detector, 'thank you very much');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/n-gram signal off/);
  });

  it('combined explains its signals and lets STT turn signals and punctuation move it', async () => {
    const detector = createTurnDetector('combined');
    const base = await detector.explain?.({ transcript: 'i think so', history });
    const endpointed = await detector.explain?.({
      transcript: 'i think so',
      history,
      stt: { endpointed: true, utteranceEnd: true, source: 'deepgram' },
    });
    const punctuated = await detector.explain?.({ transcript: 'I think so.', history });
    expect(base?.signals).toHaveProperty('ngramLog10End');
    expect(endpointed?.probability).toBeGreaterThan(base?.probability as number);
    expect(punctuated?.probability).toBeGreaterThan(base?.probability as number);
  });

  it('prosody: a falling end scores above a rising one', async () => {
    const detector = createTurnDetector('prosody');
    const falling = await detector.endOfTurnProbability({
      transcript: '',
      history,
      prosody: {
        pitchSlopeStPerSec: -15,
        finalPitchSt: -3,
        energyDecayDb: -6,
        finalLengthening: 1.3,
        voicedMs: 900,
      },
    });
    const rising = await detector.endOfTurnProbability({
      transcript: '',
      history,
      prosody: {
        pitchSlopeStPerSec: 12,
        finalPitchSt: 3,
        energyDecayDb: 0,
        finalLengthening: 0.8,
        voicedMs: 900,
      },
    });
    const none = await detector.endOfTurnProbability({ transcript: '', history });
    expect(falling).toBeGreaterThan(0.5);
    expect(rising).toBeLessThan(0.5);
    expect(none).toBe(0.5);
  });
});
