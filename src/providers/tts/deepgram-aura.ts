import { z } from 'zod';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import { SegmentFramer, socketBase, ttsError } from './cartesia-socket.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions } from './contract.ts';
import { PcmChunker, TtsRequestError } from './openai-pcm.ts';
import { IdleTimer, SessionSocket } from './session-socket.ts';

export const AURA_DEFAULT_VOICE = 'aura-2-thalia-en';
const RATES = new Set([8000, 16000, 24000, 32000, 48000]);

export interface DeepgramAuraOptions {
  apiKey: string;
  /** The model is the voice: `aura-2-thalia-en`, `aura-2-andromeda-en`, … */
  voice?: string;
  /** linear16 at 8, 16, 24, 32 or 48 kHz. Default 16,000 (the pipeline's rate). */
  sampleRate?: number;
  /** `https://api.deepgram.com` by default; the socket is `<base>/v1/speak` (http → ws, https → wss). */
  baseUrl?: string;
  connectTimeoutMs?: number;
  /** Longest wait for audio while flushed text has none yet. Default 10,000 ms. */
  idleTimeoutMs?: number;
  /** How long an interrupted reply waits for `Cleared` before the socket is dropped instead. Default 2,000 ms. */
  clearTimeoutMs?: number;
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  name?: string;
  log?: ProviderLog;
}

const ServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Metadata'), request_id: z.string() }).passthrough(),
  z.object({ type: z.literal('Flushed'), sequence_id: z.number() }),
  z.object({ type: z.literal('Cleared'), sequence_id: z.number() }),
  z.object({ type: z.literal('Warning'), description: z.string(), code: z.string().optional() }),
  z.object({ type: z.literal('Error'), description: z.string(), code: z.string().optional() }).passthrough(),
]);
type ServerMessage = z.infer<typeof ServerMessage>;

interface Owner {
  text(message: ServerMessage): void;
  audio(bytes: Buffer): void;
  lost(error: unknown): void;
}

/**
 * Deepgram Aura over its streaming TTS WebSocket (`/v1/speak`): `Speak` messages carry the reply's words as the
 * LLM writes them, a `Flush` ends each sentence and its `Flushed` marks the segment boundary in the binary
 * audio, `Clear` stops an interrupted reply (its socket is reused once `Cleared` says the stale audio is over),
 * `Close` ends the connection. One connection per TTS (per session), opened by prewarm; replies take it in turn,
 * since its audio frames carry no reply id. Aura gives no word timings.
 */
export class DeepgramAuraTts implements TTS {
  readonly name: string;
  readonly sampleRate: number;
  readonly streamingInput = true;
  private owner: Owner | undefined;
  private busy = false;
  private readonly waiters: (() => void)[] = [];
  private readonly socket: SessionSocket<ServerMessage>;

  constructor(readonly options: DeepgramAuraOptions) {
    this.sampleRate = options.sampleRate ?? 16_000;
    if (!RATES.has(this.sampleRate))
      throw new RangeError(`unsupported Deepgram Aura sample rate ${this.sampleRate}`);
    this.name = options.name ?? `deepgram-aura:${options.voice ?? AURA_DEFAULT_VOICE}`;
    const base = socketBase(options.baseUrl ?? 'https://api.deepgram.com');
    const url = new URL('/v1/speak', base);
    url.searchParams.set('model', options.voice ?? AURA_DEFAULT_VOICE);
    url.searchParams.set('encoding', 'linear16');
    url.searchParams.set('sample_rate', String(this.sampleRate));
    this.socket = new SessionSocket({
      ...options,
      name: this.name,
      url: url.toString(),
      headers: { Authorization: `Token ${options.apiKey}` },
      closeMessage: { type: 'Close' },
      parse: (value) => ServerMessage.parse(value),
      binary: (data) => this.owner?.audio(data),
      message: (message) => {
        if (message.type === 'Warning') {
          options.log?.warn(
            { provider: this.name, code: message.code, description: message.description },
            'tts warning',
          );
        }
        this.owner?.text(message);
      },
      lost: (error) => this.owner?.lost(error),
    });
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new AuraStream(this, options);
  }

  prewarm(): Promise<void> {
    return this.socket.prewarm();
  }

  async close(): Promise<void> {
    this.socket.close();
  }

  /** @internal waits for the socket to be free, then owns it until the returned release is called */
  acquire(owner: Owner): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.busy = true;
        this.owner = owner;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          if (this.owner === owner) this.owner = undefined;
          this.busy = false;
          this.waiters.shift()?.();
        });
      };
      if (this.busy) this.waiters.push(grant);
      else grant();
    });
  }

  /** @internal */
  send(message: Record<string, unknown>): Promise<void> {
    return this.socket.send(message);
  }

  /** @internal drops the connection (a stalled or confused server); the next reply opens a new one */
  drop(): void {
    this.socket.drop();
  }

  /** @internal */
  retryDelay(error: unknown, attempt: number): number | undefined {
    return this.socket.retryDelay(error, attempt);
  }
}

