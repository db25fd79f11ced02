import { fileURLToPath } from 'node:url';
import { type ChatWrapperGenerateContextStateOptions, GeneralChatWrapper } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChatMessage, LlmChunk, ToolSchema } from './contract.ts';
import { LlmError } from './errors.ts';
import { LlamaLlm } from './llama.ts';
import { unloadSharedModels } from './llama-models.ts';

const STORIES = fileURLToPath(new URL('../../../test/fixtures/models/stories260K.gguf', import.meta.url));

// stories260K is a story generator, not an assistant: these tests check plumbing, never answer quality.
const live = () => new AbortController().signal;
const base = { modelPath: STORIES, threads: 1, temperature: 0, maxTokens: 40 } as const;

async function collect(iterable: AsyncIterable<LlmChunk>): Promise<LlmChunk[]> {
  const out: LlmChunk[] = [];
  for await (const c of iterable) out.push(c);
  return out;
}

const text = (chunks: LlmChunk[]) => chunks.map((c) => (c.type === 'text' ? c.delta : '')).join('');
const usageOf = (chunks: LlmChunk[]) => {
  const u = chunks.find((c) => c.type === 'usage');
  if (u?.type !== 'usage') throw new Error('no usage chunk');
  return u;
};

const turn1: ChatMessage[] = [
  { role: 'system', content: 'Tell a short story.' },
  { role: 'user', content: 'Once upon a time there was a girl named Lily.' },
];

afterAll(async () => {
  await unloadSharedModels();
});

