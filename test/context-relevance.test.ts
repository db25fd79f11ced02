import { describe, expect, it } from 'vitest';
import { timeline } from '../src/agent/timeline.testkit.ts';
import { DEFAULT_SUMMARY_PROMPT } from '../src/context/policy.ts';
import { MessageTokens, tiktokenCounter } from '../src/context/tokens.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import type { ScriptedReply } from '../src/providers/llm/scripted.ts';

const TURNS = 200;
const ASK_AT = 190;
const POLICY = {
  maxTokens: 800,
  summarizeAtTokens: 600,
  summarizeToTokens: 300,
  summaryMaxTokens: 100,
  keepTurns: 2,
};
const RECALL_TOKENS = 150;
const FACT = 'The budget for the offsite is forty two thousand euros, approved by Marta.';
const QUESTION = 'What was the budget figure I gave you at the start for the offsite?';
const REPLY =
  'Here is a short answer about that: topics like this one are interesting, and there is more to say.';

function userText(turn: number): string {
  if (turn === 3) return FACT;
  if (turn === ASK_AT) return QUESTION;
  return `Turn ${turn}: tell me one thing about topic number ${turn}, in a sentence or two, please.`;
}

const isSummaryRequest = (messages: readonly ChatMessage[]) =>
  messages[0]?.content === DEFAULT_SUMMARY_PROMPT;

function reply(messages: readonly ChatMessage[]): ScriptedReply | string {
  if (isSummaryRequest(messages)) {
    // A summariser that keeps only how far the conversation went: the figure is summarised away.
    const last = [...messages[1].content.matchAll(/^User: Turn (\d+)/gm)].at(-1)?.[1] ?? '?';
    return { text: `The user asked about many topics, up to turn ${last}.`, ttftMs: 2000 };
  }
  return REPLY;
}

async function converse(recallTokens: number) {
  const t = timeline({
    user: [],
    reply,
    tts: { msPerCharacter: 5 },
    session: { context: { ...POLICY, recallTokens }, instructions: 'You are a helpful voice assistant.' },
  });
  await t.start();
  for (let turn = 1; turn <= TURNS; turn++) {
    t.session.sendText(userText(turn));
    while (t.metrics.length < turn) await t.clock.advance(50);
    await t.clock.advance(500);
  }
  await t.session.close();
  expect(t.errors).toEqual([]);
  expect(t.metrics).toHaveLength(TURNS);
  const replies = t.llm.requests.filter((r) => !isSummaryRequest(r.messages));
  const asked = replies.find((r) => r.messages.at(-1)?.content === QUESTION);
  if (!asked) throw new Error('no request for the question turn');
  return { t, replies, asked: asked.messages };
}

describe('relevance-scored context', () => {
  it('keeps a turn-3 fact verbatim at turn 190 within the same budget; recency alone loses it', async () => {
    const counter = new MessageTokens(await tiktokenCounter('cl100k_base'));
    const recency = await converse(0);
    const relevance = await converse(RECALL_TOKENS);
    for (const run of [recency, relevance]) {
      for (const m of run.t.metrics) expect(m.contextTokens).toBeLessThanOrEqual(POLICY.maxTokens);
      for (const r of run.replies) {
        const sent = r.messages.reduce((n, m) => n + counter.count(m), counter.counter.promptOverheadTokens);
        expect(sent).toBeLessThanOrEqual(POLICY.maxTokens);
      }
      // Summaries stay the fallback for everything else.
      expect(run.asked[0].content).toContain('Summary of the earlier conversation:');
    }
    const hasFact = (messages: ChatMessage[]) =>
      messages.some((m) => m.content.includes('forty two thousand'));
    expect(hasFact(recency.asked)).toBe(false);
    expect(hasFact(relevance.asked)).toBe(true);
    // Verbatim, as the user said it, and before the recent turns (history order).
    const at = relevance.asked.findIndex((m) => m.content === FACT);
    expect(at).toBeGreaterThan(0);
    expect(relevance.asked[at].role).toBe('user');
    expect(relevance.asked.at(-1)?.content).toBe(QUESTION);
    // A turn unrelated to the fact does not drag it in: recall follows the question.
    const plain = relevance.replies.find((r) => r.messages.at(-1)?.content === userText(150));
    expect(plain && hasFact(plain.messages)).toBe(false);
  }, 180_000);
});
