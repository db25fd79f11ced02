import type WebSocket from 'ws';
import { z } from 'zod';
import { DEFAULT_FRAME_MS, samplesForMs } from '../../audio/frame.ts';
import { AsyncQueue } from '../../util/async-queue.ts';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import { RetryableError, type RetryPolicy, retryDelayMs, retryPolicy } from '../llm/openai-retry.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions, WordTiming } from './contract.ts';
import { AlignmentSchema, AlignmentTracker } from './elevenlabs-alignment.ts';
import { ElevenLabsConnector } from './elevenlabs-socket.ts';
import { base64ToPcm, PcmChunker, TtsRequestError } from './openai-pcm.ts';
import { IdleTimer } from './session-socket.ts';

export const ELEVENLABS_DEFAULT_VOICE = '21m00Tcm4TlvDq8ikWAM'; // "Rachel", a premade voice every account has
export const ELEVENLABS_DEFAULT_MODEL = 'eleven_flash_v2_5'; // the lowest-latency model (~75 ms)

export type ElevenLabsOutputFormat = 'pcm_16000' | 'pcm_22050' | 'pcm_24000' | 'pcm_44100';

export interface ElevenLabsVoiceSettings {
  stability?: number;
  similarity_boost?: number;
  style?: number;
  use_speaker_boost?: boolean;
  speed?: number;
}

export interface ElevenLabsOptions {
  apiKey: string;
  /** Default `ELEVENLABS_DEFAULT_VOICE`. */
  voiceId?: string;
  /** Default `eleven_flash_v2_5`. */
  modelId?: string;
  /** Raw PCM16 at 16, 22.05, 24 or 44.1 kHz. Default `pcm_16000`, the pipeline's rate. */
  outputFormat?: ElevenLabsOutputFormat;
  /** `https://api.elevenlabs.io` by default; the WebSocket URL is derived from it (http → ws, https → wss). */
  baseUrl?: string;
  voiceSettings?: ElevenLabsVoiceSettings;
  /** Characters buffered before generation starts without a flush (ElevenLabs' `chunk_length_schedule`). */
  chunkLengthSchedule?: number[];
  /** Seconds the server keeps an idle connection (1-180). Default 60. */
  inactivityTimeoutS?: number;
  /** WebSocket handshake. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for audio while flushed text has none yet. Default 10,000 ms. */
  idleTimeoutMs?: number;
  /** How long after a session starts (prewarm) or a reply to keep a spare connection open. Default 300,000 ms. */
  keepWarmMs?: number;
  /** Reconnects before the first audio of a reply (refused, 429, 5xx, dropped); never after. Default 2. */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Provider name in logs and metrics. Default `elevenlabs:<voice>`. */
  name?: string;
  log?: ProviderLog;
}

export const ELEVENLABS_RATES: Record<ElevenLabsOutputFormat, number> = {
  pcm_16000: 16_000,
  pcm_22050: 22_050,
  pcm_24000: 24_000,
  pcm_44100: 44_100,
};

/** The voice and the output format's sample rate; an unknown format throws. */
export function elevenLabsVoice(options: Pick<ElevenLabsOptions, 'voiceId' | 'outputFormat'>): {
  voiceId: string;
  format: ElevenLabsOutputFormat;
  sampleRate: number;
} {
  const voiceId = options.voiceId ?? ELEVENLABS_DEFAULT_VOICE;
  const format = options.outputFormat ?? 'pcm_16000';
  if (!(format in ELEVENLABS_RATES)) throw new RangeError(`unsupported ElevenLabs output format "${format}"`);
  return { voiceId, format, sampleRate: ELEVENLABS_RATES[format] };
}

const ServerMessageSchema = z.object({
  audio: z.string().nullish(),
  isFinal: z.boolean().nullish(),
  alignment: AlignmentSchema.nullish(),
  normalizedAlignment: AlignmentSchema.nullish(),
  error: z.string().optional(),
  message: z.string().optional(),
});

/**
 * ElevenLabs over its WebSocket input-streaming API: text goes out word by word as the LLM writes, each flush
 * forces generation of the sentence, and the audio comes back with character alignment, which gives the
 * segment of each chunk and word timings. A spare connection is kept open and initialised between replies.
 */
export class ElevenLabsTts implements TTS {
  readonly name: string;
  readonly sampleRate: number;
  /** Text streams in over the socket: the first clause can go before its sentence is complete. */
  readonly streamingInput = true;
  private readonly connector: ElevenLabsConnector;
  private readonly retry: RetryPolicy;

