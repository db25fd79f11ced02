import { describe, expect, it } from 'vitest';
import type { ChatRequest, LLM, LlmChunk } from '../providers/llm/contract.ts';
import type { ScriptedLlm } from '../providers/llm/scripted.ts';
import { timeline } from './timeline.testkit.ts';

const NOTICE =
  'No language model is configured, so I cannot answer yet. Run the pull command to download one.';

/** Passes the scripted LLM's stream through and says it stopped at the token limit, as llama.cpp reports it. */
const truncatedAtLimit = (inner: ScriptedLlm): LLM => ({
  name: 'truncating',
  async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    for await (const chunk of inner.chat(request)) {
      if (chunk.type === 'usage') yield { ...chunk, truncated: true };
      else yield chunk;
    }
    yield { type: 'usage', promptTokens: 0, completionTokens: 0, truncated: true };
  },
});

describe('no LLM configured: one notice, said in full', () => {
  it('the notice plays to its end while the user talks over it, and that turn is answered by it (once)', async () => {
    const t = timeline({
      user: [{ startMs: 1000, endMs: 2200, text: 'Hello are you there?' }],
      reply: () => 'never asked',
      session: { llmUnavailableNotice: NOTICE, preemptiveGeneration: true },
    });
    await t.start();
    await t.runUntil(20_000);
    expect(t.errors).toEqual([]);
    expect(t.llm.requests).toHaveLength(0);
    const ended = t.log
      .filter((e) => e.event === 'speechEnded')
      .map((e) => e.payload as { outcome: string; heardText: string });
    expect(ended).toEqual([{ ...ended[0], outcome: 'completed', heardText: NOTICE }]);
    expect(t.log.some((e) => e.event === 'interruption')).toBe(false);
    // The user's words are kept; the notice is in the history once.
    const history = t.history();
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['Hello are you there?']);
    expect(history.filter((m) => m.role === 'assistant').map((m) => m.content)).toEqual([NOTICE]);
  });

  it('a typed turn and a spoken turn after the notice each get the notice once, in full, never an error', async () => {
    const t = timeline({
      user: [{ startMs: 16_000, endMs: 17_000, text: 'Can you hear me now?' }],
      reply: () => 'never asked',
      session: { llmUnavailableNotice: NOTICE },
    });
    await t.start();
    await t.runUntil(9_000);
    t.session.sendText('What is the weather?');
    await t.runUntil(40_000);
    expect(t.errors).toEqual([]);
    expect(t.llm.requests).toHaveLength(0);
    const ended = t.log
      .filter((e) => e.event === 'speechEnded')
      .map((e) => e.payload as { outcome: string; heardText: string });
    expect(ended.map((e) => [e.outcome, e.heardText])).toEqual([
      ['completed', NOTICE], // at start
      ['completed', NOTICE], // the typed turn
      ['completed', NOTICE], // the spoken turn
    ]);
    expect(t.metrics.map((m) => [m.turnId, m.outcome])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
  });
});

describe('replies shaped for voice', () => {
  const LONG = 'First point here. Second point here. Third point here. Fourth point here. Fifth point here.';

  it('the sentence budget ends a reply at a sentence and stops the LLM; the history keeps what was said', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Tell me everything.' }],
      reply: () => LONG,
      llm: { tokensPerSecond: 20 },
      session: { maxReplySentences: 3 },
    });
    await t.start();
    await t.runUntil(12_000);
    expect(t.errors).toEqual([]);
    const said = 'First point here. Second point here. Third point here.';
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', agentText: said });
    expect(t.history().at(-1)).toEqual({ role: 'assistant', content: said });
    expect(t.tts.segmentsSynthesized.join(' ')).not.toContain('Fourth');
  });

  it("the reply's text comes out sentence by sentence as each one starts playing, not after the reply", async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Tell me two things.' }],
      reply: () => 'The first thing is short. The second thing comes after it.',
      llm: { tokensPerSecond: 20 },
    });
    const texts: { text: string; atMs: number }[] = [];
    t.session.on('agentText', ({ text, atMs }) => texts.push({ text, atMs }));
    await t.start();
    await t.runUntil(15_000);
    expect(texts.map((e) => e.text)).toEqual([
      'The first thing is short.',
      'The second thing comes after it.',
    ]);
    const ended = t.log.find((e) => e.event === 'speechEnded')!.payload as { atMs: number };
    const firstPlayed = t.output.played[0].startMs;
    // Each sentence when its audio starts: the first with the first audio, the second well before the end.
    expect(texts[0].atMs).toBeLessThanOrEqual(firstPlayed + 100);
    expect(texts[1].atMs).toBeGreaterThan(texts[0].atMs + 500);
    expect(texts[1].atMs).toBeLessThan(ended.atMs - 500);
  });

  it('a reply stopped by the token limit ends at its last whole sentence, not mid-word', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Tell me a story.' }],
      reply: () => 'The fox ran to the river. It drank and then it saw a bea',
      wrapLlm: (llm) => truncatedAtLimit(llm),
    });
    await t.start();
    await t.runUntil(10_000);
    expect(t.errors).toEqual([]);
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', agentText: 'The fox ran to the river.' });
    expect(t.history().at(-1)).toEqual({ role: 'assistant', content: 'The fox ran to the river.' });
  });
});
