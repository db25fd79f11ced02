import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  toFile,
} from 'openai';
import { type AudioFrame, concatSamples, PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';
import { encodeWav } from '../../audio/wav.ts';
import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import {
  CloudSttError,
  kindOfStatus,
  nextRetry,
  parseRetryAfter,
  redactSecret,
  reportFatal,
} from './cloud-errors.ts';
import type { AudioEntry, SttLog } from './cloud-stream.ts';
import type { STT, SttListener, SttStream, SttStreamOptions, Transcript } from './contract.ts';
import { SilenceGate } from './openai-silence-gate.ts';
import { audioEntry, checkPipelineFrame } from './pipeline-frame.ts';

export interface OpenAiBatchSttOptions {
  apiKey: string;
  /** `whisper-1` (default), `gpt-4o-transcribe`, `gpt-4o-mini-transcribe`. */
  model?: string;
  /** Default `https://api.openai.com/v1`. */
  baseUrl?: string;
  /**
   * ISO-639-1; the stream's `language` wins (`en-US` → `en`). Default `en`. `multi`: none is sent and the
   * service detects it; whisper-1 is then asked for `verbose_json`, whose `language` each final carries (the
   * gpt-4o models return none: their finals carry no language).
   */
  language?: string;
  prompt?: string;
  /** One request, upload to answer. Default 15,000 ms. */
  requestTimeoutMs?: number;
  /** Further tries of one utterance on 429, 5xx, timeouts and connection errors. Default 3. */
  maxRetries?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A Retry-After longer than this is not waited for: the stream gives up so a fallback can serve. */
  maxRetryAfterMs?: number;
  /** See OpenAiRealtimeSttOptions.silenceGateDbfs. Default -50. */
  silenceGateDbfs?: number | null;
  preRollMs?: number;
  /** An utterance longer than this is sent without waiting for the end of speech. Default 60,000 ms. */
  maxUtteranceMs?: number;
  clock?: Clock;
  log?: SttLog;
  /** Inject a client (shared connection pools, tests). */
  client?: OpenAI;
}

/** The API refuses clips shorter than this. */
const MIN_CLIP_MS = 100;

/**
 * OpenAI file transcription (whisper-1, gpt-4o-transcribe) as a streaming STT: each utterance is buffered and, on
 * the end-of-speech hint, uploaded as a WAV through the official `openai` client; the answer is the final.
 * No interims. Retries its own way (backoff, Retry-After) so a fallback list sees one fatal error when it gives up.
 */
export class OpenAiBatchStt implements STT {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAiBatchSttOptions) {
    if (!options.apiKey) throw new CloudSttError('config', 'openai needs an API key (OPENAI_API_KEY)');
    this.name = `openai:${options.model ?? 'whisper-1'}`;
    this.client =
      options.client ??
      new OpenAI({
        apiKey: options.apiKey,
        baseURL: options.baseUrl,
        maxRetries: 0,
        timeout: options.requestTimeoutMs ?? 15_000,
      });
  }

  /** Checks the key and model and opens a keep-alive connection before the first utterance. */
  async prewarm(): Promise<void> {
    const model = this.options.model ?? 'whisper-1';
    try {
      await this.client.models.retrieve(model, { timeout: this.options.requestTimeoutMs ?? 15_000 });
    } catch (error) {
      throw classify(error, this.name, this.options.apiKey);
    }
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): SttStream {
    return new OpenAiBatchStream(this.name, this.client, this.options, listener, options);
  }
}

class OpenAiBatchStream implements SttStream {
  private utterance: AudioEntry[] = [];
  private readonly gate: SilenceGate;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private failed = false;
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private readonly language: string;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = () => this.close();

