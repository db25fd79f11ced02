import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { bearerToken, FakeHttpServer, readOpenAiJson, sendJson, startPcm } from '../../testing/http-fakes.ts';

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
  modelListings = 0;
  private readonly http = new FakeHttpServer({ request: (req, res) => void this.handle(req, res) });

  private constructor(private readonly options: OpenAiSpeechServerOptions) {}

  static async start(options: OpenAiSpeechServerOptions = {}): Promise<OpenAiSpeechServer> {
    const server = new OpenAiSpeechServer(options);
    await server.http.start();
    return server;
  }

  /** TCP connections accepted so far. */
  get connections(): number {
    return this.http.connections;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.http.port}/v1`;
  }

  /** Samples the server sends for `input`. */
  samplesFor(input: string): number {
    return Math.round((input.length * (this.options.msPerCharacter ?? 50) * SPEECH_SAMPLE_RATE) / 1000);
  }

  close(): Promise<void> {
    return this.http.close();
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
    sendJson(res, status, { error: { message, type, param, code } }, headers);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const token = bearerToken(req);
    if (!token || (this.options.apiKey !== undefined && token !== this.options.apiKey)) {
      return this.fail(res, 401, 'Incorrect API key provided.', 'invalid_request_error', {
        code: 'invalid_api_key',
      });
    }
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      this.modelListings++;
      return sendJson(res, 200, { object: 'list', data: [] });
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/audio/speech') {
      return this.fail(
        res,
        404,
        `Unknown request URL: ${req.method} ${url.pathname}`,
        'invalid_request_error',
      );
    }
    const request = await readOpenAiJson(req, SpeechRequestSchema, (message, param) =>
      this.fail(res, 400, message, 'invalid_request_error', { param }),
    );
    if (!request) return;
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
    await this.http.sleep(script.headersDelayMs ?? 0);
    if (res.destroyed) return;
    startPcm(res);
    await this.http.sleep(script.firstByteDelayMs ?? 0);
    const audio = tone(this.samplesFor(request.input));
    for (let offset = 0; offset < audio.length; offset += CHUNK_BYTES) {
      if (offset > 0) await this.http.sleep(script.chunkIntervalMs ?? 0);
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
