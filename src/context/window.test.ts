import { describe, expect, it } from 'vitest';
import type { ChatMessage, TokenCounter } from '../providers/llm/contract.ts';
import { ChatHistory } from './history.ts';
import { type ContextPolicyOptions, resolveContextPolicy } from './policy.ts';
import { MessageTokens } from './tokens.ts';
import { buildPrompt, DerivedMessages, planSummary, type SummaryState, type WindowInput } from './window.ts';

/** One token per word, one per message around it: easy to count by eye. */
const words: TokenCounter = {
  name: 'words',
  countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
  messageOverheadTokens: 1,
  promptOverheadTokens: 0,
};

function conversation(turns: number, wordsPerMessage = 9): ChatHistory {
  const history = new ChatHistory('be brief');
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
  for (let t = 1; t <= turns; t++) {
    history.append({ role: 'user', content: `u${t} ${filler(wordsPerMessage - 1)}` }, t);
    history.append({ role: 'assistant', content: `a${t} ${filler(wordsPerMessage - 1)}` }, t);
  }
  return history;
}

function input(
  history: ChatHistory,
  policy: Partial<ContextPolicyOptions> = {},
  summary?: SummaryState,
): WindowInput {
  return {
    items: history.messages,
    summary,
    policy: resolveContextPolicy({
      maxTokens: 1000,
      summarizeAtTokens: 800,
      summarizeToTokens: 400,
      summaryMaxTokens: 50,
      maxMessages: 200,
      summarizeAtMessages: 150,
      ...policy,
    }),
    tokens: new MessageTokens(words),
    derived: new DerivedMessages(),
  };
}

const firstWords = (messages: readonly ChatMessage[]) => messages.map((m) => m.content.split(' ')[0]);

