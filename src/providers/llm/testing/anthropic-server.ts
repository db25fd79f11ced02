import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { bearerToken, FakeHttpServer, readBody, sendJson } from '../../testing/http-fakes.ts';
import { CountRequestSchema, type Message, MessagesRequestSchema, type Prompt } from './anthropic-wire.ts';

export { MessagesRequestSchema } from './anthropic-wire.ts';

/**
 * A local stand-in for Anthropic's Messages API, written from its public reference: `POST /v1/messages` with
 * `stream: true` (SSE `message_start`, `content_block_start/delta/stop` with `text_delta` and
 * `input_json_delta`, `ping`, `message_delta`, `message_stop`, and `error` events), `POST
 * /v1/messages/count_tokens` and `GET /v1/models`. Requests are validated as the service does (`x-api-key` or a bearer token,
 * `anthropic-version`, `max_tokens` required, roles alternating from a user turn, `tool_result` answering a
 * `tool_use` of the previous turn); errors are `{type: "error", error: {type, message}}` with a `request-id`.
 * Prompt caching: a `cache_control` breakpoint writes the prefix up to it (tools, then system, then messages)
 * and a later request with the same prefix reads it (`cache_creation_input_tokens` / `cache_read_input_tokens`).
 * Faults are scripted per request: HTTP errors with `retry-after`, slow headers or first event, a drop or a
 * stall mid-stream, malformed data, an `overloaded_error` event.
 */

export type ParsedMessagesRequest = z.infer<typeof MessagesRequestSchema>;

export interface AnthropicReplyScript {
  text?: string;
  toolCalls?: { id: string; name: string; arguments: string }[];
  headersDelayMs?: number;
  firstEventDelayMs?: number;
  chunkIntervalMs?: number;
  /** Destroy the connection after this many content deltas. */
  dropAfterChunks?: number;
  /** Stop sending (keeping the connection) after this many content deltas. */
  stallAfterChunks?: number;
  /** Send an event whose data is not JSON after this many content deltas. */
  malformedAfterChunks?: number;
  /** Send an `error` event (`overloaded_error`) after this many content deltas. */
  overloadedAfterChunks?: number;
  stopReason?: 'end_turn' | 'max_tokens';
}

export type AnthropicScript =
  | AnthropicReplyScript
  | { error: { status: number; type: string; message: string; headers?: Record<string, string> } };

export interface AnthropicServerOptions {
  apiKey: string;
  script: (request: ParsedMessagesRequest, index: number) => AnthropicScript;
}

