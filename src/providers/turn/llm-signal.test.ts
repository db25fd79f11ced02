import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSharedModel } from '../llm/llama-models.ts';
import { LlmEndOfTurn } from './llm-signal.ts';
import { createTurnDetector } from './spec.ts';

const STORIES = fileURLToPath(new URL('../../../test/fixtures/models/stories260K.gguf', import.meta.url));

// stories260K is a tiny story model, not an assistant: these tests check the mechanics (template split, KV reuse,
// budget, abort), never the quality of its judgement.
describe('LLM end-of-turn signal on the real stories260K model', () => {
  const signals: LlmEndOfTurn[] = [];
  const make = async (budgetMs = 10_000) => {
    const model = await loadSharedModel(STORIES);
    const signal = new LlmEndOfTurn({ model, threads: 1, contextSize: 256, budgetMs });
    signals.push(signal);
    return signal;
  };
  afterAll(async () => {
    await Promise.all(signals.map((s) => s.close()));
  });

  it('splits the templated prompt right after the transcript', async () => {
    const signal = await make();
    const { prefix, end } = signal.tokensFor('Lily went to the park', [
      { role: 'assistant', content: 'Where did she go?' },
    ]);
    const model = await loadSharedModel(STORIES);
    const text = model.detokenize(prefix);
    expect(text.trimEnd().endsWith('Lily went to the park')).toBe(true);
    expect(text).toContain('Where did she go?');
    expect(typeof end).toBe('number');
  });

  it('gives a probability that depends on the words, the same for the same words', async () => {
    const signal = await make();
    const history = [{ role: 'assistant' as const, content: 'Tell me a story.' }];
    const a = await signal.probability({ transcript: 'Once upon a time there was a', history });
    const b = await signal.probability({ transcript: 'Once upon a time there was a girl.', history });
    const again = await signal.probability({ transcript: 'Once upon a time there was a', history });
    for (const v of [a, b, again]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(a).not.toBe(b);
    expect(again).toBeCloseTo(a as number, 5); // KV reuse gives the same answer as a fresh evaluation
  });

  it('gives no answer when aborted, closed or over its budget', async () => {
    const signal = await make(0);
    const history: never[] = [];
    expect(await signal.probability({ transcript: 'hello there', history })).toBeUndefined();
    const abort = new AbortController();
    abort.abort();
    const roomy = await make();
    expect(await roomy.probability({ transcript: 'hi', history, signal: abort.signal })).toBeUndefined();
    await roomy.close();
    expect(await roomy.probability({ transcript: 'hi', history })).toBeUndefined();
  });

  it('plugs into combined and llm specs', async () => {
    const llamaModel = await loadSharedModel(STORIES);
    const llm = createTurnDetector('llm', {
      llamaModel,
      llm: { threads: 1, contextSize: 256, budgetMs: 10_000 },
    });
    const combined = createTurnDetector('combined', {
      llamaModel,
      llm: { threads: 1, contextSize: 256, budgetMs: 10_000 },
    });
    const input = { transcript: 'the cat sat on the mat', history: [] };
    const alone = await llm.endOfTurnProbability(input);
    const together = await combined.explain?.(input);
    expect(alone).toBeGreaterThanOrEqual(0);
    expect(together?.signals.llm).toBeCloseTo(alone, 5);
    await llm.close?.();
    await combined.close?.();
  });
});
