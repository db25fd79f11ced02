import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../metrics/clock.ts';
import type { ChatMessage, ChatRequest, LLM, LlmChunk, TokenCounter } from '../providers/llm/contract.ts';
import { FallbackLlm } from '../providers/llm/fallback.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import { ChatHistory } from './history.ts';
import { ContextManager, type ContextManagerOptions, type SummaryEvent } from './manager.ts';
import { ContextPolicyError } from './policy.ts';

const words: TokenCounter = {
  name: 'words',
  countTokens: (text) => text.split(/\s+/).filter(Boolean).length,
  messageOverheadTokens: 1,
  promptOverheadTokens: 0,
};

const POLICY = {
  maxTokens: 300,
  summarizeAtTokens: 200,
  summarizeToTokens: 100,
  summaryMaxTokens: 30,
  keepTurns: 1,
};

function fill(history: ChatHistory, from: number, to: number): void {
  for (let t = from; t <= to; t++) {
    history.append({ role: 'user', content: `turn ${t} ${'x '.repeat(7)}` }, t);
    history.append({ role: 'assistant', content: `reply ${t} ${'y '.repeat(7)}` }, t);
  }
}

const isSummaryRequest = (messages: readonly ChatMessage[]) =>
  messages[0]?.content.startsWith('You keep a running summary');

function setup(options: Partial<ContextManagerOptions> & { summaryMs?: number; summary?: string } = {}) {
  const clock = new VirtualClock();
  const llm = new ScriptedLlm({
    clock,
    reply: (messages) =>
      isSummaryRequest(messages)
        ? { text: options.summary ?? 'The user counted turns.', ttftMs: options.summaryMs ?? 1000 }
        : 'ok',
  });
  Object.assign(llm, { tokenCounter: async () => words });
  const summaries: SummaryEvent[] = [];
  const errors: Error[] = [];
  const context = new ContextManager({
    llm,
    clock,
    policy: POLICY,
    onSummary: (e) => summaries.push(e),
    onError: (e) => errors.push(e),
    ...options,
  });
  return { clock, llm, context, summaries, errors, history: new ChatHistory('be brief') };
}

