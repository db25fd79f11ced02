import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlmChunk } from './contract.ts';
import { LlmError } from './errors.ts';
import { OpenAiCompatibleLlm } from './openai-compatible.ts';

/** A Chat Completions server speaking the SSE wire format, scripted by the last user message. */
let server: Server;
let baseURL: string;
let lastBody: Record<string, unknown> | undefined;
let lastAuth: string | undefined;
let slowClosed: Promise<number>;
let markSlowClosed: (sent: number) => void;

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'test-model',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const usage = {
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'test-model',
  choices: [],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 3,
    total_tokens: 15,
    prompt_tokens_details: { cached_tokens: 8 },
  },
};

function send(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let raw = '';
  for await (const part of req) raw += part;
  lastBody = JSON.parse(raw);
  lastAuth = req.headers.authorization;
  const messages = (lastBody?.messages ?? []) as { role: string; content: string }[];
  const script = messages.filter((m) => m.role === 'user').at(-1)?.content;
  if (script === 'error') {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'model exploded', type: 'server_error' } }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  switch (script) {
    case 'hello':
      send(res, chunk({ role: 'assistant', content: '' }));
      for (const piece of ['Hel', 'lo', ' world']) send(res, chunk({ content: piece }));
      send(res, chunk({}, 'stop'));
      send(res, usage);
      break;
    case 'tool':
      send(res, chunk({ role: 'assistant', content: 'Checking.' }));
      send(
        res,
        chunk({
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        }),
      );
      for (const piece of ['{"ci', 'ty": "Os', 'lo"}']) {
        send(res, chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      }
      send(
        res,
        chunk({
          tool_calls: [
            { index: 1, id: 'call_b', type: 'function', function: { name: 'hang_up', arguments: '{}' } },
          ],
        }),
      );
      send(res, chunk({}, 'tool_calls'));
      break;
    case 'slow': {
      let sent = 0;
      const timer = setInterval(() => send(res, chunk({ content: `t${sent++} ` })), 20);
      res.on('close', () => {
        clearInterval(timer);
        markSlowClosed(sent);
      });
      return;
    }
    case 'stall':
      send(res, chunk({ content: 'one' }));
      return; // never ends
  }
  res.write('data: [DONE]\n\n');
  res.end();
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function collect(iterable: AsyncIterable<LlmChunk>): Promise<LlmChunk[]> {
  const out: LlmChunk[] = [];
  for await (const c of iterable) out.push(c);
  return out;
}
const live = () => new AbortController().signal;
const user = (content: string) => [{ role: 'user' as const, content }];

describe('OpenAiCompatibleLlm against a local SSE server', () => {
  it('streams text deltas and the usage chunk with cached tokens', async () => {
    const llm = new OpenAiCompatibleLlm({
      baseURL,
      model: 'test-model',
      apiKey: 'k',
      temperature: 0.2,
      maxTokens: 50,
    });
    const chunks = await collect(llm.chat({ messages: user('hello'), signal: live() }));
    expect(chunks).toEqual([
      { type: 'text', delta: 'Hel' },
      { type: 'text', delta: 'lo' },
      { type: 'text', delta: ' world' },
      { type: 'usage', promptTokens: 12, completionTokens: 3, cachedTokens: 8 },
    ]);
    expect(lastBody).toMatchObject({
      model: 'test-model',
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 50,
    });
    expect(lastAuth).toBe('Bearer k');
  });

  it('joins a tool call split over several deltas, and sends tools and tool history in wire format', async () => {
    const llm = new OpenAiCompatibleLlm({ baseURL, model: 'm' });
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
    expect(chunks).toEqual([
      { type: 'text', delta: 'Checking.' },
      { type: 'toolCall', call: { id: 'call_a', name: 'get_weather', arguments: '{"city": "Oslo"}' } },
      { type: 'toolCall', call: { id: 'call_b', name: 'hang_up', arguments: '{}' } },
    ]);
    expect(lastBody?.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather',
          parameters: { type: 'object', properties: {} },
        },
      },
    ]);
    expect(lastBody?.messages).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'before' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c0', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c0', content: '"ok"' },
      { role: 'user', content: 'tool' },
    ]);
  });

  it('stops at once on abort mid-stream and closes the connection', async () => {
    slowClosed = new Promise((r) => {
      markSlowClosed = r;
    });
    const llm = new OpenAiCompatibleLlm({ baseURL, model: 'm' });
    const ac = new AbortController();
    let deltas = 0;
    let abortedAt = 0;
    for await (const c of llm.chat({ messages: user('slow'), signal: ac.signal })) {
      if (c.type === 'text' && ++deltas === 3) {
        abortedAt = performance.now();
        ac.abort();
      }
    }
    expect(performance.now() - abortedAt).toBeLessThan(50);
    expect(deltas).toBe(3);
    const sent = await slowClosed;
    expect(sent).toBeLessThan(10);
  });

  it('fails with a timeout when the stream stalls', async () => {
    const llm = new OpenAiCompatibleLlm({ baseURL, model: 'm', idleTimeoutMs: 150 });
    const seen: LlmChunk[] = [];
    const error = await (async () => {
      for await (const c of llm.chat({ messages: user('stall'), signal: live() })) seen.push(c);
    })().catch((e) => e);
    expect(seen).toEqual([{ type: 'text', delta: 'one' }]);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('timeout');
  });

  it('reports HTTP errors and unreachable servers as typed errors', async () => {
    const llm = new OpenAiCompatibleLlm({ baseURL, model: 'm' });
    const http = await collect(llm.chat({ messages: user('error'), signal: live() })).catch((e) => e);
    expect(http).toBeInstanceOf(LlmError);
    expect(http.message).toContain('500');
    expect(http.message).toContain('model exploded');

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = new OpenAiCompatibleLlm({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'm' });
    const started = performance.now();
    const refused = await collect(down.chat({ messages: user('hello'), signal: live() })).catch((e) => e);
    expect(refused).toBeInstanceOf(LlmError);
    expect(refused.code).toBe('request');
    expect(refused.message).toContain('ECONNREFUSED');
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