  constructor(private readonly options: ElevenLabsOptions) {
    const { voiceId, format, sampleRate } = elevenLabsVoice(options);
    this.sampleRate = sampleRate;
    this.name = options.name ?? `elevenlabs:${voiceId}`;
    const base = new URL(options.baseUrl ?? 'https://api.elevenlabs.io');
    base.protocol = base.protocol === 'http:' ? 'ws:' : 'wss:';
    const url = new URL(`/v1/text-to-speech/${encodeURIComponent(voiceId)}/stream-input`, base);
    url.searchParams.set('model_id', options.modelId ?? ELEVENLABS_DEFAULT_MODEL);
    url.searchParams.set('output_format', format);
    url.searchParams.set('inactivity_timeout', String(options.inactivityTimeoutS ?? 60));
    this.retry = retryPolicy(options);
    this.connector = new ElevenLabsConnector({
      url: url.toString(),
      apiKey: options.apiKey,
      init: {
        text: ' ',
        ...(options.voiceSettings ? { voice_settings: options.voiceSettings } : {}),
        ...(options.chunkLengthSchedule
          ? { generation_config: { chunk_length_schedule: options.chunkLengthSchedule } }
          : {}),
      },
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      name: this.name,
      log: options.log,
    });
  }

  stream(options: TtsStreamOptions): TtsStream {
    void this.connector.keepWarm(this.options.keepWarmMs ?? 300_000).catch(() => undefined);
    return new ElevenLabsStream(this, options);
  }

  /** Opens the spare connection now, so the first reply does not pay for TLS and the handshake. */
  async prewarm(): Promise<void> {
    try {
      await this.connector.keepWarm(this.options.keepWarmMs ?? 300_000);
    } catch (error) {
      throw streamError(error);
    }
  }

  async close(): Promise<void> {
    this.connector.close();
  }

  /** @internal for the stream */
  connect(): Promise<WebSocket> {
    return this.connector.take();
  }

  /** @internal for the stream */
  retryDelay(error: unknown, attempt: number): number | undefined {
    return retryDelayMs(error, attempt, this.retry);
  }

  /** @internal for the stream */
  get settings() {
    return { idleTimeoutMs: this.options.idleTimeoutMs ?? 10_000, log: this.options.log };
  }
}

class ElevenLabsStream implements TtsStream {
  private readonly output = new AsyncQueue<TtsAudio>();
  private readonly tracker = new AlignmentTracker();
  /** Every message of this reply, so a reconnect before any audio can replay them. */
  private readonly sent: Record<string, unknown>[] = [];
  private socket: WebSocket | undefined;
  private connecting = false;
  private unsentWord = '';
  private endRequested = false;
  private done = false;
  private audioDelivered = false;
  private attempt = 0;
  private readonly idle = new IdleTimer(
    () => this.tts.name,
    () => this.tts.settings.idleTimeoutMs,
    (error) => this.failed(error),
  );
  private readonly frameSamples: number;
  private carry = new Int16Array(0);
  private carrySegment = 0;
  private carryWords: WordTiming[] | undefined;
  private segmentSamples: number[] = [];
  private emittedSamples = 0;
  private pcm = new PcmChunker();

  constructor(
    private readonly tts: ElevenLabsTts,
    private readonly options: TtsStreamOptions,
  ) {
    this.frameSamples = samplesForMs(DEFAULT_FRAME_MS, tts.sampleRate);
    if (options.signal.aborted) {
      this.done = true;
      this.output.end();
      return;
    }
    options.signal.addEventListener('abort', this.onAbort, { once: true });
    void this.connect();
  }

  pushText(text: string): void {
    if (this.done || this.endRequested) return;
    this.unsentWord += text;
    // Whole words only: a word split across two messages would be spoken as two.
    const cut = this.unsentWord.search(/\s\S*$/);
    if (cut < 0) return;
    const words = this.unsentWord.slice(0, cut + 1);
    this.unsentWord = this.unsentWord.slice(cut + 1);
    if (!words.trim()) return;
    this.tracker.addText(words);
    this.send({ text: `${words.trimEnd()} ` });
  }

  flush(): void {
    if (this.done || this.endRequested) return;
    const rest = this.unsentWord.trim() ? `${this.unsentWord.trim()} ` : '';
    this.unsentWord = '';
    this.tracker.addText(rest);
    this.tracker.endSegment();
    this.send({ text: rest, flush: true });
    if (this.tracker.awaitingAudio) this.idle.arm();
  }

  end(): void {
    if (this.done || this.endRequested) return;
    if (this.unsentWord.trim()) this.flush();
    this.endRequested = true;
    this.send({ text: '' });
    this.idle.arm();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.output[Symbol.asyncIterator]();
  }

