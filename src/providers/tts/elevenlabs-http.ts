import { createKeepAliveFetch, type KeepAliveFetch } from '../llm/openai-fetch.ts';
import {
  abortableSleep,
  DEFAULT_RETRY_POLICY,
  HttpStatusError,
  RetryableError,
  type RetryPolicy,
  retryDelayMs,
  rootCause,
} from '../llm/openai-retry.ts';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import {
  ELEVENLABS_DEFAULT_MODEL,
  ELEVENLABS_DEFAULT_VOICE,
  ELEVENLABS_RATES,
  type ElevenLabsOptions,
} from './elevenlabs.ts';
import { detailMessage } from './elevenlabs-socket.ts';
import { PcmChunker, TtsRequestError } from './openai-pcm.ts';
import { sentenceTts } from './sentence-adapter.ts';

export type ElevenLabsHttpOptions = Omit<
  ElevenLabsOptions,
  'chunkLengthSchedule' | 'inactivityTimeoutS' | 'keepWarmMs' | 'connectTimeoutMs'
> & { fetch?: typeof fetch };

/**
 * ElevenLabs' HTTP streaming endpoint (`POST /v1/text-to-speech/{voice_id}/stream`), one sentence per request,
 * raw PCM streamed back. The fallback for when the WebSocket API cannot be reached; requests share a
 * kept-alive connection.
 */
export class ElevenLabsHttpSynthesizer implements SentenceSynthesizer {
  readonly name: string;
  readonly sampleRate: number;
  private readonly url: string;
  private readonly fetch: typeof fetch;
  private readonly ownFetch: KeepAliveFetch | undefined;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: ElevenLabsHttpOptions) {
    const voiceId = options.voiceId ?? ELEVENLABS_DEFAULT_VOICE;
    const format = options.outputFormat ?? 'pcm_16000';
    if (!(format in ELEVENLABS_RATES))
      throw new RangeError(`unsupported ElevenLabs output format "${format}"`);
    this.sampleRate = ELEVENLABS_RATES[format];
    this.name = options.name ?? `elevenlabs-http:${voiceId}`;
    const url = new URL(
      `/v1/text-to-speech/${encodeURIComponent(voiceId)}/stream`,
      options.baseUrl ?? 'https://api.elevenlabs.io',
    );
    url.searchParams.set('output_format', format);
    this.url = url.toString();
    this.ownFetch = options.fetch ? undefined : createKeepAliveFetch();
    this.fetch = options.fetch ?? (this.ownFetch as typeof fetch);
    this.retry = {
      maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
      baseDelayMs: options.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
      maxDelayMs: options.maxRetryDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
    };
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
    const arm = () => {
      timer = setTimeout(() => {
        stalled = true;
        connection.abort();
      }, idleMs);
    };
    try {
      arm();
      const response = await this.fetch(this.url, {
        method: 'POST',
        headers: {
          'xi-api-key': this.options.apiKey,
          'content-type': 'application/json',
          accept: 'audio/pcm',
        },
        body: JSON.stringify({
          text,
          model_id: this.options.modelId ?? ELEVENLABS_DEFAULT_MODEL,
          ...(this.options.voiceSettings ? { voice_settings: this.options.voiceSettings } : {}),
        }),
        signal: connection.signal,
      }).finally(() => clearTimeout(timer));
      if (!response.ok) {
        const body = await response.text().catch(() => '');
        throw new HttpStatusError(
          response.status,
          `${this.name}: HTTP ${response.status}: ${detailMessage(body)}`,
          response.headers,
        );
      }
      const reader = response.body?.getReader();
      if (!reader) throw new RetryableError(`${this.name}: the response had no body`);
      const pcm = new PcmChunker();
      for (;;) {
        arm();
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

  private toError(error: unknown): TtsRequestError {
    if (error instanceof TtsRequestError) return error;
    const message = error instanceof Error ? error.message : String(error);
    const why = rootCause(error);
    const text = `${message.startsWith(this.name) ? '' : `${this.name}: `}${message}${why && !message.includes(why) ? ` (${why})` : ''}`;
    const key = this.options.apiKey;
    return new TtsRequestError(key.length >= 8 ? text.split(key).join('[redacted]') : text, { cause: error });
  }
}

export function createElevenLabsHttpTts(options: ElevenLabsHttpOptions): TTS {
  return sentenceTts(new ElevenLabsHttpSynthesizer(options));
}
