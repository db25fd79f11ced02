/**
 * The LLM of the chaos server: a loopback OpenAI-compatible Chat Completions endpoint (validated with the
 * provider fake's request schema) whose behaviour is chosen by the latest user message. The canary's turns
 * (transcribed LibriVox speech) get a short, steady reply; a misbehaving client picks a fault by saying its
 * marker (`chaos-500`, …), so a provider fault hits only the sessions that asked for it, as one tenant's bad
 * upstream would, and the canary shows whether that fault leaks into another session.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ChatRequestSchema,
  type ParsedChatRequest,
} from '../../../src/providers/llm/testing/chat-completions-server.ts';
import { FakeHttpServer, readOpenAiJson, sendJson } from '../../../src/providers/testing/http-fakes.ts';

export const LLM_FAULTS = ['refuse', '500', '429', 'hang', 'drop', 'malformed'] as const;
export type LlmFault = (typeof LLM_FAULTS)[number];

/** What a misbehaving client says to get a fault: "chaos-<fault> …". */
export const faultMarker = (fault: LlmFault) => `chaos-${fault}`;

export const CANARY_REPLY = 'Sure, I can help with that.';
/** For "tell me a story": a reply long enough to close a connection at varied points of it. */
export const STORY_REPLY =
  'Once upon a time a small fox lived at the edge of a wood. Every morning she walked to the river to watch ' +
  'the boats, and every evening she climbed the hill to count the stars, one by one, until she fell asleep.';

export interface FaultLlmOptions {
  /** Before the first chunk of a normal reply, ms: a steady stand-in for a hosted model's TTFT. */
  firstChunkDelayMs?: number;
  /** Between chunks of a normal reply, ms. */
  chunkIntervalMs?: number;
}

export class FaultLlm {
  /** Requests answered, by fault ('none' for normal replies). */
  readonly served = new Map<LlmFault | 'none', number>();
  /** Streams held open now (a `hang` keeps its response open until the client gives up). */
  openStreams = 0;
  private readonly http = new FakeHttpServer({ request: (req, res) => void this.handle(req, res) });

  private constructor(private readonly options: FaultLlmOptions) {}

  static async start(options: FaultLlmOptions = {}): Promise<FaultLlm> {
    const llm = new FaultLlm(options);
    await llm.http.start();
    return llm;
  }

  get port(): number {
    return this.http.port;
  }

  /** The `--llm` spec for `repartee serve`. */
  get spec(): string {
    return `openai-compatible:http://127.0.0.1:${this.http.port}/v1#chaos-model`;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      return sendJson(res, 404, {
        error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' },
      });
    }
    const body = await readOpenAiJson(req, ChatRequestSchema, (message, param) =>
      sendJson(res, 400, {
        error: { message, type: 'invalid_request_error', param: param ?? null, code: null },
      }),
    );
    if (!body) return;
    const fault = faultOf(body);
    this.served.set(fault ?? 'none', (this.served.get(fault ?? 'none') ?? 0) + 1);
    switch (fault) {
      case 'refuse':
        // The connection is cut before any answer: what a refused or reset upstream looks like to the client.
        return void req.socket.destroy();
      case '500':
        return sendJson(res, 500, {
          error: { message: 'The server had an error', type: 'server_error', code: null },
        });
      case '429':
        return sendJson(
          res,
          429,
          { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
          { 'retry-after': '1' },
        );
      case 'hang':
        // Headers, then nothing, for as long as the client keeps the connection.
        this.track(res);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        return;
      case 'drop':
        this.track(res);
        await this.stream(res, body, STORY_REPLY, 3);
        return void res.socket?.destroy();
      case 'malformed':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(
          'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel\n\n',
        );
        res.write('data: not json at all\n\n');
        res.write(': a comment\n\nevent: weird\ndata: {"choices": 7}\n\n');
        res.end('data: [DONE]\n\n');
        return;
      default: {
        const last = lastUserText(body);
        this.track(res);
        await this.stream(res, body, /story/i.test(last) ? STORY_REPLY : CANARY_REPLY);
        res.end('data: [DONE]\n\n');
      }
    }
  }

  private track(res: ServerResponse): void {
    this.openStreams++;
    res.once('close', () => this.openStreams--);
  }

  /** Streams `text` word by word as chat.completion.chunk events; stops after `maxChunks` if given. */
  private async stream(res: ServerResponse, request: ParsedChatRequest, text: string, maxChunks = Infinity) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    await this.http.sleep(this.options.firstChunkDelayMs ?? 80);
    const words = text.match(/\S+\s*/g) ?? [];
    const chunk = (delta: object, finish: string | null = null) =>
      `data: ${JSON.stringify({
        id: 'chatcmpl-chaos',
        object: 'chat.completion.chunk',
        created: 1,
        model: request.model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      })}\n\n`;
    for (let i = 0; i < words.length && i < maxChunks; i++) {
      if (res.destroyed) return;
      if (i > 0) await this.http.sleep(this.options.chunkIntervalMs ?? 15);
      res.write(chunk(i === 0 ? { role: 'assistant', content: words[i] } : { content: words[i] }));
    }
    if (maxChunks === Infinity && !res.destroyed) res.write(chunk({}, 'stop'));
  }
}

function lastUserText(request: ParsedChatRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i];
    if (message.role === 'user') return message.content;
  }
  return '';
}

function faultOf(request: ParsedChatRequest): LlmFault | undefined {
  const text = lastUserText(request).toLowerCase();
  return LLM_FAULTS.find((fault) => text.includes(faultMarker(fault)));
}
