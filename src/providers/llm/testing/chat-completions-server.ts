import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { bearerToken, FakeHttpServer, readOpenAiJson, sendJson } from '../../testing/http-fakes.ts';

/**
 * A local stand-in for OpenAI's Chat Completions API (`POST /v1/chat/completions` with `stream: true`, and
 * `GET /v1/models`), written from the public API reference: it validates each request as the real service would
 * (a malformed one gets a 400 with an `{error: {message, type, param, code}}` body) and streams
 * `chat.completion.chunk` events over SSE. Faults are scripted per request: HTTP errors with `retry-after`, slow
 * headers or first chunk, a connection dropped mid-stream, a stream that stalls.
 */

const ToolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const MessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: z.string() }),
  z.object({ role: z.literal('developer'), content: z.string() }),
  z.object({ role: z.literal('user'), content: z.string() }),
  z.object({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    tool_calls: z.array(ToolCallSchema).min(1).optional(),
  }),
  z.object({ role: z.literal('tool'), tool_call_id: z.string().min(1), content: z.string() }),
]);

export const ChatRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(MessageSchema).min(1),
    stream: z.literal(true),
    stream_options: z.object({ include_usage: z.boolean() }).strict().optional(),
    tools: z
      .array(
        z.object({
          type: z.literal('function'),
          function: z.object({
            name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
            description: z.string().optional(),
            parameters: z.record(z.string(), z.unknown()).optional(),
          }),
        }),
      )
      .optional(),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
  })
  .strict();

export type ParsedChatRequest = z.infer<typeof ChatRequestSchema>;

export interface ChatReplyScript {
  text?: string;
  toolCalls?: { id: string; name: string; arguments: string }[];
  /** Usage in the final chunk (when the client asked for it). Default counts words. */
  usage?: { promptTokens: number; completionTokens: number; cachedTokens?: number };
  /** Before the response headers. */
  headersDelayMs?: number;
  /** After the headers, before the first chunk. */
  firstChunkDelayMs?: number;
  /** Between chunks. Default 0. */
  chunkIntervalMs?: number;
  /** Destroy the connection after this many content chunks. */
  dropAfterChunks?: number;
  /** Stop sending (but keep the connection) after this many content chunks. */
  stallAfterChunks?: number;
  /** Send an event whose data is not JSON (a broken proxy, a truncated write) after this many content chunks. */
  malformedAfterChunks?: number;
}

export interface ChatErrorScript {
  status: number;
  message: string;
  type: string;
  code?: string | null;
  headers?: Record<string, string>;
}

export type ChatScript = ChatReplyScript | { error: ChatErrorScript };

export interface ChatCompletionsServerOptions {
  /** Requests must carry `Authorization: Bearer <apiKey>`. Unset: any bearer token. */
  apiKey?: string;
  /** The reply to each accepted request (index counts accepted requests from 0). */
  script: (request: ParsedChatRequest, index: number) => ChatScript;
}

export interface RecordedChatRequest {
  body: ParsedChatRequest;
  authorization: string | undefined;
  at: number;
}

export class ChatCompletionsServer {
  readonly requests: RecordedChatRequest[] = [];
  /** Requests refused with a 4xx before reaching the script (bad JSON, bad shape, bad key). */
  readonly rejected: { status: number; message: string }[] = [];
  modelListings = 0;
  /** Streams whose connection closed before the server finished them (client aborts, drops). */
  cutShort = 0;
  private readonly http = new FakeHttpServer({ request: (req, res) => void this.handle(req, res) });

  private constructor(private readonly options: ChatCompletionsServerOptions) {}

  static async start(options: ChatCompletionsServerOptions): Promise<ChatCompletionsServer> {
    const server = new ChatCompletionsServer(options);
    await server.http.start();
    return server;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.http.connections;
  }

  /** The `baseURL` a client uses: `http://127.0.0.1:<port>/v1`. */
  get baseURL(): string {
    return `http://127.0.0.1:${this.http.port}/v1`;
  }

