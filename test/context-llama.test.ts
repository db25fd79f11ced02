import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ChatHistory } from '../src/context/history.ts';
import { ContextManager, type SummaryEvent } from '../src/context/manager.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import type { ChatMessage, LlmChunk } from '../src/providers/llm/contract.ts';
import { LlamaLlm } from '../src/providers/llm/llama.ts';
import { unloadSharedModels } from '../src/providers/llm/llama-models.ts';

const STORIES = fileURLToPath(new URL('./fixtures/models/stories260K.gguf', import.meta.url));
const base = { modelPath: STORIES, threads: 1, temperature: 0 } as const;

async function promptTokensOf(llm: LlamaLlm, messages: ChatMessage[]): Promise<number> {
  let usage: Extract<LlmChunk, { type: 'usage' }> | undefined;
  for await (const c of llm.chat({ messages, signal: new AbortController().signal, maxTokens: 1 }))
    if (c.type === 'usage') usage = c;
  if (!usage) throw new Error('no usage chunk');
  return usage.promptTokens;
}

function storyHistory(turns: number): ChatHistory {
  const history = new ChatHistory('You tell short stories to small children.');
  for (let i = 1; i <= turns; i++) {
    history.append({ role: 'user', content: `Tell me what Lily and her dog did on day ${i}.` }, i);
    history.append(
      { role: 'assistant', content: `On day ${i} Lily and her dog ran to the park and played.` },
      i,
    );
  }
  return history;
}

afterAll(async () => {
  await unloadSharedModels();
});

describe('context on the local llama model (stories260K)', () => {
  it("counts the prompt with the model's own tokenizer, close to what llama.cpp evaluates", async () => {
    const llm = new LlamaLlm(base);
    const context = new ContextManager({ llm, clock: new MonotonicClock() });
    await context.prepare();
    expect(context.tokenizerName).toBe('llama:stories260K.gguf');
    const history = storyHistory(6);
    for (const n of [2, 6, 12]) {
      // Prompts end with a user message, as a reply's do.
      const prompt = context.prompt(history.messages.slice(0, n));
      const fresh = new LlamaLlm(base);
      const actual = await promptTokensOf(fresh, prompt.messages);
      await fresh.close();
      // Per message the count is exact; the chat format's overhead is measured once and is within a few tokens.
      expect(Math.abs(prompt.stats.contextTokens - actual)).toBeLessThanOrEqual(Math.max(6, actual * 0.12));
    }
    await context.close();
    await llm.close();
  });

  it("summarises on a sibling context: the conversation's KV cache is left as it was", async () => {
    const llm = new LlamaLlm(base);
    const summaries: SummaryEvent[] = [];
    const errors: Error[] = [];
    const context = new ContextManager({
      llm,
      clock: new MonotonicClock(),
      policy: {
        maxTokens: 600,
        summarizeAtTokens: 400,
        summarizeToTokens: 250,
        summaryMaxTokens: 60,
        keepTurns: 1,
      },
      onSummary: (e) => summaries.push(e),
      onError: (e) => errors.push(e),
    });
    await context.prepare();
    const history = storyHistory(8);
    const before = context.prompt(history.messages);
    expect(before.fullTokens).toBeGreaterThan(400);
    await promptTokensOf(llm, before.messages);
    const cached = await llm.contextTokenCount();
    context.maybeSummarize(history.messages);
    await context.whenIdle();
    expect(errors).toEqual([]);
    expect(summaries).toHaveLength(1);
    expect(summaries[0].summary.length).toBeGreaterThan(0);
    expect(await llm.contextTokenCount()).toBe(cached);
    // The summary goes into use once the prompt outgrows its budget (instead of cutting turns).
    let after = context.prompt(history.messages);
    for (let day = 9; after.stats.summaryId === null && day < 30; day++) {
      history.append({ role: 'user', content: `And on day ${day}?` }, day);
      history.append({ role: 'assistant', content: `On day ${day} they stayed home and read a book.` }, day);
      after = context.prompt(history.messages);
    }
    expect(after.messages[0].content).toContain(
      `Summary of the earlier conversation: ${summaries[0].summary}`,
    );
    expect(after.stats.contextTokens).toBeLessThanOrEqual(600);
    expect(after.stats.prunedMessages).toBe(0);
    expect(after.messages.some((m) => m.content.includes('on day 1.'))).toBe(false);
    await context.close();
    await llm.close();
  });
});
