import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage, LlmChunk } from './contract.ts';
import { LlmError } from './errors.ts';
import { GoogleLlm, type GoogleLlmOptions } from './google.ts';
import { FakeGeminiServer, type GeminiScript, type GenerateRequest } from './testing/google-server.ts';

const KEY = 'AIza-test-0123456789abcdef';
let server: FakeGeminiServer;
let scripts: Record<string, GeminiScript | GeminiScript[]> = {};

const lastUser = (r: GenerateRequest) => {
  const turn = r.contents.filter((c) => c.role === 'user').at(-1);
  return (turn?.parts ?? []).map((p) => ('text' in p ? p.text : '[result]')).join(' ');
};

beforeAll(async () => {
  server = await FakeGeminiServer.start({
    apiKey: KEY,
    script: (r) => {
      const entry = scripts[lastUser(r)] ?? { text: `echo ${lastUser(r)}` };
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

const llmFor = (o: Partial<GoogleLlmOptions> = {}) =>
  new GoogleLlm({ model: 'gemini-test', apiKey: KEY, baseURL: server.baseURL, retryBaseDelayMs: 10, ...o });
async function collect(it: AsyncIterable<LlmChunk>, into: LlmChunk[] = []) {
  for await (const c of it) into.push(c);
  return into;
}
const live = () => new AbortController().signal;
const user = (content: string): ChatMessage[] => [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content },
];
const text = (chunks: LlmChunk[]) => chunks.map((c) => (c.type === 'text' ? c.delta : '')).join('');

describe('GoogleLlm against a local Gemini API server', () => {
  it('streams text and usage, with the system instruction and generation config', async () => {
    const chunks = await collect(llmFor({ maxTokens: 40 }).chat({ messages: user('hello'), signal: live() }));
    expect(text(chunks)).toBe('echo hello');
    expect(chunks.at(-1)).toMatchObject({ type: 'usage', completionTokens: 2, cachedTokens: 0 });
    expect(server.requests[0]).toMatchObject({
      model: 'gemini-test',
      body: {
        systemInstruction: { parts: [{ text: 'Be brief.' }] },
        generationConfig: { maxOutputTokens: 40 },
      },
    });
    expect(server.rejected).toEqual([]);
  });

  it('function calling round trip: the call comes whole, its result goes back as a functionResponse', async () => {
    scripts['weather in Oslo'] = {
      functionCalls: [{ id: 'fc1', name: 'get_weather', args: { city: 'Oslo' } }],
    };
    scripts['[result]'] = { text: 'Sunny in Oslo.' };
    const llm = llmFor();
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ];
    const messages = user('weather in Oslo');
    const chunks = await collect(llm.chat({ messages, tools, signal: live() }));
    const call = chunks.find((c) => c.type === 'toolCall') as Extract<LlmChunk, { type: 'toolCall' }>;
    expect(call.call).toEqual({ id: 'fc1', name: 'get_weather', arguments: '{"city":"Oslo"}' });
    messages.push(
      { role: 'assistant', content: '', toolCalls: [call.call] },
      { role: 'tool', toolCallId: 'fc1', content: '{"sky":"sunny"}' },
    );
    expect(text(await collect(llm.chat({ messages, tools, signal: live() })))).toBe('Sunny in Oslo.');
    expect(server.requests[1].body.contents.at(-1)).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { id: 'fc1', name: 'get_weather', response: { output: { sky: 'sunny' } } } },
      ],
    });
    expect(server.rejected).toEqual([]);
  });

  it('429 with a RetryInfo delay and a 503 are retried; a 400 is not', async () => {
    scripts.busy = [
      { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Quota', retryDelay: '0.05s' } },
      { error: { code: 503, status: 'UNAVAILABLE', message: 'Overloaded' } },
      { text: 'finally' },
    ];
    const llm = llmFor();
    expect(text(await collect(llm.chat({ messages: user('busy'), signal: live() })))).toBe('finally');
    scripts.bad = { error: { code: 400, status: 'INVALID_ARGUMENT', message: 'nope' } };
    await expect(collect(llm.chat({ messages: user('bad'), signal: live() }))).rejects.toThrow(/HTTP 400/);
  });

  it('a drop before output is retried; after output, a drop or malformed data fails the reply', async () => {
    scripts.early = [{ text: 'a b', dropAfterChunks: 0 }, { text: 'ok' }];
    const llm = llmFor();
    expect(text(await collect(llm.chat({ messages: user('early'), signal: live() })))).toBe('ok');
    scripts.late = { text: 'one two three four', dropAfterChunks: 2, chunkIntervalMs: 20 };
    const got: LlmChunk[] = [];
    await expect(collect(llm.chat({ messages: user('late'), signal: live() }), got)).rejects.toBeInstanceOf(
      LlmError,
    );
    expect(text(got)).toBe('one two ');
    scripts.junk = { text: 'one two three', malformedAfterChunks: 1, chunkIntervalMs: 20 };
    await expect(collect(llm.chat({ messages: user('junk'), signal: live() }))).rejects.toBeInstanceOf(
      LlmError,
    );
  });

  it('a slow first byte fails within the first-token budget; refused names the cause and never the key', async () => {
    scripts.slow = { text: 'late', headersDelayMs: 5_000 };
    await expect(
      collect(
        llmFor({ maxRetries: 0 }).chat({ messages: user('slow'), signal: live(), firstTokenBudgetMs: 300 }),
      ),
    ).rejects.toThrow(/no first token/);
    const refused = new GoogleLlm({
      model: 'gemini-test',
      apiKey: KEY,
      baseURL: 'http://127.0.0.1:1',
      maxRetries: 1,
      retryBaseDelayMs: 5,
    });
    const error = (await collect(refused.chat({ messages: user('x'), signal: live() })).catch(
      (e) => e,
    )) as Error;
    expect(error).toBeInstanceOf(LlmError);
    expect(error.message).toMatch(/ECONNREFUSED|fetch failed/);
    expect(error.message).not.toContain(KEY);
  });
});
