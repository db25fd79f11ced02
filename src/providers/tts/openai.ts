import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import { createKeepAliveFetch, type KeepAliveFetch } from '../llm/openai-fetch.ts';
import { prewarmModels } from '../llm/openai-prewarm.ts';
import { retryPolicy, rootCause } from '../llm/openai-retry.ts';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import { TtsRequestError } from './openai-pcm.ts';
import { retryBeforeFirstAudio, type SentenceRetry, streamPcmBody } from './pcm-http-stream.ts';
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
  private readonly retry: SentenceRetry;
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
      name: this.name,
      policy: retryPolicy(options),
      log: options.log,
      toError: (error) => this.toError(error),
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

  synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array> {
    return retryBeforeFirstAudio(() => this.request(text, signal), signal, this.retry);
  }

  /** Opens the connection ahead of the first sentence (any HTTP answer means it is warm). */
  async prewarm(): Promise<void> {
    await prewarmModels(this.client, this.options.timeoutMs ?? 10_000).catch((error) => {
      throw this.toError(error);
    });
  }

  async close(): Promise<void> {
    this.ownFetch?.close();
  }

  private request(text: string, signal: AbortSignal): AsyncGenerator<Int16Array> {
    return streamPcmBody(this.name, signal, this.options.idleTimeoutMs ?? 10_000, async (connection) => {
      const response = await this.client.audio.speech.create(
        {
          model: this.model,
          voice: this.voice,
          input: text,
          response_format: 'pcm',
          ...(this.options.instructions ? { instructions: this.options.instructions } : {}),
          ...(this.options.speed !== undefined ? { speed: this.options.speed } : {}),
        },
        { signal: connection },
      );
      return response.body;
    });
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
