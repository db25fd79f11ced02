import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LlmChunk } from './contract.ts';
import { LlmError } from './errors.ts';
import { OpenAiCompatibleLlm, type OpenAiCompatibleOptions } from './openai-compatible.ts';
import { ChatCompletionsServer, type ChatScript } from './testing/chat-completions-server.ts';

const KEY = 'sk-test-0123456789abcdef';
let server: ChatCompletionsServer;
/** Scripts by the last user message; a list is served in order (one entry per request). */
let scripts: Record<string, ChatScript | ChatScript[]> = {};

beforeAll(async () => {
  server = await ChatCompletionsServer.start({
    apiKey: KEY,
    script: (request) => {
      const last = request.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
      const entry = scripts[last] ?? { text: `echo ${last}` };
      return Array.isArray(entry) ? (entry.shift() ?? { text: 'out of script' }) : entry;
    },
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.rejected.length = 0;
  server.cutShort = 0;
  scripts = {};
});

const llmFor = (options: Partial<OpenAiCompatibleOptions> = {}) =>
  new OpenAiCompatibleLlm({ baseURL: server.baseURL, model: 'test-model', apiKey: KEY, ...options });
async function collect(iterable: AsyncIterable<LlmChunk>, into: LlmChunk[] = []): Promise<LlmChunk[]> {
  for await (const c of iterable) into.push(c);
  return into;
}
const live = () => new AbortController().signal;
const user = (content: string) => [{ role: 'user' as const, content }];
const text = (chunks: LlmChunk[]) => chunks.map((c) => (c.type === 'text' ? c.delta : '')).join('');

describe('OpenAiCompatibleLlm against a local Chat Completions server', () => {
  it('streams text deltas and the usage chunk with cached tokens, sending a valid request', async () => {
    scripts.hello = {
      text: 'Hello world',
      usage: { promptTokens: 12, completionTokens: 2, cachedTokens: 8 },
    };
    const llm = llmFor({ temperature: 0.2, maxTokens: 50 });
    const chunks = await collect(llm.chat({ messages: user('hello'), signal: live() }));
    expect(chunks).toEqual([
      { type: 'text', delta: 'Hello ' },
      { type: 'text', delta: 'world' },
      { type: 'usage', promptTokens: 12, completionTokens: 2, cachedTokens: 8 },
    ]);
    expect(server.requests[0].body).toMatchObject({
      model: 'test-model',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 50,
    });
    expect(server.requests[0].authorization).toBe(`Bearer ${KEY}`);
    expect(server.rejected).toEqual([]);
    await llm.close();
  });

  it('joins tool calls split over several deltas, and sends tools and tool history in wire format', async () => {
    scripts.tool = {
      text: 'Checking.',
      toolCalls: [
        { id: 'call_a', name: 'get_weather', arguments: '{"city": "Oslo"}' },
        { id: 'call_b', name: 'hang_up', arguments: '{}' },
      ],
    };
    const llm = llmFor({ maxTokensParam: 'max_completion_tokens', maxTokens: 20 });
    const chunks = await collect(
      llm.chat({
        messages: [
          { role: 'system', content: 'sys' },
          { role: 'user', content: 'before' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'c0', name: 'f', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'c0', content: '"ok"' },
          { role: 'user', content: 'tool' },
        ],
        tools: [
          { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: {} } },
        ],
        signal: live(),
      }),
    );
    expect(chunks.filter((c) => c.type !== 'usage')).toEqual([
      { type: 'text', delta: 'Checking.' },
      { type: 'toolCall', call: { id: 'call_a', name: 'get_weather', arguments: '{"city": "Oslo"}' } },
      { type: 'toolCall', call: { id: 'call_b', name: 'hang_up', arguments: '{}' } },
    ]);
    const body = server.requests[0].body;
    expect(body.max_completion_tokens).toBe(20);
    expect(body.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather',
          parameters: { type: 'object', properties: {} },
        },
      },
    ]);
    expect(body.messages[2]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c0', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
    expect(body.messages[3]).toEqual({ role: 'tool', tool_call_id: 'c0', content: '"ok"' });
  });

  it('stops at once on abort mid-stream and closes the connection', async () => {
    scripts.slow = { text: Array.from({ length: 100 }, (_, i) => `t${i}`).join(' '), chunkIntervalMs: 20 };
    const llm = llmFor();
    const ac = new AbortController();
    let deltas = 0;
    let abortedAt = 0;
    for await (const c of llm.chat({ messages: user('slow'), signal: ac.signal })) {
      if (c.type === 'text' && ++deltas === 3) {
        abortedAt = performance.now();
        ac.abort();
      }
    }
    expect(performance.now() - abortedAt).toBeLessThan(100);
    expect(deltas).toBe(3);
    await expect.poll(() => server.cutShort, { timeout: 5000 }).toBe(1);
  });

  it('fails with a timeout, without retrying, when the stream stalls after the first token', async () => {
    scripts.stall = { text: 'one two three', stallAfterChunks: 1 };
    const llm = llmFor({ idleTimeoutMs: 150 });
    const seen: LlmChunk[] = [];
    const error = await collect(llm.chat({ messages: user('stall'), signal: live() }), seen).catch((e) => e);
    expect(seen).toEqual([{ type: 'text', delta: 'one ' }]);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('timeout');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 5xx with backoff, then reports the error body and status', async () => {
    scripts.boom = { error: { status: 500, message: 'model exploded', type: 'server_error' } };
    const llm = llmFor({ maxRetries: 2, retryBaseDelayMs: 10 });
    const error = await collect(llm.chat({ messages: user('boom'), signal: live() })).catch((e) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.message).toContain('500');
    expect(error.message).toContain('model exploded');
    expect(server.requests).toHaveLength(3);
  });

  it('honours retry-after-ms on a 429, then streams the reply', async () => {
    scripts.busy = [
      {
        error: {
          status: 429,
          message: 'Rate limit reached',
          type: 'requests',
          code: 'rate_limit_exceeded',
          headers: { 'retry-after-ms': '150' },
        },
      },
      { text: 'after the wait' },
    ];
    const warnings: Record<string, unknown>[] = [];
    const llm = llmFor({ log: { info: () => {}, warn: (fields) => warnings.push(fields) } });
    const chunks = await collect(llm.chat({ messages: user('busy'), signal: live() }));
    expect(text(chunks)).toBe('after the wait');
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(140);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ attempt: 1, delayMs: 150 });
    expect(JSON.stringify(warnings)).not.toContain(KEY);
  });

  it('does not wait out a retry-after longer than a voice turn can afford', async () => {
    scripts.later = {
      error: { status: 429, message: 'quota', type: 'requests', headers: { 'retry-after': '30' } },
    };
    const started = performance.now();
    const error = await collect(llmFor().chat({ messages: user('later'), signal: live() })).catch((e) => e);
    expect(error.message).toContain('429');
    expect(server.requests).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('does not retry a request the server refuses as invalid', async () => {
    scripts.bad = { error: { status: 400, message: 'bad model', type: 'invalid_request_error' } };
    const error = await collect(llmFor().chat({ messages: user('bad'), signal: live() })).catch((e) => e);
    expect(error.message).toContain('400');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a connection dropped before the first token; fails without retry after it', async () => {
    scripts.early = [{ text: 'lost', dropAfterChunks: 0 }, { text: 'second try' }];
    const llm = llmFor({ retryBaseDelayMs: 10 });
    expect(text(await collect(llm.chat({ messages: user('early'), signal: live() })))).toBe('second try');
    expect(server.requests).toHaveLength(2);

    server.requests.length = 0;
    scripts.late = [
      { text: 'one two three four', dropAfterChunks: 2, chunkIntervalMs: 50 },
      { text: 'never' },
    ];
    const seen: LlmChunk[] = [];
    const error = await collect(llm.chat({ messages: user('late'), signal: live() }), seen).catch((e) => e);
    expect(text(seen)).toBe('one two ');
    expect(error).toBeInstanceOf(LlmError);
    expect(server.requests).toHaveLength(1);
  });

  it('times out slow headers and a slow first token in ms, retrying each', async () => {
    scripts.slowHeaders = [{ text: 'late', headersDelayMs: 1000 }, { text: 'fast headers' }];
    const llm = llmFor({ timeoutMs: 150, firstTokenTimeoutMs: 150, retryBaseDelayMs: 10 });
    expect(text(await collect(llm.chat({ messages: user('slowHeaders'), signal: live() })))).toBe(
      'fast headers',
    );
    scripts.slowToken = [{ text: 'late', firstChunkDelayMs: 1000 }, { text: 'fast token' }];
    expect(text(await collect(llm.chat({ messages: user('slowToken'), signal: live() })))).toBe('fast token');

    scripts.alwaysSlow = { text: 'late', firstChunkDelayMs: 1000 };
    const error = await collect(
      llmFor({ firstTokenTimeoutMs: 100, maxRetries: 0 }).chat({
        messages: user('alwaysSlow'),
        signal: live(),
      }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('no first token for 100 ms');
  });

  it('holds every attempt to one first-token budget: a hang is retried once within it, then it gives up', async () => {
    // Hangs after its headers, every time: attempts × 15 s would be 45 s; the budget makes it 600 ms.
    scripts.hang = { text: 'never', firstChunkDelayMs: 60_000 };
    const llm = llmFor({ retryBaseDelayMs: 10 });
    const started = performance.now();
    const error = await collect(
      llm.chat({ messages: user('hang'), signal: live(), firstTokenBudgetMs: 600 }),
    ).catch((e) => e);
    const tookMs = performance.now() - started;
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(
      /no first token within the 600 ms budget \(2 attempts; last failure: .*no first token for 300 ms/,
    );
    expect(server.requests).toHaveLength(2);
    expect(tookMs).toBeGreaterThanOrEqual(590);
    // The budget bounds it; what is above it is this machine's scheduling, not another attempt.
    expect(tookMs).toBeLessThan(600 + 2_000);

    // A hang followed by a healthy answer: the retry lands inside the budget.
    scripts.hangOnce = [{ text: 'late', firstChunkDelayMs: 60_000 }, { text: 'second try' }];
    const answer = await collect(
      llm.chat({ messages: user('hangOnce'), signal: live(), firstTokenBudgetMs: 2_000 }),
    );
    expect(text(answer)).toBe('second try');
  });

  it('does not start a retry whose backoff would end past the budget', async () => {
    scripts.busy = {
      error: {
        status: 429,
        message: 'Slow down',
        type: 'rate_limit_error',
        headers: { 'retry-after-ms': '900' },
      },
    };
    const started = performance.now();
    const error = await collect(
      llmFor().chat({ messages: user('busy'), signal: live(), firstTokenBudgetMs: 500 }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('timeout');
    expect(error.message).toContain('HTTP 429');
    expect(error.message).toContain('no time left in the 500 ms first-token budget to retry');
    expect(server.requests).toHaveLength(1);
    // Known at once, not after waiting out the budget.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('reports an unreachable server as a typed error, quickly', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = new OpenAiCompatibleLlm({
      baseURL: `http://127.0.0.1:${port}/v1`,
      model: 'm',
      retryBaseDelayMs: 10,
    });
    const started = performance.now();
    const refused = await collect(down.chat({ messages: user('hello'), signal: live() })).catch((e) => e);
    expect(refused).toBeInstanceOf(LlmError);
    expect(refused.code).toBe('request');
    expect(refused.message).toContain('ECONNREFUSED');
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(down.prewarm()).rejects.toThrow(/ECONNREFUSED/);
  });

  it('prewarms the connection and reuses it for every turn', async () => {
    const llm = llmFor();
    const before = server.connections;
    const listings = server.modelListings;
    await llm.prewarm();
    expect(server.modelListings).toBe(listings + 1);
    for (const turn of ['one', 'two', 'three']) {
      expect(text(await collect(llm.chat({ messages: user(turn), signal: live() })))).toBe(`echo ${turn}`);
    }
    expect(server.connections - before).toBe(1);
    await llm.close();
  });

  it('never puts the key in an error message', async () => {
    scripts.leak = { error: { status: 401, message: `Incorrect API key provided: ${KEY}`, type: 'auth' } };
    const error = await collect(llmFor().chat({ messages: user('leak'), signal: live() })).catch((e) => e);
    expect(error.message).toContain('401');
    expect(error.message).not.toContain(KEY);
    expect(error.message).toContain('[redacted]');
  });
});
