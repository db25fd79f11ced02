import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { timeline } from '../src/agent/timeline.testkit.ts';
import type { SummaryEvent } from '../src/context/manager.ts';
import { DEFAULT_SUMMARY_PROMPT } from '../src/context/policy.ts';
import { MessageTokens, tiktokenCounter } from '../src/context/tokens.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import type { ScriptedReply } from '../src/providers/llm/scripted.ts';
import { defineTool } from '../src/tools/tool.ts';

const TURNS = 200;
const POLICY = {
  maxTokens: 800,
  summarizeAtTokens: 600,
  summarizeToTokens: 300,
  summaryMaxTokens: 120,
  keepTurns: 2,
  toolOutputMaxTokens: 60,
};
const SUMMARY_MS = 8000;
const FACT = "Remember: my sister's name is Zoe and she lives in Lisbon.";
const REPLY =
  'Here is a short answer about that: topics like this one are interesting, and there is more to say.';

function userText(turn: number): string {
  if (turn === 3) return FACT;
  if (turn === 120) return 'Remember: the meeting moved to Friday at ten.';
  if (turn % 20 === 7) return `Turn ${turn}: please look up the train times for today.`;
  return `Turn ${turn}: tell me one thing about topic number ${turn}, in a sentence or two, please.`;
}

const isSummaryRequest = (messages: readonly ChatMessage[]) =>
  messages[0]?.content === DEFAULT_SUMMARY_PROMPT;

/**
 * A deterministic summariser: it keeps every "Remember:" fact (the previous summary's and the new part's) and
 * notes how far the conversation went. It takes SUMMARY_MS, so several turns happen while it works.
 */
function summaryReply(messages: readonly ChatMessage[]): ScriptedReply {
  const request = messages[1].content;
  const previous = /^Summary so far: (.*)$/m.exec(request)?.[1] ?? '';
  const facts =
    previous === '(none yet)' ? [] : previous.split(' | ').filter((f) => !f.startsWith('Covered'));
  for (const [, fact] of request.matchAll(/^User: Remember: (.*)$/gm)) facts.push(fact);
  const last = [...request.matchAll(/^User: Turn (\d+)/gm)].at(-1)?.[1] ?? '?';
  const text = [...facts, `Covered up to turn ${last}.`].join(' | ');
  return { text, ttftMs: SUMMARY_MS, tokensPerSecond: Number.POSITIVE_INFINITY };
}

function reply(messages: readonly ChatMessage[]): ScriptedReply | string {
  if (isSummaryRequest(messages)) return summaryReply(messages);
  const last = messages.at(-1);
  if (last?.role === 'tool') return 'The next train leaves at nine fifteen.';
  const user = last?.content ?? '';
  if (user.includes('look up')) {
    const id = `call_${user.split(':')[0].replace(/\D/g, '')}`;
    return { toolCalls: [{ id, name: 'trainTimes', arguments: '{"day":"today"}' }] };
  }
  return REPLY;
}