class AuraStream implements TtsStream {
  private readonly framer: SegmentFramer;
  private readonly pcm = new PcmChunker();
  private readonly sent: Record<string, unknown>[] = [];
  private release: (() => void) | undefined;
  private acquired: Promise<void>;
  private unsentWord = '';
  private segment = 0;
  private flushes = 0;
  private endRequested = false;
  private done = false;
  private clearing = false;
  private audioDelivered = false;
  private attempt = 0;
  private readonly idle = new IdleTimer(
    () => this.tts.name,
    () => this.tts.options.idleTimeoutMs ?? 10_000,
    (error) => this.failed(error),
  );
  private readonly owner: Owner = {
    text: (m) => this.onText(m),
    audio: (bytes) => this.onAudio(bytes),
    lost: (error) => this.failed(error),
  };

  constructor(
    private readonly tts: DeepgramAuraTts,
    private readonly options: TtsStreamOptions,
  ) {
    this.framer = new SegmentFramer(tts.sampleRate);
    this.acquired = tts.acquire(this.owner).then((release) => {
      this.release = release;
      if (this.done && !this.clearing) release();
    });
    if (options.signal.aborted) {
      this.done = true;
      this.framer.output.end();
      return;
    }
    options.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  pushText(text: string): void {
    if (this.done || this.endRequested) return;
    this.unsentWord += text;
    const cut = this.unsentWord.search(/\s\S*$/);
    if (cut < 0) return;
    const words = this.unsentWord.slice(0, cut + 1);
    this.unsentWord = this.unsentWord.slice(cut + 1);
    if (words.trim()) this.send({ type: 'Speak', text: words });
  }

  flush(): void {
    if (this.done || this.endRequested) return;
    const rest = this.unsentWord;
    this.unsentWord = '';
    if (rest.trim()) this.send({ type: 'Speak', text: rest });
    this.flushes++;
    this.send({ type: 'Flush' });
    this.idle.arm();
  }

  end(): void {
    if (this.done || this.endRequested) return;
    if (this.unsentWord.trim()) this.flush();
    this.endRequested = true;
    if (this.segment >= this.flushes) this.finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.framer.output[Symbol.asyncIterator]();
  }

  private send(message: Record<string, unknown>): void {
    this.sent.push(message);
    this.transmit(message);
  }

  private transmit(message: Record<string, unknown>): void {
    const attempt = this.attempt;
    void this.acquired
      .then(() => (this.done || attempt !== this.attempt ? undefined : this.tts.send(message)))
      .catch((error) => {
        if (attempt === this.attempt) this.failed(error);
      });
  }

  private onAudio(bytes: Buffer): void {
    if (this.done) return;
    const samples = this.pcm.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    this.audioDelivered = true;
    this.framer.push(this.segment, samples);
    this.idle.arm();
  }

  private onText(m: ServerMessage): void {
    if (m.type === 'Cleared' && this.clearing) {
      this.clearing = false;
      this.release?.();
      return;
    }
    if (this.done) return;
    if (m.type === 'Flushed') {
      this.framer.drain();
      this.segment++;
      if (this.endRequested && this.segment >= this.flushes) {
        this.finish();
        return;
      }
      if (this.segment < this.flushes) this.idle.arm();
      else this.idle.disarm();
    } else if (m.type === 'Error') {
      this.failed(new TtsRequestError(`${this.tts.name}: ${m.code ?? 'error'}: ${m.description}`));
    }
  }

  private failed(error: unknown): void {
    if (this.clearing) {
      // The interrupted reply's socket died before `Cleared`: nothing stale can arrive on a new one.
      this.clearing = false;
      this.release?.();
      return;
    }
    if (this.done) return;
    this.idle.disarm();
    const delay = this.audioDelivered ? undefined : this.tts.retryDelay(error, this.attempt);
    this.attempt++;
    this.tts.drop();
    if (delay === undefined) {
      this.fail(ttsError(error));
      return;
    }
    this.tts.options.log?.warn(
      { provider: this.tts.name, attempt: this.attempt, delayMs: delay, err: ttsError(error).message },
      'tts connection failed before its first audio; reconnecting',
    );
    const attempt = this.attempt;
    setTimeout(() => {
      if (this.done || attempt !== this.attempt) return;
      for (const message of this.sent) this.transmit(message);
      if (this.segment < this.flushes) this.idle.arm();
    }, delay);
  }

  private finish(): void {
    if (this.done) return;
    this.framer.drain();
    this.cleanup();
    this.release?.();
    this.framer.output.end();
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.cleanup();
    this.release?.();
    this.framer.output.fail(error);
  }

  private readonly onAbort = () => {
    if (this.done) return;
    this.cleanup();
    this.framer.output.end();
    if (this.sent.length === 0 || !this.release) {
      this.release?.();
      return;
    }
    // Stop the server and hold the socket until `Cleared`: audio before it belongs to this reply.
    this.clearing = true;
    void this.tts.send({ type: 'Clear' }).catch(() => undefined);
    setTimeout(() => {
      if (!this.clearing) return;
      this.clearing = false;
      this.tts.drop();
      this.release?.();
    }, this.tts.options.clearTimeoutMs ?? 2_000);
  };

  private cleanup(): void {
    this.done = true;
    this.idle.disarm();
    this.options.signal.removeEventListener('abort', this.onAbort);
  }
}