describe('ContextManager', () => {
  it('summarises in the background; prompts use the last finished summary and never wait', async () => {
    const { clock, llm, context, summaries, errors, history } = setup();
    await context.prepare();
    expect(context.tokenizerName).toBe('words');
    fill(history, 1, 11); // 3 + 22 * 10 = 223 tokens: over the high watermark
    context.maybeSummarize(history.messages);
    expect(context.isSummarizing).toBe(true);
    const during = context.prompt(history.messages, { role: 'user', content: 'next' });
    expect(during.stats.summaryId).toBeNull();
    expect(during.messages).toHaveLength(1 + 22 + 1);
    context.maybeSummarize(history.messages); // one at a time
    await clock.advance(999);
    expect(summaries).toEqual([]);
    await clock.advance(1);
    expect(context.isSummarizing).toBe(false);
    expect(errors).toEqual([]);
    expect(llm.requests.filter((r) => isSummaryRequest(r.messages))).toHaveLength(1);
    const request = llm.requests[0].messages[1].content;
    expect(request).toContain('Summary so far: (none yet)');
    expect(request).toContain('User: turn 1 x');
    expect(request).not.toContain('turn 11'); // the last turn is kept verbatim
    expect(summaries[0]).toMatchObject({ id: 1, summary: 'The user counted turns.', durationMs: 1000 });
    expect(context.latestSummary?.id).toBe(1);
    // Under budget the prompt stays as it is: swapping the summary in now would rewrite its prefix for nothing.
    expect(context.prompt(history.messages).stats.summaryId).toBeNull();
    fill(history, 12, 19); // 303 tokens: over the budget, so the summary goes in instead of a cut
    const after = context.prompt(history.messages);
    expect(after.messages[0].content).toBe(
      'be brief\n\nSummary of the earlier conversation: The user counted turns.',
    );
    expect(after.stats.contextTokens).toBeLessThanOrEqual(POLICY.maxTokens);
    expect(after.stats.prunedMessages).toBe(0);
    expect(after.stats.summarizedMessages).toBe(summaries[0].foldedMessages);
    expect(after.messages[1].content).toContain(`turn ${summaries[0].foldedMessages / 2 + 1} `);
    expect(after.messages.at(-1)?.content).toContain('reply 19');
    // summarizeMs is reported on the first turn that uses the summary only.
    expect(context.turnMetrics(after.stats).summarizeMs).toBe(1000);
    expect(context.turnMetrics(after.stats).summarizeMs).toBeNull();
  });

  it('folds the previous summary into the next one', async () => {
    const { clock, llm, context, summaries, history } = setup();
    await context.prepare();
    fill(history, 1, 11);
    context.maybeSummarize(history.messages);
    await clock.advance(1000);
    fill(history, 12, 30);
    context.prompt(history.messages); // over budget: the first summary goes into use
    context.maybeSummarize(history.messages);
    await clock.advance(1000);
    expect(summaries.map((s) => s.id)).toEqual([1, 2]);
    const second = llm.requests.filter((r) => isSummaryRequest(r.messages))[1].messages[1].content;
    expect(second).toContain('Summary so far: The user counted turns.');
    expect(second).not.toContain('User: turn 1 ');
    fill(history, 31, 40);
    expect(context.prompt(history.messages).stats.summarizedMessages).toBe(summaries[1].summarizedMessages);
  });

  it('a failing summariser is reported, keeps the conversation going and is retried later', async () => {
    let fail = true;
    const summarizer: LLM = {
      name: 'flaky',
      async *chat(): AsyncIterable<LlmChunk> {
        if (fail) throw new Error('server down');
        yield { type: 'text', delta: 'Recovered summary.' };
      },
    };
    const { clock, context, errors, summaries, history } = setup({ summarizer });
    await context.prepare();
    fill(history, 1, 11);
    context.maybeSummarize(history.messages);
    await context.whenIdle();
    expect(errors.map((e) => e.message)).toEqual(['summary failed: server down']);
    expect(context.prompt(history.messages).stats.contextTokens).toBeLessThanOrEqual(POLICY.maxTokens);
    fail = false;
    context.maybeSummarize(history.messages); // too soon after a failure
    expect(context.isSummarizing).toBe(false);
    await clock.advance(30_000);
    context.maybeSummarize(history.messages);
    await context.whenIdle();
    expect(summaries.map((e) => e.summary)).toEqual(['Recovered summary.']);
  });

  it('clips a summary longer than summaryMaxTokens', async () => {
    const { clock, context, summaries, history } = setup({ summary: 'fact '.repeat(100) });
    await context.prepare();
    fill(history, 1, 11);
    context.maybeSummarize(history.messages);
    await clock.advance(1000);
    expect(summaries[0].summary.split(' ').length).toBeLessThanOrEqual(POLICY.summaryMaxTokens);
    expect(summaries[0].summary.endsWith('…')).toBe(true);
    fill(history, 12, 19);
    const prompt = context.prompt(history.messages);
    expect(prompt.stats.summaryId).toBe(1);
    expect(prompt.stats.contextTokens).toBeLessThanOrEqual(POLICY.maxTokens);
  });

  it('cancels a summary that runs past its timeout', async () => {
    const { clock, context, errors, summaries, history } = setup({
      summaryMs: 10_000,
      policy: { ...POLICY, summarizeTimeoutMs: 5000 },
    });
    await context.prepare();
    fill(history, 1, 11);
    context.maybeSummarize(history.messages);
    await clock.advance(5000);
    expect(context.isSummarizing).toBe(false);
    expect(summaries).toEqual([]);
    expect(errors[0].message).toContain('summary took longer than 5000 ms');
  });

  it('close() cancels the running summary and closes the sibling it made', async () => {
    const clock = new VirtualClock();
    const requests: ChatRequest[] = [];
    let siblingClosed = false;
    const sibling: LLM = {
      name: 'sibling',
      async *chat(request) {
        requests.push(request);
        await clock.sleep(60_000, request.signal).catch(() => undefined);
      },
      close: async () => {
        siblingClosed = true;
      },
    };
    const llm: LLM = {
      name: 'main',
      chat: () => (async function* () {})(),
      tokenCounter: async () => words,
      sibling: () => sibling,
    };
    const summaries: SummaryEvent[] = [];
    const errors: Error[] = [];
    const context = new ContextManager({
      llm,
      clock,
      policy: POLICY,
      onSummary: (e) => summaries.push(e),
      onError: (e) => errors.push(e),
    });
    await context.prepare();
    const history = new ChatHistory('be brief');
    fill(history, 1, 11);
    context.maybeSummarize(history.messages);
    await clock.advance(10);
    expect(requests).toHaveLength(1);
    await context.close();
    expect(requests[0].signal.aborted).toBe(true);
    expect(siblingClosed).toBe(true);
    expect(summaries).toEqual([]);
    expect(errors).toEqual([]);
    context.maybeSummarize(history.messages);
    expect(context.isSummarizing).toBe(false);
  });

  it('summarises a fallback chain on its sibling: the chain keeps its provider, count and turn lock', async () => {
    const clock = new VirtualClock();
    /** A local model: one request at a time (a turn lock), a sibling with a lock of its own. */
    class LockedLlm implements LLM {
      readonly requests: string[] = [];
      private tail: Promise<void> = Promise.resolve();
      constructor(readonly name: string) {}
      async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
        let release!: () => void;
        const previous = this.tail;
        this.tail = new Promise((resolve) => {
          release = resolve;
        });
        try {
          await previous;
          const summary = isSummaryRequest(request.messages);
          this.requests.push(summary ? 'summary' : 'reply');
          await clock.sleep(summary ? 1000 : 10_000, request.signal);
          yield { type: 'text', delta: summary ? 'The user counted turns.' : 'ok' };
        } finally {
          release();
        }
      }
      tokenCounter = async () => words;
      sibling = (): LLM => new LockedLlm(`${this.name}#sibling`);
    }
    const cloud: LLM = {
      name: 'cloud',
      // biome-ignore lint/correctness/useYield: the cloud is down
      async *chat(): AsyncIterable<LlmChunk> {
        throw new Error('cloud down');
      },
    };
    const local = new LockedLlm('local');
    const chain = new FallbackLlm([cloud, local], { clock });
    const summaries: SummaryEvent[] = [];
    const context = new ContextManager({
      llm: chain,
      clock,
      policy: POLICY,
      onSummary: (e) => summaries.push(e),
    });
    await context.prepare();
    expect(context.tokenizerName).toBe('words');
    const reply = async () => {
      for await (const _ of chain.chat({ messages: [], signal: new AbortController().signal }));
    };
    const first = reply();
    await clock.advance(10_000);
    await first;
    expect(chain).toMatchObject({ activeProvider: 'local', fallbackCount: 1 });

    const second = reply(); // holds the local model's turn lock for 10 s
    await clock.advance(0);
    const history = new ChatHistory('be brief');
    fill(history, 1, 11);
    context.maybeSummarize(history.messages);
    await clock.advance(1000);
    expect(summaries.map((s) => s.summary)).toEqual(['The user counted turns.']);
    expect(chain).toMatchObject({ activeProvider: 'local', fallbackCount: 1 });
    expect(local.requests).toEqual(['reply', 'reply']);
    await clock.advance(10_000);
    await second;
    await context.close();
  });

  it('falls back to cl100k when the model tokenizer fails, and says so', async () => {
    const clock = new VirtualClock();
    const errors: Error[] = [];
    const context = new ContextManager({
      llm: {
        name: 'broken',
        chat: () => (async function* () {})(),
        tokenCounter: () => Promise.reject(new Error('model file missing')),
      },
      clock,
      onError: (e) => errors.push(e),
    });
    await context.prepare();
    expect(context.tokenizerName).toBe('tiktoken:cl100k_base');
    expect(errors[0].message).toContain('model file missing');
  });

  it('rejects an inconsistent policy with a clear error', () => {
    const clock = new VirtualClock();
    const llm = new ScriptedLlm({ clock, reply: () => '' });
    expect(
      () => new ContextManager({ llm, clock, policy: { maxTokens: 100, summarizeAtTokens: 200 } }),
    ).toThrow(ContextPolicyError);
    expect(() => new ContextManager({ llm, clock, policy: { keepTurns: -1 } })).toThrow(/keepTurns/);
  });
});