describe('buildPrompt', () => {
  it('under budget, sends the whole history as plain messages and counts its tokens', () => {
    const history = conversation(3);
    const prompt = buildPrompt(input(history), { role: 'user', content: 'and now?' });
    expect(prompt.messages).toEqual([...history.toMessages(), { role: 'user', content: 'and now?' }]);
    // 2 + 6 * 10 + 3 (word tokens plus one per message)
    expect(prompt.stats).toMatchObject({
      contextTokens: 3 + 6 * 10 + 3,
      contextMessages: 8,
      summarizedMessages: 0,
      prunedMessages: 0,
      summaryId: null,
    });
  });

  it('puts the summary after the instructions and leaves out what it covers', () => {
    const history = conversation(4);
    const covered = history.messages[4]; // a2: turns 1 and 2 are summarised
    const summary: SummaryState = {
      id: 1,
      text: 'The user is Ada.',
      coveredUntilId: covered.id,
      messages: 4,
      durationMs: 1200,
    };
    const prompt = buildPrompt(input(history, {}, summary));
    expect(prompt.messages[0]).toEqual({
      role: 'system',
      content: 'be brief\n\nSummary of the earlier conversation: The user is Ada.',
    });
    expect(firstWords(prompt.messages.slice(1))).toEqual(['u3', 'a3', 'u4', 'a4']);
    expect(prompt.stats).toMatchObject({ summarizedMessages: 4, summaryId: 1, summaryDurationMs: 1200 });
    expect(prompt.stats.contextTokens).toBe(3 + 9 + 4 * 10);
  });

  it('over the token budget, drops the oldest whole turns and keeps the newest message', () => {
    const history = conversation(10);
    const prompt = buildPrompt(
      input(history, { maxTokens: 75, summarizeAtTokens: 70, summarizeToTokens: 60 }),
    );
    expect(prompt.stats.contextTokens).toBeLessThanOrEqual(75);
    expect(firstWords(prompt.messages)).toEqual(['be', 'u8', 'a8', 'u9', 'a9', 'u10', 'a10']);
    expect(prompt.stats.prunedMessages).toBe(14);
    expect(prompt.fullTokens).toBe(3 + 20 * 10);
  });

  it('drops down to the high watermark and keeps the cut where it is, so the prefix stays put', () => {
    const history = conversation(10);
    const policy = { maxTokens: 75, summarizeAtTokens: 50, summarizeToTokens: 40, summaryMaxTokens: 10 };
    const first = buildPrompt(input(history, policy));
    expect(firstWords(first.messages)).toEqual(['be', 'u9', 'a9', 'u10', 'a10']);
    expect(first.prunedUntilId).toBe(history.messages[16].id); // a8
    history.append({ role: 'user', content: 'u11 one more' }, 11);
    history.append({ role: 'assistant', content: 'a11 sure' }, 11);
    history.append({ role: 'user', content: 'u12 thanks' }, 12);
    const next = buildPrompt({ ...input(history, policy), prunedUntilId: first.prunedUntilId });
    expect(firstWords(next.messages)).toEqual(['be', 'u9', 'a9', 'u10', 'a10', 'u11', 'a11', 'u12']);
    expect(next.stats.contextTokens).toBe(53);
    expect(next.stats.prunedMessages).toBe(16);
    // Cutting afresh each turn would start elsewhere: a new prefix, prefilled again by a local model.
    expect(firstWords(buildPrompt(input(history, policy)).messages)[1]).toBe('u10');
    // A summary folds in at least everything already pruned.
    const plan = planSummary({
      ...input(history, { ...policy, keepTurns: 1, summarizeAtTokens: 60, summarizeToTokens: 50 }),
      prunedUntilId: first.prunedUntilId,
    });
    expect(plan?.fold.length).toBeGreaterThanOrEqual(16);
  });

  it('caps the messages after the instructions at maxMessages', () => {
    const history = conversation(10);
    const prompt = buildPrompt(input(history, { maxMessages: 5, summarizeAtMessages: 4 }));
    expect(firstWords(prompt.messages)).toEqual(['be', 'u9', 'a9', 'u10', 'a10']);
  });

  it('never separates a tool call from its result, even inside one long turn', () => {
    const history = new ChatHistory('be brief');
    history.append({ role: 'user', content: 'look it up' }, 0);
    for (let i = 0; i < 3; i++) {
      const call = { id: `c${i}`, name: 'lookup', arguments: '{"q":"x"}' };
      history.append({ role: 'assistant', content: '', toolCalls: [call] }, 0);
      history.append({ role: 'tool', toolCallId: call.id, content: 'r r r r r r r r r r' }, 0);
    }
    history.append({ role: 'assistant', content: 'done' }, 0);
    const prompt = buildPrompt(
      input(history, { maxTokens: 40, summarizeAtTokens: 30, summarizeToTokens: 20, summaryMaxTokens: 10 }),
    );
    const roles = prompt.messages.map((m) => m.role);
    expect(roles[1]).not.toBe('tool');
    prompt.messages.forEach((m, i) => {
      if (m.role === 'tool') expect(prompt.messages[i - 1].toolCalls?.[0]?.id).toBe(m.toolCallId);
    });
    expect(prompt.stats.contextTokens).toBeLessThanOrEqual(40);
    expect(prompt.messages.at(-1)?.content).toBe('done');
  });

  it('clips an oversized message of the kept turns to the budget, with a marker, keeping the turn whole', () => {
    const history = conversation(3);
    const huge = Array.from({ length: 3000 }, (_, i) => `line${i}`).join(' ');
    const call = { id: 'c1', name: 'docs_read', arguments: '{"path":"big.md"}' };
    history.append({ role: 'user', content: 'read the big document' }, 4);
    history.append({ role: 'assistant', content: '', toolCalls: [call] }, 4);
    history.append({ role: 'tool', toolCallId: 'c1', content: huge }, 4);
    const derived = new DerivedMessages();
    const prompt = buildPrompt({ ...input(history), derived });
    // The follow-up request after the tool call: within budget, the question, the call and its (clipped) result.
    expect(prompt.stats.contextTokens).toBeLessThanOrEqual(1000);
    expect(prompt.overLimit).toBe(false);
    expect(prompt.messages.slice(-3).map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(prompt.messages.at(-3)?.content).toBe('read the big document');
    expect(prompt.messages.at(-2)?.toolCalls).toEqual([call]);
    const tool = prompt.messages.at(-1);
    expect(tool?.toolCallId).toBe('c1');
    expect(tool?.content.startsWith('line0 line1 line2')).toBe(true);
    expect(tool?.content).toMatch(/\n…\[clipped to fit the context: 3000 tokens, showing the first \d+\]$/);
    expect(prompt.stats).toMatchObject({ clippedMessages: 1, prunedMessages: 1 });
    // The older turns still fit beside it; the same request again is the same prompt (a stable prefix).
    expect(firstWords(prompt.messages.slice(0, 7))).toEqual(['be', 'u1', 'a1', 'u2', 'a2', 'u3', 'a3']);
    const again = buildPrompt({ ...input(history), derived });
    expect(again.messages.at(-1)).toBe(tool);
    expect(again.stats.contextTokens).toBe(prompt.stats.contextTokens);

    // Answered, the turn is still kept verbatim on the next turn (keepTurns 2): clipped, not dropped.
    history.append({ role: 'assistant', content: 'It is long.' }, 5);
    const next = buildPrompt({ ...input(history), derived }, { role: 'user', content: 'what does it say?' });
    expect(next.stats.contextTokens).toBeLessThanOrEqual(1000);
    expect(next.messages.map((m) => m.role).slice(-5)).toEqual([
      'user',
      'assistant',
      'tool',
      'assistant',
      'user',
    ]);
    expect(next.stats.clippedMessages).toBe(1);
  });

  it('clips a pending message that alone is over the budget', () => {
    const history = conversation(2);
    const long = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(' ');
    const prompt = buildPrompt(input(history), { role: 'user', content: long });
    expect(prompt.stats.contextTokens).toBeLessThanOrEqual(1000);
    expect(prompt.messages.at(-1)?.content).toContain('[clipped to fit the context: 2000 tokens');
    expect(prompt.stats).toMatchObject({ clippedMessages: 1, prunedMessages: 0 });
  });

  it('shrinks large tool outputs of older turns to stubs once answered, never in the kept turns', () => {
    const history = new ChatHistory('be brief');
    const big = Array.from({ length: 300 }, (_, i) => `row${i}`).join(' ');
    const ask = (q: string, answered: boolean) => {
      const call = { id: q, name: 'search', arguments: '{}' };
      history.append({ role: 'user', content: q }, 0);
      history.append({ role: 'assistant', content: '', toolCalls: [call] }, 0);
      history.append({ role: 'tool', toolCallId: q, content: big }, 0);
      if (answered) history.append({ role: 'assistant', content: 'found it' }, 0);
    };
    ask('old', true);
    ask('recent', true);
    ask('latest', false); // interrupted while the tool ran: the LLM never saw its output
    const shrunk = (keepTurns: number) => {
      const prompt = buildPrompt(input(history, { keepTurns, toolOutputMaxTokens: 100 }));
      const tools = prompt.messages.filter((m) => m.role === 'tool');
      return { prompt, tools, stubs: tools.map((m) => m.content.startsWith('[Tool output shrunk')) };
    };
    const two = shrunk(2);
    expect(two.stubs).toEqual([true, false, false]);
    expect(two.tools[0].content).toContain('300 tokens that began "row0 row1');
    expect(two.tools[0].toolCallId).toBe('old');
    expect(two.prompt.stats.prunedMessages).toBe(1);
    expect(shrunk(0).stubs).toEqual([true, true, false]);
  });
});

describe('planSummary', () => {
  it('does nothing below the high watermark', () => {
    expect(planSummary(input(conversation(30)))).toBeUndefined(); // 603 tokens < 800
  });

  it('above it, folds the oldest whole turns down to the low watermark, never the kept turns', () => {
    const history = conversation(45); // 903 tokens
    const plan = planSummary(input(history, { keepTurns: 2 }));
    expect(plan).toBeDefined();
    const fold = plan?.fold ?? [];
    expect(fold[0].content.startsWith('u1 ')).toBe(true);
    expect(fold.at(-1)?.role).toBe('assistant');
    // 3 (instructions) + 50 (summary) + 5 (heading) + what is left must be at most 400: 17 turns stay.
    expect(fold.length).toBe(2 * 28);
    const noKeep = planSummary(
      input(conversation(3), { keepTurns: 2, summarizeAtMessages: 4, maxMessages: 8 }),
    );
    expect(noKeep?.fold.map((m) => m.content.split(' ')[0])).toEqual(['u1', 'a1']);
  });

  it('is off when summaries are disabled', () => {
    expect(planSummary(input(conversation(45), { summarize: false }))).toBeUndefined();
  });
});