  private send(message: Record<string, unknown>): void {
    this.sent.push(message);
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(message));
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.done) return;
    this.connecting = true;
    try {
      const socket = await this.tts.connect();
      this.connecting = false;
      if (this.done) {
        socket.terminate();
        return;
      }
      this.socket = socket;
      socket.on('message', (data) => this.onMessage(String(data)));
      socket.on('close', (code, reason) => this.onClose(socket, code, String(reason)));
      for (const message of this.sent) socket.send(JSON.stringify(message));
      if (this.tracker.awaitingAudio || this.endRequested) this.idle.arm();
    } catch (error) {
      this.connecting = false;
      this.failed(error);
    }
  }

  private onMessage(data: string): void {
    if (this.done) return;
    let parsed: z.infer<typeof ServerMessageSchema>;
    try {
      parsed = ServerMessageSchema.parse(JSON.parse(data));
    } catch (error) {
      this.fail(new TtsRequestError(`${this.tts.name}: malformed server message`, { cause: error }));
      return;
    }
    if (parsed.error) {
      this.fail(new TtsRequestError(`${this.tts.name}: ${parsed.error}: ${parsed.message ?? ''}`.trim()));
      return;
    }
    if (parsed.audio) {
      this.audioDelivered = true;
      const samples = base64ToPcm(parsed.audio, this.pcm);
      const segment = this.tracker.currentSegment;
      const offsetMs = ((this.segmentSamples[segment] ?? 0) * 1000) / this.tts.sampleRate;
      const { words } = this.tracker.chunk(
        parsed.alignment ?? parsed.normalizedAlignment ?? undefined,
        offsetMs,
      );
      this.emit(samples, segment, words);
      if (this.tracker.awaitingAudio || this.endRequested) this.idle.arm();
      else this.idle.disarm();
    }
    if (parsed.isFinal) this.finish();
  }

  private onClose(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket || this.done) return;
    this.socket = undefined;
    if (this.endRequested && code === 1000) {
      this.finish();
      return;
    }
    const why = `${this.tts.name}: connection closed (${code}${reason ? ` ${reason}` : ''})`;
    // 1008 is ElevenLabs refusing what we sent (or our idleness): the same messages would fail again.
    this.failed(code === 1008 ? new TtsRequestError(why) : new RetryableError(why));
  }

  /** A connection-level failure: reconnect and replay while nothing has been heard, else fail the reply. */
  private failed(error: unknown): void {
    if (this.done) return;
    this.idle.disarm();
    this.socket?.terminate();
    this.socket = undefined;
    const delay = this.audioDelivered ? undefined : this.tts.retryDelay(error, this.attempt++);
    if (delay === undefined) {
      this.fail(streamError(error));
      return;
    }
    this.tts.settings.log?.warn(
      { provider: this.tts.name, attempt: this.attempt, delayMs: delay, err: streamError(error).message },
      'tts connection failed before its first audio; reconnecting',
    );
    setTimeout(() => void this.connect(), delay);
  }

  private emit(samples: Int16Array, segment: number, words: WordTiming[]): void {
    if (segment !== this.carrySegment) {
      this.drainCarry();
      this.carrySegment = segment;
    }
    if (words.length) this.carryWords = [...(this.carryWords ?? []), ...words];
    const joined = new Int16Array(this.carry.length + samples.length);
    joined.set(this.carry);
    joined.set(samples, this.carry.length);
    let offset = 0;
    for (; offset + this.frameSamples <= joined.length; offset += this.frameSamples) {
      this.pushFrame(joined.slice(offset, offset + this.frameSamples), segment);
    }
    this.carry = joined.slice(offset);
  }

  private drainCarry(): void {
    if (this.carry.length) this.pushFrame(this.carry, this.carrySegment);
    this.carry = new Int16Array(0);
  }

  private pushFrame(samples: Int16Array, segment: number): void {
    const words = this.carryWords;
    this.carryWords = undefined;
    while (this.segmentSamples.length <= segment) this.segmentSamples.push(0);
    this.segmentSamples[segment] += samples.length;
    this.output.push({
      segment,
      frame: {
        samples,
        sampleRate: this.tts.sampleRate,
        timestampMs: (this.emittedSamples * 1000) / this.tts.sampleRate,
      },
      ...(words ? { words } : {}),
    });
    this.emittedSamples += samples.length;
  }

  private finish(): void {
    if (this.done) return;
    this.drainCarry();
    // The server closes a finished reply's socket itself.
    this.cleanup(false);
    this.output.end();
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.cleanup(true);
    this.output.fail(error);
  }

  private readonly onAbort = () => {
    if (this.done) return;
    // Dropped with whatever audio it still had in flight; the next reply takes the spare.
    this.cleanup(true);
    this.output.end();
  };

  private cleanup(dropSocket: boolean): void {
    this.done = true;
    this.idle.disarm();
    this.options.signal.removeEventListener('abort', this.onAbort);
    const socket = this.socket;
    this.socket = undefined;
    if (dropSocket) socket?.terminate();
  }
}

/** The error a reply fails with: a TtsRequestError naming the provider, never a key. */
function streamError(error: unknown): Error {
  if (error instanceof TtsRequestError) return error;
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof TypeError && cause instanceof TtsRequestError) return cause;
  return new TtsRequestError(error instanceof Error ? error.message : String(error), { cause: error });
}
