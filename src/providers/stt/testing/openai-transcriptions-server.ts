import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { decodeWav } from '../../../audio/wav.ts';
import { FakeHttpServer, type Rejection } from '../../testing/http-fakes.ts';
import { decodeWords } from './coded-speech.ts';

/** How one transcription request (in arrival order) misbehaves. */
export interface TranscriptionRequestPlan {
  /** Answer with this status and body instead, e.g. a 429 with `retry-after`. */
  reject?: Rejection;
  /** Wait this long before answering (a slow first byte). */
  delayMs?: number;
  /** Cut the connection without an answer. */
  drop?: boolean;
}

export interface TranscriptionsServerOptions {
  apiKey: string;
  vocabulary: readonly string[];
  requests?: TranscriptionRequestPlan[];
  /**
   * The language of each vocabulary word (whisper's English names: `english`, `spanish`); the language a
   * `verbose_json` answer reports is the one most of the utterance's words have. Default: all `english`.
   */
  wordLanguages?: Readonly<Record<string, string>>;
}

export interface TranscriptionRecord {
  index: number;
  model?: string;
  language?: string;
  responseFormat?: string;
  fileName?: string;
  sampleRate?: number;
  audioMs?: number;
  status: number;
  text?: string;
}

const MODELS = new Set(['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe']);

/**
 * A local server for OpenAI's `POST /v1/audio/transcriptions` (multipart form: `file`, `model`, `language`,
 * `response_format`, `prompt`) and `GET /v1/models/{id}`, with the API's JSON error bodies. The WAV is decoded and
 * its tone-coded words transcribed (see coded-speech.ts).
 */
export class FakeOpenAiTranscriptionsServer {
  readonly records: TranscriptionRecord[] = [];
  modelLookups = 0;
  private readonly http: FakeHttpServer;

  constructor(private readonly options: TranscriptionsServerOptions) {
    this.http = new FakeHttpServer({ request: (req, res) => void this.handle(req, res) });
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  /** The base URL the `openai` client takes (`http://127.0.0.1:PORT/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.http.port}/v1`;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const fail = (
      status: number,
      message: string,
      type = 'invalid_request_error',
      code: string | null = null,
    ) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type, param: null, code } }));
      return status;
    };
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      req.resume();
      fail(
        401,
        'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com.',
        'invalid_request_error',
        'invalid_api_key',
      );
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/v1/models/')) {
      this.modelLookups++;
      const id = decodeURIComponent(url.pathname.slice('/v1/models/'.length));
      if (!MODELS.has(id)) {
        fail(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, object: 'model', created: 1_700_000_000, owned_by: 'openai' }));
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/audio/transcriptions') {
      req.resume();
      fail(404, `Invalid URL (${req.method} ${url.pathname})`);
      return;
    }
    const record: TranscriptionRecord = { index: this.records.length, status: 0 };
    this.records.push(record);
    const plan = this.options.requests?.[record.index] ?? {};
    let form: FormData;
    try {
      form = await new Request('http://localhost/', {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body: Readable.toWeb(req) as ReadableStream,
        duplex: 'half',
      } as RequestInit).formData();
    } catch (error) {
      record.status = fail(400, `Could not parse multipart form: ${(error as Error).message}`);
      return;
    }
    if (plan.delayMs) await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
    if (plan.drop) {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (plan.reject) {
      record.status = plan.reject.status;
      res.writeHead(plan.reject.status, { 'content-type': 'application/json', ...plan.reject.headers });
      res.end(
        plan.reject.body ?? JSON.stringify({ error: { message: 'planned failure', type: 'server_error' } }),
      );
      return;
    }
    const model = form.get('model');
    const language = form.get('language');
    const responseFormat = form.get('response_format') ?? 'json';
    const file = form.get('file');
    record.model = typeof model === 'string' ? model : undefined;
    record.language = typeof language === 'string' ? language : undefined;
    record.responseFormat = typeof responseFormat === 'string' ? responseFormat : undefined;
    if (!record.model || !MODELS.has(record.model)) {
      record.status = fail(400, `Invalid model ${String(model)}`, 'invalid_request_error', 'invalid_value');
      return;
    }
    if (record.responseFormat === 'verbose_json' && record.model !== 'whisper-1') {
      record.status = fail(
        400,
        `response_format 'verbose_json' is not compatible with model '${record.model}'. Use 'json' or 'text' instead.`,
        'invalid_request_error',
        'unsupported_value',
      );
      return;
    }
    if (record.language !== undefined && !/^[a-z]{2}$/.test(record.language)) {
      record.status = fail(
        400,
        `Invalid language '${record.language}': use ISO-639-1`,
        'invalid_request_error',
      );
      return;
    }
    if (!(file instanceof Blob)) {
      record.status = fail(400, "Missing required parameter: 'file'.");
      return;
    }
    record.fileName = (file as File).name;
    let samples: Int16Array;
    let sampleRate: number;
    try {
      ({ samples, sampleRate } = decodeWav(new Uint8Array(await file.arrayBuffer())));
    } catch (error) {
      record.status = fail(400, `Invalid file format. ${(error as Error).message}`);
      return;
    }
    record.sampleRate = sampleRate;
    record.audioMs = (samples.length * 1000) / sampleRate;
    if (record.audioMs < 100) {
      record.status = fail(
        400,
        'Audio file is too short. Minimum audio length is 0.1 seconds.',
        'invalid_request_error',
        'audio_too_short',
      );
      return;
    }
    const words = decodeWords(this.options.vocabulary, samples, sampleRate).map((w) => w.word);
    const text = words.join(' ');
    record.text = text;
    record.status = 200;
    if (responseFormat === 'text') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(text);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (responseFormat === 'verbose_json') {
      const language = majorityLanguage(words, this.options.wordLanguages) ?? 'english';
      const duration = record.audioMs / 1000;
      res.end(
        JSON.stringify({
          task: 'transcribe',
          language,
          duration,
          text,
          segments: [{ id: 0, seek: 0, start: 0, end: duration, text, tokens: [], temperature: 0 }],
          usage: { type: 'duration', seconds: Math.ceil(duration) },
        }),
      );
      return;
    }
    res.end(JSON.stringify({ text, usage: { type: 'duration', seconds: Math.ceil(record.audioMs / 1000) } }));
  }
}

/** The language most of `words` have (ties: the first word's), in whisper's naming. */
export function majorityLanguage(
  words: readonly string[],
  languages: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const counts = new Map<string, number>();
  for (const word of words) {
    const language = languages?.[word];
    if (language) counts.set(language, (counts.get(language) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [language, count] of counts) if (!best || count > (counts.get(best) ?? 0)) best = language;
  return best;
}
