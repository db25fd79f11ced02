import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import { createKeepAliveFetch, type KeepAliveFetch } from '../llm/openai-fetch.ts';
import {
  abortableSleep,
  DEFAULT_RETRY_POLICY,
  RetryableError,
  type RetryPolicy,
  retryDelayMs,
  rootCause,
} from '../llm/openai-retry.ts';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import { PcmChunker, TtsRequestError } from './openai-pcm.ts';
import { sentenceTts } from './sentence-adapter.ts';

/** OpenAI's `pcm` response format: 24 kHz, 16-bit signed little-endian, mono. */
export const OPENAI_TTS_SAMPLE_RATE = 24_000;

export interface OpenAiTtsOptions {
  apiKey: string;
  /** `gpt-4o-mini-tts` (default, takes `instructions`), `tts-1`, `tts-1-hd`. */
  model?: string;
  /** alloy, ash, ballad, coral, echo, fable, nova, onyx, sage, shimmer, verse. Default `alloy`. */
  voice?: string;
  /** How to speak (gpt-4o-mini-tts only), e.g. "Warm and brisk." */
  instructions?: string;
  /** 0.25 to 4. Default 1. */
  speed?: number;
  /** Default OpenAI's; a compatible server's `/v1`. */
  baseURL?: string;
  /** Until the response headers. Default 10,000 ms. */
  timeoutMs?: number;
  /** Longest wait for the next audio bytes (the first included). Default 10,000 ms. */
  idleTimeoutMs?: number;
  /** Retries before the first audio byte (429/5xx/connection); none after, it would repeat speech. Default 2. */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Provider name in logs and metrics. Default `openai:<model>:<voice>`. */
  name?: string;
  log?: ProviderLog;
  fetch?: typeof fetch;
}

/**
 * OpenAI text-to-speech (`POST /v1/audio/speech`, `response_format: "pcm"`), one sentence per request, the raw
 * PCM streamed as it is generated. Requests share one kept-alive connection.
 */
export class OpenAiSpeechSynthesizer implements SentenceSynthesizer {
  readonly name: string;
  readonly sampleRate = OPENAI_TTS_SAMPLE_RATE;
  private readonly client: OpenAI;
  private readonly retry: RetryPolicy;
  private readonly ownFetch: KeepAliveFetch | undefined;
  private readonly model: string;
  private readonly voice: string;

  constructor(private readonly options: OpenAiTtsOptions) {
    this.model = options.model ?? 'gpt-4o-mini-tts';
    this.voice = options.voice ?? 'alloy';
    this.name = options.name ?? `openai:${this.model}:${this.voice}`;
    if (options.speed !== undefined && !(options.speed >= 0.25 && options.speed <= 4)) {
      throw new RangeError(`OpenAI TTS speed must be 0.25-4, got ${options.speed}`);
    }
    this.retry = {
      maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
      baseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
      maxDelayMs: options.maxRetryDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
    };
    this.ownFetch = options.fetch ? undefined : createKeepAliveFetch();
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      timeout: options.timeoutMs ?? 10_000,
      maxRetries: 0,
      fetch: options.fetch ?? this.ownFetch,
      logLevel: 'off',
    });
  }

  async *synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array> {
    for (let attempt = 0; ; attempt++) {
      let delivered = false;
      try {
        for await (const chunk of this.request(text, signal)) {
          delivered = true;
          yield chunk;
        }
        return;
      } catch (error) {
        if (signal.aborted) return;
        const delay = delivered ? undefined : retryDelayMs(error, attempt, this.retry);
        if (delay === undefined) throw this.toError(error);
        this.options.log?.warn(
          { provider: this.name, attempt: attempt + 1, delayMs: delay, err: this.toError(error).message },
          'tts request failed before its first audio; retrying',
        );
        try {
          await abortableSleep(delay, signal);
        } catch {
          return;
        }
      }
    }
  }

  /** Opens the connection ahead of the first sentence (any HTTP answer means it is warm). */
  async prewarm(): Promise<void> {
    try {
      await this.client.models.list({ timeout: this.options.timeoutMs ?? 10_000 });
    } catch (error) {
      if (error instanceof APIError && error.status !== undefined) return;
      throw this.toError(error);
    }
  }

  async close(): Promise<void> {
    this.ownFetch?.close();
  }

  private async *request(text: string, signal: AbortSignal): AsyncGenerator<Int16Array> {
    const connection = new AbortController();
    const onAbort = () => connection.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const idleMs = this.options.idleTimeoutMs ?? 10_000;
    let stalled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const response = await this.client.audio.speech.create(
        {
          model: this.model,
          voice: this.voice,
          input: text,
          response_format: 'pcm',
          ...(this.options.instructions ? { instructions: this.options.instructions } : {}),
          ...(this.options.speed !== undefined ? { speed: this.options.speed } : {}),
        },
        { signal: connection.signal },
      );
      const reader = response.body?.getReader();
      if (!reader) throw new RetryableError(`${this.name}: the response had no body`);
      const pcm = new PcmChunker();
      for (;;) {
        timer = setTimeout(() => {
          stalled = true;
          connection.abort();
        }, idleMs);
        const next = await reader.read().finally(() => clearTimeout(timer));
        if (signal.aborted) return;
        if (next.done) break;
        const samples = pcm.push(next.value);
        if (samples.length) yield samples;
      }
      pcm.end();
    } catch (error) {
      if (stalled) throw new RetryableError(`${this.name}: no audio for ${idleMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      connection.abort();
    }
  }

  private redact(text: string): string {
    const key = this.options.apiKey;
    return key && key.length >= 8 ? text.split(key).join('[redacted]') : text;
  }

  private toError(error: unknown): TtsRequestError {
    if (error instanceof TtsRequestError) return error;
    let message: string;
    if (error instanceof APIConnectionTimeoutError) message = 'the server did not answer in time';
    else if (error instanceof APIError)
      message = error.status ? `HTTP ${error.status}: ${error.message}` : error.message;
    else message = error instanceof Error ? error.message : String(error);
    const why = rootCause(error);
    const suffix = why && !message.includes(why) ? ` (${why})` : '';
    return new TtsRequestError(this.redact(`${this.name}: ${message}${suffix}`), { cause: error });
  }
}

/** OpenAI TTS as a streaming TTS: each flushed sentence is synthesised while the LLM writes the next. */
export function createOpenAiTts(options: OpenAiTtsOptions): TTS {
  return sentenceTts(new OpenAiSpeechSynthesizer(options));
}
