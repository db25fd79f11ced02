import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';

/**
 * A local stand-in for OpenAI's `POST /v1/audio/speech` (and `GET /v1/models` for warm-up), from the public API
 * reference: the JSON body is validated (model, input up to 4096 characters, a known voice, response_format,
 * speed 0.25-4; `instructions` only for gpt-4o-mini-tts), errors come as `{error: {message, type, param, code}}`,
 * and `pcm` audio streams as raw 24 kHz PCM16 LE in chunks that may split a sample. The audio is a tone lasting
 * `msPerCharacter` per input character, so a test can tell which text it came from.
 */

export const OPENAI_VOICES = [
  'alloy',
  'ash',
  'ballad',
  'coral',
  'echo',
  'fable',
  'nova',
  'onyx',
  'sage',
  'shimmer',
  'verse',
] as const;

export const SpeechRequestSchema = z
  .object({
    model: z.enum(['tts-1', 'tts-1-hd', 'gpt-4o-mini-tts']),
    input: z.string().min(1).max(4096),
    voice: z.enum(OPENAI_VOICES),
    response_format: z.enum(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']).optional(),
    speed: z.number().min(0.25).max(4).optional(),
    instructions: z.string().optional(),
  })
  .strict();

export type ParsedSpeechRequest = z.infer<typeof SpeechRequestSchema>;

export interface SpeechScript {
  /** Before the response headers. */
  headersDelayMs?: number;
  /** After the headers, before the first audio bytes. */
  firstByteDelayMs?: number;
  /** Between audio chunks. Default 0. */
  chunkIntervalMs?: number;
  /** Cut the connection after this many bytes of audio. */
  dropAfterBytes?: number;
  error?: {
    status: number;
    message: string;
    type: string;
    code?: string | null;
    headers?: Record<string, string>;
  };
}

export interface OpenAiSpeechServerOptions {
  apiKey?: string;
  /** Per-request faults and pacing (index counts accepted requests). Default: stream at once. */
  script?: (request: ParsedSpeechRequest, index: number) => SpeechScript;
  msPerCharacter?: number;
}

export const SPEECH_SAMPLE_RATE = 24_000;
/** Odd on purpose: clients must carry a torn sample across chunks. */
const CHUNK_BYTES = 4801;

export class OpenAiSpeechServer {
  readonly requests: ParsedSpeechRequest[] = [];
  readonly rejected: { status: number; message: string }[] = [];
  connections = 0;
  modelListings = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private port = 0;

  private constructor(private readonly options: OpenAiSpeechServerOptions) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: OpenAiSpeechServerOptions = {}): Promise<OpenAiSpeechServer> {
    const server = new OpenAiSpeechServer(options);
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    server.port = (server.server.address() as AddressInfo).port;
    return server;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Samples the server sends for `input`. */
  samplesFor(input: string): number {
    return Math.round((input.length * (this.options.msPerCharacter ?? 50) * SPEECH_SAMPLE_RATE) / 1000);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private fail(res: ServerResponse, status: number, message: string, type: string, extra = {}): void {
    const {
      code = null,
      param = null,
      headers = {},
    } = extra as {
      code?: string | null;
      param?: string | null;
      headers?: Record<string, string>;
    };
    if (status < 500) this.rejected.push({ status, message });
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { message, type, param, code } }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const token = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : '';
    if (!token || (this.options.apiKey !== undefined && token !== this.options.apiKey)) {
      return this.fail(res, 401, 'Incorrect API key provided.', 'invalid_request_error', {
        code: 'invalid_api_key',
      });
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      this.modelListings++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [] }));
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/audio/speech') {
      return this.fail(
        res,
        404,
        `Unknown request URL: ${req.method} ${url.pathname}`,
        'invalid_request_error',
      );
    }
    let raw = '';
    for await (const part of req) raw += part;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return this.fail(
        res,
        400,
        'We could not parse the JSON body of your request.',
        'invalid_request_error',
      );
    }
    const parsed = SpeechRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.fail(res, 400, `Invalid request: ${issue.message}`, 'invalid_request_error', {
        param: issue.path.join('.'),
      });
    }
    const request = parsed.data;
    if (request.instructions !== undefined && request.model !== 'gpt-4o-mini-tts') {
      return this.fail(res, 400, 'instructions are not supported for this model', 'invalid_request_error', {
        param: 'instructions',
      });
    }
    if ((request.response_format ?? 'mp3') !== 'pcm') {
      return this.fail(res, 400, 'this test server only produces pcm', 'invalid_request_error', {
        param: 'response_format',
      });
    }
    const index = this.requests.length;
    this.requests.push(request);
    const script = this.options.script?.(request, index) ?? {};
    if (script.error) {
      const { status, message, type, code, headers } = script.error;
      return this.fail(res, status, message, type, { code, headers });
    }
    await this.sleep(script.headersDelayMs ?? 0);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'audio/pcm', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    await this.sleep(script.firstByteDelayMs ?? 0);
    const audio = tone(this.samplesFor(request.input));
    for (let offset = 0; offset < audio.length; offset += CHUNK_BYTES) {
      if (offset > 0) await this.sleep(script.chunkIntervalMs ?? 0);
      if (res.destroyed) return;
      if (script.dropAfterBytes !== undefined && offset >= script.dropAfterBytes) {
        res.socket?.destroy();
        return;
      }
      res.write(audio.subarray(offset, offset + CHUNK_BYTES));
    }
    res.end();
  }
}

/** A 440 Hz tone as PCM16 LE bytes. */
function tone(samples: number): Buffer {
  const out = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    out.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / SPEECH_SAMPLE_RATE)), i * 2);
  }
  return out;
}