  constructor(
    private readonly name: string,
    private readonly client: OpenAI,
    private readonly options: OpenAiBatchSttOptions,
    private readonly listener: SttListener,
    streamOptions: SttStreamOptions,
  ) {
    this.clock = options.clock ?? new MonotonicClock();
    this.language = (streamOptions.language ?? options.language ?? 'en').split(/[-_]/)[0].toLowerCase();
    this.gate = new SilenceGate(
      options.silenceGateDbfs === undefined ? -50 : options.silenceGateDbfs,
      options.preRollMs ?? 300,
    );
    this.signal = streamOptions.signal;
    if (this.signal?.aborted) this.closed = true;
    else this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  push(frame: AudioFrame): void {
    checkPipelineFrame(frame, this.name);
    if (this.closed || this.failed || frame.samples.length === 0) return;
    const entry = audioEntry(frame);
    this.utterance.push(...this.gate.offer(entry).send);
    const first = this.utterance[0];
    if (first && entry.endMs - first.startMs >= (this.options.maxUtteranceMs ?? 60_000)) this.flush();
  }

  flush(): void {
    if (this.closed || this.failed) return;
    const utterance = this.utterance;
    this.utterance = [];
    this.gate.reset();
    this.queue = this.queue.then(() => this.transcribe(utterance));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.abort.abort();
    this.utterance = [];
  }

  private async transcribe(utterance: AudioEntry[]): Promise<void> {
    if (this.closed || this.failed) return;
    const startMs = utterance[0]?.startMs ?? 0;
    const endMs = utterance.at(-1)?.endMs ?? startMs;
    const detect = this.language === 'multi' || this.language === 'auto';
    const final = (text: string, language?: string): Transcript => ({
      text,
      ...(detect ? (language ? { language } : {}) : { language: this.language }),
      startMs,
      endMs,
    });
    if (endMs - startMs < MIN_CLIP_MS) {
      // Nothing louder than the silence gate, or too short for the API: an empty final settles the flush.
      this.emit(final(''));
      return;
    }
    const wav = encodeWav(concatSamples(utterance.map((e) => e.samples)), PIPELINE_SAMPLE_RATE);
    const maxRetries = this.options.maxRetries ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        const model = this.options.model ?? 'whisper-1';
        const verbose = detect && model === 'whisper-1';
        const result = await this.client.audio.transcriptions.create(
          {
            file: await toFile(wav, 'utterance.wav', { type: 'audio/wav' }),
            model,
            ...(detect ? {} : { language: this.language }),
            response_format: verbose ? 'verbose_json' : 'json',
            ...(this.options.prompt ? { prompt: this.options.prompt } : {}),
          },
          { signal: this.abort.signal, maxRetries: 0, timeout: this.options.requestTimeoutMs ?? 15_000 },
        );
        if (this.closed) return;
        const detected = (result as { language?: unknown }).language;
        this.emit(
          final(
            result.text.trim(),
            typeof detected === 'string' ? isoOfWhisperLanguage(detected) : undefined,
          ),
        );
        return;
      } catch (caught) {
        if (this.closed) return;
        const error = classify(caught, this.name, this.options.apiKey);
        const { maxRetryAfterMs = 20_000, initialBackoffMs = 250, maxBackoffMs = 4_000 } = this.options;
        const next = nextRetry(error, attempt, {
          maxRetries,
          maxRetryAfterMs,
          initialBackoffMs,
          maxBackoffMs,
        });
        if ('giveUp' in next) return this.giveUp(error, next.giveUp);
        const { delayMs } = next;
        this.options.log?.warn(
          { provider: this.name, error: error.message, attempt, delayMs: Math.round(delayMs) },
          'stt request failed; retrying',
        );
        try {
          await this.clock.sleep(delayMs, this.abort.signal);
        } catch {
          return; // closed while waiting
        }
      }
    }
  }

  private giveUp(error: CloudSttError, why: string): void {
    this.failed = true;
    this.utterance = [];
    reportFatal(error, this.name, why, this.listener, this.options.log);
  }

  private emit(transcript: Transcript): void {
    try {
      this.listener.onFinal(transcript);
    } catch (error) {
      try {
        this.listener.onError?.(error instanceof Error ? error : new Error(String(error)));
      } catch {
        // a failing error handler must not break the stream
      }
    }
  }
}

/** An error from the `openai` client as a CloudSttError, with any key text removed. */
function classify(error: unknown, provider: string, secret: string): CloudSttError {
  const clean = (text: string) => redactSecret(text, secret);
  if (error instanceof CloudSttError) return error;
  if (error instanceof APIConnectionTimeoutError)
    return new CloudSttError('timeout', `${provider}: request timed out`, { cause: error });
  if (error instanceof APIUserAbortError) return new CloudSttError('network', `${provider}: request aborted`);
  if (error instanceof APIConnectionError) {
    const cause = (error.cause as { code?: string; cause?: { code?: string } } | undefined) ?? {};
    const code = cause.code ?? cause.cause?.code;
    return new CloudSttError('network', clean(`${provider}: ${error.message}${code ? ` (${code})` : ''}`), {
      cause: error,
    });
  }
  if (error instanceof APIError && error.status !== undefined) {
    const headers = error.headers as Headers | undefined;
    return new CloudSttError(kindOfStatus(error.status), clean(`${provider}: ${error.message}`), {
      status: error.status,
      retryAfterMs: parseRetryAfter(headers?.get('retry-after'), headers?.get('retry-after-ms')),
    });
  }
  return new CloudSttError(
    'protocol',
    clean(`${provider}: ${error instanceof Error ? error.message : String(error)}`),
  );
}

/** whisper-1's `verbose_json` names the language in English ("spanish"); the session wants ISO 639-1. */
const WHISPER_LANGUAGES: Record<string, string> = {
  english: 'en',
  spanish: 'es',
  french: 'fr',
  german: 'de',
  italian: 'it',
  portuguese: 'pt',
  dutch: 'nl',
  russian: 'ru',
  czech: 'cs',
  finnish: 'fi',
  catalan: 'ca',
  hindi: 'hi',
  polish: 'pl',
  swedish: 'sv',
  danish: 'da',
  norwegian: 'no',
  turkish: 'tr',
  greek: 'el',
  japanese: 'ja',
  chinese: 'zh',
  korean: 'ko',
  arabic: 'ar',
  ukrainian: 'uk',
  romanian: 'ro',
  hungarian: 'hu',
};

export function isoOfWhisperLanguage(name: string): string {
  const key = name.trim().toLowerCase();
  return WHISPER_LANGUAGES[key] ?? key;
}
