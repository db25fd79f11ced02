import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AnthropicLlm, type AnthropicOptions } from './anthropic.ts';
import { CONVERSATION_START, toWirePrompt } from './anthropic-wire.ts';
import type { ChatMessage, LlmChunk } from './contract.ts';
import { LlmError } from './errors.ts';
import { type AnthropicScript, FakeAnthropicServer } from './testing/anthropic-server.ts';

const KEY = 'sk-ant-test-0123456789abcdef';
let server: FakeAnthropicServer;
let scripts: Record<string, AnthropicScript | AnthropicScript[]> = {};

const lastUserText = (request: { messages: { role: string; content: unknown }[] }) => {
  const m = request.messages.filter((x) => x.role === 'user').at(-1);
  if (!m) return '';
  if (typeof m.content === 'string') return m.content;
  return (m.content as { type: string; text?: string }[])
    .map((b) => (b.type === 'text' ? b.text : '[result]'))
    .join(' ');
};

beforeAll(async () => {
  server = await FakeAnthropicServer.start({
    apiKey: KEY,
    script: (request) => {
      const last = lastUserText(request);
      const entry = scripts[last] ?? { text: `echo ${last}` };
      return Array.isArray(entry) ? (entry.shift() ?? { text: 'out of script' }) : entry;
    },
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.rejected.length = 0;
  scripts = {};
});

const llmFor = (options: Partial<AnthropicOptions> = {}) =>
  new AnthropicLlm({
    baseURL: server.baseURL,
    model: 'claude-test',
    apiKey: KEY,
    retryBaseDelayMs: 10,
    ...options,
  });
async function collect(iterable: AsyncIterable<LlmChunk>, into: LlmChunk[] = []): Promise<LlmChunk[]> {
  for await (const c of iterable) into.push(c);
  return into;
}
const live = () => new AbortController().signal;
const INSTRUCTIONS: ChatMessage = { role: 'system', content: 'You are a helpful voice agent. '.repeat(20) };
const user = (content: string): ChatMessage[] => [INSTRUCTIONS, { role: 'user', content }];
const text = (chunks: LlmChunk[]) => chunks.map((c) => (c.type === 'text' ? c.delta : '')).join('');

describe('AnthropicLlm against a local Messages API server', () => {
  it('streams text, caches the instructions prefix, and reports cached tokens in usage', async () => {
    const llm = llmFor({ maxTokens: 64 });
    const first = await collect(llm.chat({ messages: user('hello'), signal: live() }));
    expect(text(first)).toBe('echo hello');
    const second = await collect(llm.chat({ messages: user('again'), signal: live() }));
    const usage1 = first.at(-1);
    const usage2 = second.at(-1);
    expect(usage1).toMatchObject({ type: 'usage', cachedTokens: 0 });
    // The second turn reads the instructions from the cache.
    expect(usage2).toMatchObject({ type: 'usage' });
    expect((usage2 as { cachedTokens: number }).cachedTokens).toBeGreaterThan(100);
    expect((usage2 as { promptTokens: number }).promptTokens).toBeGreaterThan(
      (usage2 as { cachedTokens: number }).cachedTokens,
    );
    expect(server.requests[0]).toMatchObject({
      model: 'claude-test',
      max_tokens: 64,
      stream: true,
      system: [{ type: 'text', text: INSTRUCTIONS.content, cache_control: { type: 'ephemeral' } }],
    });
    expect(server.rejected).toEqual([]);
    expect(server.connections).toBe(1); // one kept-alive connection for both turns
    await llm.close();
  });

  it('tool use round trip: calls arrive whole, and the results go back as tool_result blocks', async () => {
    scripts['what is the weather in Oslo'] = {
      text: 'Let me check.',
      toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city": "Oslo"}' }],
    };
    scripts['[result]'] = { text: 'It is sunny in Oslo.' };
    const llm = llmFor();
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    const messages: ChatMessage[] = user('what is the weather in Oslo');
    const chunks = await collect(llm.chat({ messages, tools, signal: live() }));
    const call = chunks.find((c) => c.type === 'toolCall');
    expect(call).toEqual({
      type: 'toolCall',
      call: { id: 'toolu_1', name: 'get_weather', arguments: '{"city": "Oslo"}' },
    });
    expect(server.requests[0].tools?.[0]).toMatchObject({
      name: 'get_weather',
      input_schema: { type: 'object' },
    });
    messages.push(
      {
        role: 'assistant',
        content: 'Let me check.',
        toolCalls: [(call as Extract<LlmChunk, { type: 'toolCall' }>).call],
      },
      { role: 'tool', toolCallId: 'toolu_1', content: '{"sky":"sunny"}' },
    );
    const after = await collect(llm.chat({ messages, tools, signal: live() }));
    expect(text(after)).toBe('It is sunny in Oslo.');
    expect(server.requests[1].messages.at(-1)).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '{"sky":"sunny"}' }],
    });
    expect(server.rejected).toEqual([]);
    await llm.close();
  });

  it('a history that starts with the agent, and empty interrupted replies, still make a valid request', () => {
    const prompt = toWirePrompt([
      INSTRUCTIONS,
      { role: 'assistant', content: 'Hi, how can I help?' },
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: '', interrupted: true },
      { role: 'user', content: 'are you there' },
    ]);
    expect(prompt.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(prompt.messages[0].content).toEqual([{ type: 'text', text: CONVERSATION_START }]);
    expect(prompt.messages[2].content).toHaveLength(2);
  });

  it('429 with a short retry-after is retried; 529 overloaded too; a 400 is not', async () => {
    scripts.busy = [
      {
        error: {
          status: 429,
          type: 'rate_limit_error',
          message: 'slow down',
          headers: { 'retry-after': '0.05' },
        },
      },
      { error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } },
      { text: 'finally' },
    ];
    const llm = llmFor();
    expect(text(await collect(llm.chat({ messages: user('busy'), signal: live() })))).toBe('finally');
    scripts.bad = { error: { status: 400, type: 'invalid_request_error', message: 'nope' } };
    await expect(collect(llm.chat({ messages: user('bad'), signal: live() }))).rejects.toThrow(/HTTP 400/);
    await llm.close();
  });

  it('a drop or an overloaded event before any text is retried; after text it fails', async () => {
    scripts.early = [
      { text: 'a b c', dropAfterChunks: 0 },
      { text: 'a b c', overloadedAfterChunks: 0 },
      { text: 'ok' },
    ];
    const llm = llmFor();
    expect(text(await collect(llm.chat({ messages: user('early'), signal: live() })))).toBe('ok');
    scripts.late = { text: 'one two three four', dropAfterChunks: 2, chunkIntervalMs: 20 };
    const got: LlmChunk[] = [];
    await expect(collect(llm.chat({ messages: user('late'), signal: live() }), got)).rejects.toBeInstanceOf(
      LlmError,
    );
    expect(text(got)).toBe('one two ');
    scripts.junk = { text: 'one two three', malformedAfterChunks: 1 };
    await expect(collect(llm.chat({ messages: user('junk'), signal: live() }))).rejects.toBeInstanceOf(
      LlmError,
    );
    await llm.close();
  });

  it('a slow first byte past the first-token budget fails in time, naming the budget', async () => {
    scripts.slow = { text: 'late', headersDelayMs: 5_000 };
    const llm = llmFor({ maxRetries: 0 });
    await expect(
      collect(llm.chat({ messages: user('slow'), signal: live(), firstTokenBudgetMs: 300 })),
    ).rejects.toThrow(/no first token/);
    await llm.close();
  });

  it('refused connection: an error naming the cause, never the key', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const llm = llmFor({ baseURL: `http://127.0.0.1:${port}`, maxRetries: 1 });
    const error = await collect(llm.chat({ messages: user('x'), signal: live() })).catch((e) => e as Error);
    expect(error).toBeInstanceOf(LlmError);
    expect((error as Error).message).toMatch(/ECONNREFUSED|Connection error/);
    expect((error as Error).message).not.toContain(KEY);
    await expect(llm.prewarm()).rejects.toBeInstanceOf(LlmError);
  });

  it('prewarm opens the connection the first turn reuses; the token counter calibrates on count_tokens', async () => {
    const llm = llmFor();
    const before = server.connections;
    await llm.prewarm();
    await collect(llm.chat({ messages: user('hi'), signal: live() }));
    expect(server.connections - before).toBe(1);
    const counter = await llm.tokenCounter();
    expect(counter.name).toBe('anthropic-count:claude-test');
    expect(server.countCalls).toBe(3);
    // The fake counts one token per 4 characters, 3 per message.
    expect(counter.countTokens('x'.repeat(400))).toBeGreaterThanOrEqual(95);
    expect(counter.countTokens('x'.repeat(400))).toBeLessThanOrEqual(105);
    expect(counter.messageOverheadTokens).toBe(3);
    await llm.close();
  });

  it('without a reachable count endpoint, the documented estimate is used', async () => {
    const llm = llmFor({ baseURL: 'http://127.0.0.1:1', timeoutMs: 500 });
    const counter = await llm.tokenCounter();
    expect(counter.name).toBe('estimate:3.5-chars-per-token');
    expect(counter.countTokens('x'.repeat(350))).toBe(100);
  });
});
