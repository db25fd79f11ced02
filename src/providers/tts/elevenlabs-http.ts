import { createKeepAliveFetch, type KeepAliveFetch } from '../llm/openai-fetch.ts';
import { HttpStatusError, retryPolicy, rootCause } from '../llm/openai-retry.ts';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import { ELEVENLABS_DEFAULT_MODEL, type ElevenLabsOptions, elevenLabsVoice } from './elevenlabs.ts';
import { detailMessage } from './elevenlabs-socket.ts';
import { TtsRequestError } from './openai-pcm.ts';
import { retryBeforeFirstAudio, type SentenceRetry, streamPcmBody } from './pcm-http-stream.ts';
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
  private readonly retry: SentenceRetry;

  constructor(private readonly options: ElevenLabsHttpOptions) {
    const { voiceId, format, sampleRate } = elevenLabsVoice(options);
    this.sampleRate = sampleRate;
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
      name: this.name,
      policy: retryPolicy(options),
      log: options.log,
      toError: (error) => this.toError(error),
    };
  }

  synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array> {
    return retryBeforeFirstAudio(() => this.request(text, signal), signal, this.retry);
  }

  async close(): Promise<void> {
    this.ownFetch?.close();
  }

  private request(text: string, signal: AbortSignal): AsyncGenerator<Int16Array> {
    return streamPcmBody(
      this.name,
      signal,
      this.options.idleTimeoutMs ?? 10_000,
      async (connection, watch) => {
        const response = await watch(() =>
          this.fetch(this.url, {
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
            signal: connection,
          }),
        );
        if (!response.ok) {
          const body = await response.text().catch(() => '');
          throw new HttpStatusError(
            response.status,
            `${this.name}: HTTP ${response.status}: ${detailMessage(body)}`,
            response.headers,
          );
        }
        return response.body;
      },
    );
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