describe('LlamaLlm with the real stories260K model', () => {
  it('streams text deltas and ends with a usage chunk', async () => {
    const llm = new LlamaLlm(base);
    const chunks = await collect(llm.chat({ messages: turn1, signal: live() }));
    await llm.close();
    const deltas = chunks.filter((c) => c.type === 'text');
    expect(deltas.length).toBeGreaterThan(5);
    expect(text(chunks).trim().length).toBeGreaterThan(0);
    const u = usageOf(chunks);
    expect(chunks.at(-1)).toBe(u);
    expect(u.completionTokens).toBeGreaterThan(5);
    expect(u.completionTokens).toBeLessThanOrEqual(40);
    expect(u.promptTokens).toBeGreaterThan(10);
    expect(u.cachedTokens).toBe(0);
  });

  it('reuses the KV cache on the second turn and prefills only the new tokens', async () => {
    const llm = new LlamaLlm(base);
    const first = await collect(llm.chat({ messages: turn1, signal: live() }));
    const u1 = usageOf(first);
    const turn2: ChatMessage[] = [
      ...turn1,
      { role: 'assistant', content: text(first) },
      { role: 'user', content: 'Then Lily went to the park.' },
    ];
    const u2 = usageOf(await collect(llm.chat({ messages: turn2, signal: live() })));
    await llm.close();
    // Everything of turn 1 (prompt and reply) stays cached, at most the reply's last token or two re-render.
    expect(u2.cachedTokens).toBeGreaterThanOrEqual(u1.promptTokens + u1.completionTokens - 3);
    // Only the new user message and the format's markup are evaluated (36 of 127 tokens when written).
    expect(u2.promptTokens - (u2.cachedTokens ?? 0)).toBeLessThan(u2.promptTokens / 2);

    const cold = new LlamaLlm({ ...base, reuseKvCache: false });
    await collect(cold.chat({ messages: turn1, signal: live() }));
    const c2 = usageOf(await collect(cold.chat({ messages: turn2, signal: live() })));
    await cold.close();
    expect(c2.cachedTokens).toBe(0);
    expect(c2.promptTokens).toBe(u2.promptTokens);
  });

  it('re-evaluates from the first changed token when the history is rewritten', async () => {
    const llm = new LlamaLlm(base);
    const first = await collect(llm.chat({ messages: turn1, signal: live() }));
    const reply = text(first);
    // The agent records only what the user heard: the reply cut to its first half, marked interrupted.
    const heard = reply.slice(0, Math.floor(reply.length / 2));
    const rewritten: ChatMessage[] = [
      ...turn1,
      { role: 'assistant', content: heard, interrupted: true },
      { role: 'user', content: 'Stop.' },
    ];
    const u = usageOf(await collect(llm.chat({ messages: rewritten, signal: live() })));
    const u1 = usageOf(first);
    expect(u.cachedTokens).toBeGreaterThanOrEqual(u1.promptTokens);
    expect(u.cachedTokens).toBeLessThan(u1.promptTokens + u1.completionTokens);

    const changedStart: ChatMessage[] = [{ role: 'system', content: 'Different.' }, ...rewritten.slice(1)];
    const u3 = usageOf(await collect(llm.chat({ messages: changedStart, signal: live() })));
    await llm.close();
    expect(u3.cachedTokens).toBeLessThan(10);
  });

  it('stops promptly when aborted mid-generation and serves the next turn', async () => {
    const llm = new LlamaLlm({ ...base, maxTokens: 2000 });
    await llm.prewarm();
    const ac = new AbortController();
    let deltas = 0;
    let abortedAt = 0;
    for await (const c of llm.chat({ messages: turn1, signal: ac.signal })) {
      if (c.type === 'text' && ++deltas === 3) {
        abortedAt = performance.now();
        ac.abort();
      }
    }
    const stopMs = performance.now() - abortedAt;
    expect(deltas).toBeLessThan(10);
    expect(stopMs).toBeLessThan(100);
    // The next turn waits for the native generation to stop, then works on the same sequence.
    const next = await collect(
      llm.chat({ messages: turn1, signal: AbortSignal.timeout(10_000), maxTokens: 10 }),
    );
    expect(usageOf(next).completionTokens).toBeGreaterThan(0);
    await llm.close();
  });

  it('ends at once for a signal aborted before the turn starts, and after the consumer breaks', async () => {
    const llm = new LlamaLlm(base);
    expect(await collect(llm.chat({ messages: turn1, signal: AbortSignal.abort() }))).toEqual([]);
    for await (const c of llm.chat({ messages: turn1, signal: live() })) {
      if (c.type === 'text') break;
    }
    const next = await collect(llm.chat({ messages: turn1, signal: live(), maxTokens: 5 }));
    expect(usageOf(next).completionTokens).toBeGreaterThan(0);
    await llm.close();
  });

  it('passes tool schemas (including keywords a grammar cannot express) without crashing', async () => {
    const tools: ToolSchema[] = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: {
            city: { type: 'string', minLength: 1, pattern: '^[A-Z]' },
            unit: { type: 'string', enum: ['c', 'f'], default: 'c' },
            days: { type: 'integer', minimum: 1, maximum: 7 },
            when: { anyOf: [{ type: 'string', format: 'date' }, { type: 'null' }] },
          },
          required: ['city'],
        },
      },
      { name: 'hang_up', description: 'End the call', parameters: { type: 'object', properties: {} } },
    ];
    const llm = new LlamaLlm(base);
    const chunks = await collect(llm.chat({ messages: turn1, tools, signal: live() }));
    await llm.close();
    expect(usageOf(chunks).completionTokens).toBeGreaterThan(0);
    for (const c of chunks)
      if (c.type === 'toolCall') expect(() => JSON.parse(c.call.arguments)).not.toThrow();
  });

  it('maps a function call the model writes to a toolCall chunk, without executing it', async () => {
    // stories260K never writes a call on its own; this format opens the reply inside a function call, so the
    // function-calling grammar makes even this model write a well-formed call through the real pipeline.
    class CallFirstWrapper extends GeneralChatWrapper {
      override generateContextState(options: ChatWrapperGenerateContextStateOptions) {
        const state = super.generateContextState(options);
        return { ...state, functionCall: { initiallyEngaged: true, disengageInitiallyEngaged: [] } } as never;
      }
    }
    const tools: ToolSchema[] = [
      {
        name: 'lookup',
        description: 'Look a word up',
        parameters: {
          type: 'object',
          properties: { word: { type: 'string', maxLength: 8 } },
          required: ['word'],
        },
      },
    ];
    const llm = new LlamaLlm({ ...base, maxTokens: 60, chatWrapper: new CallFirstWrapper() });
    const chunks = await collect(llm.chat({ messages: turn1, tools, signal: live() }));
    await llm.close();
    const calls = chunks.flatMap((c) => (c.type === 'toolCall' ? [c.call] : []));
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls[0].name).toBe('lookup');
    expect(calls[0].id).toMatch(/^call_/);
    expect(typeof JSON.parse(calls[0].arguments).word).toBe('string');
  });

  it('fails with a clear typed error when the model file is missing', async () => {
    const llm = new LlamaLlm({ ...base, modelPath: '/nonexistent/model.gguf' });
    const error = await collect(llm.chat({ messages: turn1, signal: live() })).catch((e) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('model-missing');
    expect(error.message).toContain('/nonexistent/model.gguf');
  });
});