/** Tokens as this fake counts them: one per 4 characters of text, 3 per message, 5 per request. */
export function fakeTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export class FakeAnthropicServer {
  readonly requests: ParsedMessagesRequest[] = [];
  readonly rejected: { status: number; message: string }[] = [];
  readonly headers: IncomingMessage['headers'][] = [];
  countCalls = 0;
  modelListings = 0;
  cutShort = 0;
  private readonly cache = new Set<string>();
  private readonly http = new FakeHttpServer({ request: (req, res) => void this.handle(req, res) });

  private constructor(private readonly options: AnthropicServerOptions) {}

  static async start(options: AnthropicServerOptions): Promise<FakeAnthropicServer> {
    const server = new FakeAnthropicServer(options);
    await server.http.start();
    return server;
  }

  /** The SDK's `baseURL` (it appends `/v1/...`). */
  get baseURL(): string {
    return `http://127.0.0.1:${this.http.port}`;
  }

  get connections(): number {
    return this.http.connections;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private fail(
    res: ServerResponse,
    status: number,
    type: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    if (status < 500 || status === 429) this.rejected.push({ status, message });
    sendJson(
      res,
      status,
      { type: 'error', error: { type, message } },
      { 'request-id': `req_${randomUUID()}`, ...headers },
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    // The API takes the key as `x-api-key`; SDK 1.x sends it as `Authorization: Bearer`, which it also accepts.
    if (req.headers['x-api-key'] !== this.options.apiKey && bearerToken(req) !== this.options.apiKey) {
      return this.fail(res, 401, 'authentication_error', 'invalid x-api-key');
    }
    if (!req.headers['anthropic-version']) {
      return this.fail(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    }
    if (req.method === 'GET' && path === '/v1/models') {
      this.modelListings++;
      return sendJson(res, 200, {
        data: [
          {
            type: 'model',
            id: 'claude-test',
            display_name: 'Claude Test',
            created_at: '2026-01-01T00:00:00Z',
          },
        ],
        has_more: false,
        first_id: 'claude-test',
        last_id: 'claude-test',
      });
    }
    const counting = path === '/v1/messages/count_tokens';
    if (req.method !== 'POST' || (path !== '/v1/messages' && !counting)) {
      return this.fail(res, 404, 'not_found_error', `Not found: ${req.method} ${path}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req));
    } catch {
      return this.fail(res, 400, 'invalid_request_error', 'The request body is not valid JSON.');
    }
    const parsed = (counting ? CountRequestSchema : MessagesRequestSchema).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.fail(res, 400, 'invalid_request_error', `${issue.path.join('.')}: ${issue.message}`);
    }
    const conversationError = checkConversation(parsed.data.messages);
    if (conversationError) return this.fail(res, 400, 'invalid_request_error', conversationError);
    if (counting) {
      this.countCalls++;
      return sendJson(res, 200, { input_tokens: promptUnits(parsed.data).reduce((a, u) => a + u.tokens, 5) });
    }
    const body = parsed.data as ParsedMessagesRequest;
    const index = this.requests.length;
    this.requests.push(body);
    this.headers.push(req.headers);
    const script = this.options.script(body, index);
    if ('error' in script)
      return this.fail(
        res,
        script.error.status,
        script.error.type,
        script.error.message,
        script.error.headers,
      );
    await this.stream(res, body, script);
  }

  /** Input tokens split as the API reports them: cache read, cache written, and the rest. */
  private usage(request: ParsedMessagesRequest) {
    const units = promptUnits(request);
    const total = units.reduce((a, u) => a + u.tokens, 5);
    const last = units.findLastIndex((u) => u.breakpoint);
    if (last < 0) return { input_tokens: total, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const prefix = units.slice(0, last + 1);
    const prefixTokens = prefix.reduce((a, u) => a + u.tokens, 0);
    const key = createHash('sha256')
      .update(request.model)
      .update(JSON.stringify(prefix.map((u) => u.text)))
      .digest('hex');
    const hit = this.cache.has(key);
    this.cache.add(key);
    return {
      input_tokens: total - prefixTokens,
      cache_creation_input_tokens: hit ? 0 : prefixTokens,
      cache_read_input_tokens: hit ? prefixTokens : 0,
    };
  }

  private async stream(res: ServerResponse, request: ParsedMessagesRequest, script: AnthropicReplyScript) {
    res.on('close', () => {
      if (!res.writableEnded) this.cutShort++;
    });
    await this.http.sleep(script.headersDelayMs ?? 0);
    if (res.destroyed) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'request-id': `req_${randomUUID()}`,
    });
    res.flushHeaders();
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    await this.http.sleep(script.firstEventDelayMs ?? 0);
    if (res.destroyed) return;
    const usage = this.usage(request);
    send('message_start', {
      type: 'message_start',
      message: {
        id: `msg_${randomUUID().replaceAll('-', '')}`,
        type: 'message',
        role: 'assistant',
        model: request.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    send('ping', { type: 'ping' });
    // Each piece is one SSE event, counted as a content chunk for the faults.
    const pieces: [string, unknown][] = [];
    let block = 0;
    const words = script.text?.match(/\S+\s*|\s+/g) ?? [];
    if (words.length) {
      pieces.push([
        'content_block_start',
        { type: 'content_block_start', index: block, content_block: { type: 'text', text: '' } },
      ]);
      for (const w of words)
        pieces.push([
          'content_block_delta',
          { type: 'content_block_delta', index: block, delta: { type: 'text_delta', text: w } },
        ]);
      pieces.push(['content_block_stop', { type: 'content_block_stop', index: block }]);
      block++;
    }
    for (const call of script.toolCalls ?? []) {
      pieces.push([
        'content_block_start',
        {
          type: 'content_block_start',
          index: block,
          content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
        },
      ]);
      const half = Math.ceil(call.arguments.length / 2);
      for (const part of [call.arguments.slice(0, half), call.arguments.slice(half)]) {
        pieces.push([
          'content_block_delta',
          {
            type: 'content_block_delta',
            index: block,
            delta: { type: 'input_json_delta', partial_json: part },
          },
        ]);
      }
      pieces.push(['content_block_stop', { type: 'content_block_stop', index: block }]);
      block++;
    }
    let deltas = 0;
    for (const [event, data] of pieces) {
      if (event === 'content_block_delta') {
        if (deltas > 0) await this.http.sleep(script.chunkIntervalMs ?? 0);
        if (res.destroyed) return;
        if (script.dropAfterChunks !== undefined && deltas >= script.dropAfterChunks)
          return void res.socket?.destroy();
        if (script.stallAfterChunks !== undefined && deltas >= script.stallAfterChunks) return;
        if (script.malformedAfterChunks !== undefined && deltas >= script.malformedAfterChunks) {
          return void res.end(
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty\n\n',
          );
        }
        if (script.overloadedAfterChunks !== undefined && deltas >= script.overloadedAfterChunks) {
          send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
          return void res.end();
        }
        deltas++;
      }
      send(event, data);
    }
    const stop = script.toolCalls?.length ? 'tool_use' : (script.stopReason ?? 'end_turn');
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: Math.max(1, words.length) },
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }
}

interface PromptUnit {
  text: string;
  tokens: number;
  breakpoint: boolean;
}

/** The prompt in the order the API caches it (tools, system, messages), one unit per block. */
function promptUnits(request: z.infer<z.ZodObject<typeof Prompt>>): PromptUnit[] {
  const units: PromptUnit[] = [];
  for (const tool of request.tools ?? []) {
    const text = JSON.stringify(tool);
    units.push({ text, tokens: fakeTokens(text), breakpoint: tool.cache_control !== undefined });
  }
  const system =
    typeof request.system === 'string'
      ? [{ type: 'text' as const, text: request.system }]
      : (request.system ?? []);
  for (const b of system)
    units.push({
      text: b.text,
      tokens: fakeTokens(b.text),
      breakpoint: 'cache_control' in b && !!b.cache_control,
    });
  for (const m of request.messages) {
    const blocks = typeof m.content === 'string' ? [{ type: 'text' as const, text: m.content }] : m.content;
    blocks.forEach((b, i) => {
      const text =
        b.type === 'text' ? b.text : b.type === 'tool_use' ? JSON.stringify(b.input) + b.name : b.content;
      const overhead = i === 0 ? 3 : 0;
      units.push({
        text,
        tokens: fakeTokens(text) + overhead,
        breakpoint: b.type === 'text' && !!b.cache_control,
      });
    });
  }
  return units;
}

/** The conversation rules the API enforces, or undefined when they hold. */
function checkConversation(messages: z.infer<typeof Message>[]): string | undefined {
  if (messages[0].role !== 'user') return 'messages: the first message must use the "user" role';
  for (let i = 1; i < messages.length; i++) {
    if (messages[i].role === messages[i - 1].role)
      return `messages.${i}: roles must alternate between "user" and "assistant"`;
  }
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i].content;
    if (typeof content === 'string') continue;
    const results = content.filter((b) => b.type === 'tool_result');
    if (!results.length) continue;
    const previous = messages[i - 1]?.content;
    const asked = new Set(
      typeof previous === 'string' || !previous
        ? []
        : previous.flatMap((b) => (b.type === 'tool_use' ? [b.id] : [])),
    );
    for (const r of results) {
      if (r.type === 'tool_result' && !asked.has(r.tool_use_id)) {
        return `messages.${i}: tool_result block(s) provided for ${r.tool_use_id} without a tool_use in the previous message`;
      }
    }
    if (
      content.findIndex((b) => b.type !== 'tool_result') <
        content.findLastIndex((b) => b.type === 'tool_result') &&
      content.some((b) => b.type !== 'tool_result')
    ) {
      return `messages.${i}: tool_result blocks must come first in the user message`;
    }
  }
  return undefined;
}