describe('context over a long conversation', () => {
  it('200 turns stay under budget, summaries never delay a reply, and a turn-3 fact survives', async () => {
    const trainTimes = defineTool({
      name: 'trainTimes',
      description: 'Train departures for a day',
      parameters: z.object({ day: z.string() }),
      execute: async () =>
        Array.from({ length: 40 }, (_, i) => `${String(6 + (i >> 2)).padStart(2, '0')}:${(i % 4) * 15}`).join(
          ', ',
        ),
    });
    const t = timeline({
      user: [],
      reply,
      tts: { msPerCharacter: 20 },
      session: { context: POLICY, tools: [trainTimes], instructions: 'You are a helpful voice assistant.' },
    });
    const summaries: SummaryEvent[] = [];
    t.session.on('summary', (e) => summaries.push(e));
    await t.start();
    const commits: number[] = [];
    for (let turn = 1; turn <= TURNS; turn++) {
      commits.push(t.clock.now());
      t.session.sendText(userText(turn));
      if (turn % 25 === 0) {
        // The user talks over the reply: the next turn starts while this one is playing.
        while (t.session.state !== 'speaking') await t.clock.advance(20);
        await t.clock.advance(500);
        continue;
      }
      while (t.metrics.length < turn) await t.clock.advance(50);
      await t.clock.advance(1000); // the user thinks and speaks
    }
    await t.session.close();
    expect(t.errors).toEqual([]);
    expect(t.metrics).toHaveLength(TURNS);

    // Under budget at every turn, by the session's count and by a count of what the LLM was really sent.
    const counter = new MessageTokens(await tiktokenCounter('cl100k_base'));
    const replies = t.llm.requests.filter((r) => !isSummaryRequest(r.messages));
    for (const m of t.metrics) expect(m.contextTokens).toBeLessThanOrEqual(POLICY.maxTokens);
    for (const r of replies) {
      const sent = r.messages.reduce((n, m) => n + counter.count(m), counter.counter.promptOverheadTokens);
      // A reply's tool rounds add the call and its result to the prompt of the round after it.
      const toolRound = r.messages.at(-1)?.role === 'tool';
      if (!toolRound) expect(sent).toBeLessThanOrEqual(POLICY.maxTokens);
      // A tool result is never sent without the call it answers.
      r.messages.forEach((m, i) => {
        if (m.role !== 'tool') return;
        const calls = r.messages.slice(0, i).flatMap((p) => p.toolCalls ?? []);
        expect(calls.map((c) => c.id)).toContain(m.toolCallId);
      });
    }
    const history = t.session.history.toMessages();
    const whole = history.reduce((n, m) => n + counter.count(m), 0);
    expect(whole).toBeGreaterThan(POLICY.maxTokens * 10);
    expect(summaries.length).toBeGreaterThan(10);
    expect(t.metrics.at(-1)?.summarizedMessages).toBeGreaterThan(history.length * 0.8);
    expect(t.metrics.filter((m) => m.summarizeMs !== null).every((m) => m.summarizeMs === SUMMARY_MS)).toBe(
      true,
    );
    // Interrupted replies hold only what was heard.
    const cut = history.filter((m) => m.interrupted);
    expect(cut.length).toBeGreaterThanOrEqual(7);
    for (const m of cut) expect(REPLY.startsWith(m.content) && m.content.length < REPLY.length).toBe(true);

    // Turns whose reply was made while a summary was being written answer exactly as fast as the others.
    const summarizing = (at: number) => summaries.some((s) => at >= s.atMs - s.durationMs && at < s.atMs);
    // Plain question turns, not the ones that follow an interruption (they first wait for the cut reply to end).
    const plain = t.metrics.filter(
      (m) =>
        userText(m.turnId).startsWith('Turn') && !userText(m.turnId).includes('look') && m.turnId % 25 !== 1,
    );
    const during = plain.filter((m) => summarizing(commits[m.turnId - 1]));
    const outside = plain.filter((m) => !summarizing(commits[m.turnId - 1]));
    expect(during.length).toBeGreaterThan(20);
    expect(outside.length).toBeGreaterThan(20);
    const ttfts = new Set(plain.map((m) => m.llmTtftMs));
    expect([...ttfts]).toEqual([300]);
    const firstAudio = (list: typeof plain) => new Set(list.map((m) => m.voiceToVoiceMs));
    expect([...firstAudio(during)]).toEqual([...firstAudio(outside)]);

    // The fact from turn 3 is in the last prompt, through the summary only.
    const lastPrompt = replies.at(-1)?.messages ?? [];
    expect(lastPrompt[0].content).toContain("my sister's name is Zoe and she lives in Lisbon.");
    expect(lastPrompt[0].content).toContain('the meeting moved to Friday at ten.');
    expect(lastPrompt.some((m) => m.content === FACT)).toBe(false);
  });
});