  /** Drops every open connection, as a crashed server or a network cut would. */
  dropConnections(): void {
    this.http.dropConnections();
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorization = req.headers.authorization;
    const authError = this.checkAuth(bearerToken(req));
    if (authError) return this.fail(res, 401, authError, 'invalid_request_error', 'invalid_api_key');
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      this.modelListings++;
      return sendJson(res, 200, {
        object: 'list',
        data: [{ id: 'test-model', object: 'model', owned_by: 'test' }],
      });
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/chat/completions') {
      return this.fail(
        res,
        404,
        `Unknown request URL: ${req.method} ${url.pathname}`,
        'invalid_request_error',
      );
    }
    if (!String(req.headers['content-type']).startsWith('application/json')) {
      return this.fail(res, 400, 'expected a JSON body', 'invalid_request_error');
    }
    const body = await readOpenAiJson(req, ChatRequestSchema, (message, param) =>
      this.fail(res, 400, message, 'invalid_request_error', null, { param }),
    );
    if (!body) return;
    const index = this.requests.length;
    this.requests.push({ body, authorization, at: performance.now() });
    const script = this.options.script(body, index);
    if ('error' in script) {
      const e = script.error;
      return this.fail(res, e.status, e.message, e.type, e.code ?? null, {}, e.headers);
    }
    await this.stream(res, body, script);
  }

  private checkAuth(token: string | undefined): string | undefined {
    if (!token) return "You didn't provide an API key.";
    if (this.options.apiKey !== undefined && token !== this.options.apiKey) {
      return 'Incorrect API key provided.';
    }
    return undefined;
  }

  private fail(
    res: ServerResponse,
    status: number,
    message: string,
    type: string,
    code: string | null = null,
    extra: { param?: string } = {},
    headers: Record<string, string> = {},
  ): void {
    if (status < 500 || status === 429) this.rejected.push({ status, message });
    sendJson(res, status, { error: { message, type, param: extra.param ?? null, code } }, headers);
  }

  private async stream(
    res: ServerResponse,
    request: ParsedChatRequest,
    script: ChatReplyScript,
  ): Promise<void> {
    res.on('close', () => {
      if (!res.writableEnded) this.cutShort++;
    });
    await this.http.sleep(script.headersDelayMs ?? 0);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const includeUsage = request.stream_options?.include_usage === true;
    const base = { id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 1, model: request.model };
    const send = (choices: unknown[], usage: unknown = null) =>
      res.write(
        `data: ${JSON.stringify({ ...base, system_fingerprint: 'fp_test', choices, ...(includeUsage ? { usage } : {}) })}\n\n`,
      );
    const delta = (d: Record<string, unknown>, finish: string | null = null) =>
      send([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);

    await this.http.sleep(script.firstChunkDelayMs ?? 0);
    if (res.destroyed) return;
    const tokens = script.text?.match(/\S+\s*|\s+/g) ?? [];
    const pieces: Record<string, unknown>[] = tokens.map((t, i) =>
      i === 0 ? { role: 'assistant', content: t } : { content: t },
    );
    (script.toolCalls ?? []).forEach((call, index) => {
      const half = Math.ceil(call.arguments.length / 2);
      pieces.push({
        ...(pieces.length === 0 ? { role: 'assistant', content: null } : {}),
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
      });
      pieces.push({ tool_calls: [{ index, function: { arguments: call.arguments.slice(0, half) } }] });
      pieces.push({ tool_calls: [{ index, function: { arguments: call.arguments.slice(half) } }] });
    });
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0) await this.http.sleep(script.chunkIntervalMs ?? 0);
      if (res.destroyed) return;
      if (script.dropAfterChunks !== undefined && i >= script.dropAfterChunks) {
        res.socket?.destroy();
        return;
      }
      if (script.stallAfterChunks !== undefined && i >= script.stallAfterChunks) return;
      if (script.malformedAfterChunks !== undefined && i >= script.malformedAfterChunks) {
        res.end('data: {"id":"chatcmpl-test","choices":[{"index":0,"delta":{"content":"tru\n\n');
        return;
      }
      delta(pieces[i]);
    }
    delta({}, script.toolCalls?.length ? 'tool_calls' : 'stop');
    if (includeUsage) {
      const usage = script.usage ?? {
        promptTokens: request.messages.length * 10,
        completionTokens: tokens.length,
      };
      send([], {
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        total_tokens: usage.promptTokens + usage.completionTokens,
        prompt_tokens_details: { cached_tokens: usage.cachedTokens ?? 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      });
    }
    res.end('data: [DONE]\n\n');
  }
}
