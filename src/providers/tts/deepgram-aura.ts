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
  /**
   * Connections per TTS (per session). A reply takes an idle one; when all are in use and there is room, it opens
   * another rather than queue behind a synthesis on the busy socket (the apology, which the session synthesizes
   * ahead of need as its first reply starts). Default 2; 1: replies take turns on one socket.
   */
  maxConnections?: number;
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
 * `Close` ends the connection. A connection serves one reply at a time, since its audio frames carry no reply id:
 * the first is opened by prewarm, a second (see `maxConnections`) when a reply finds the first taken, and replies
 * queue only when every connection is busy. Aura gives no word timings.
 */
/** One connection and the reply that owns it. */
export interface AuraLane {
  send(message: Record<string, unknown>): Promise<void>;
  drop(): void;
  release(): void;
}

class Lane {
  owner: Owner | undefined;
  busy = false;
  constructor(readonly socket: SessionSocket<ServerMessage>) {}
}

export class DeepgramAuraTts implements TTS {
  readonly name: string;
  readonly sampleRate: number;
  readonly streamingInput = true;
  private readonly lanes: Lane[] = [];
  private readonly waiters: ((lane: Lane) => void)[] = [];
  private readonly url: string;
  private closed = false;

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
    this.url = url.toString();
    const max = options.maxConnections ?? 2;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`deepgram-aura maxConnections must be an integer >= 1, got ${max}`);
    this.lanes.push(this.newLane());
  }

  private newLane(): Lane {
    const options = this.options;
    const lane: Lane = new Lane(
      new SessionSocket({
        ...options,
        name: this.name,
        url: this.url,
        headers: { Authorization: `Token ${options.apiKey}` },
        closeMessage: { type: 'Close' },
        parse: (value) => ServerMessage.parse(value),
        binary: (data) => lane.owner?.audio(data),
        message: (message) => {
          if (message.type === 'Warning') {
            options.log?.warn(
              { provider: this.name, code: message.code, description: message.description },
              'tts warning',
            );
          }
          lane.owner?.text(message);
        },
        lost: (error) => lane.owner?.lost(error),
      }),
    );
    return lane;
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new AuraStream(this, options);
  }

  prewarm(): Promise<void> {
    return this.lanes[0].socket.prewarm();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes) lane.socket.close();
  }

  /** Connections open or opening (for tests and diagnostics). */
  get connections(): number {
    return this.lanes.length;
  }

  /** @internal waits for a free connection, then owns it until the lane is released */
  acquire(owner: Owner): Promise<AuraLane> {
    return new Promise((resolve) => {
      const grant = (lane: Lane) => {
        lane.busy = true;
        lane.owner = owner;
        let released = false;
        resolve({
          send: (message) => lane.socket.send(message),
          drop: () => lane.socket.drop(),
          release: () => {
            if (released) return;
            released = true;
            if (lane.owner === owner) lane.owner = undefined;
            lane.busy = false;
            const next = this.waiters.shift();
            if (next) next(lane);
          },
        });
      };
      const idle = this.lanes.find((l) => !l.busy);
      if (idle) return grant(idle);
      // Every connection is taken: another one (it connects on the reply's first send), else wait for one.
      if (!this.closed && this.lanes.length < (this.options.maxConnections ?? 2)) {
        const lane = this.newLane();
        this.lanes.push(lane);
        return grant(lane);
      }
      this.waiters.push(grant);
    });
  }

  /** @internal */
  retryDelay(error: unknown, attempt: number): number | undefined {
    return this.lanes[0].socket.retryDelay(error, attempt);
  }
}

class AuraStream implements TtsStream {
  private readonly framer: SegmentFramer;
  private readonly pcm = new PcmChunker();
  private readonly sent: Record<string, unknown>[] = [];
  private lane: AuraLane | undefined;
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
    this.acquired = tts.acquire(this.owner).then((lane) => {
      this.lane = lane;
      if (this.done && !this.clearing) lane.release();
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
      .then(() => (this.done || attempt !== this.attempt ? undefined : this.lane?.send(message)))
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
      this.lane?.release();
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
      this.lane?.release();
      return;
    }
    if (this.done) return;
    this.idle.disarm();
    const delay = this.audioDelivered ? undefined : this.tts.retryDelay(error, this.attempt);
    this.attempt++;
    this.lane?.drop();
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
    this.lane?.release();
    this.framer.output.end();
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.cleanup();
    this.lane?.release();
    this.framer.output.fail(error);
  }

  private readonly onAbort = () => {
    if (this.done) return;
    this.cleanup();
    this.framer.output.end();
    if (this.sent.length === 0 || !this.lane) {
      this.lane?.release();
      return;
    }
    // Stop the server and hold the socket until `Cleared`: audio before it belongs to this reply.
    this.clearing = true;
    void this.lane.send({ type: 'Clear' }).catch(() => undefined);
    setTimeout(() => {
      if (!this.clearing) return;
      this.clearing = false;
      this.lane?.drop();
      this.lane?.release();
    }, this.tts.options.clearTimeoutMs ?? 2_000);
  };

  private cleanup(): void {
    this.done = true;
    this.idle.disarm();
    this.options.signal.removeEventListener('abort', this.onAbort);
  }
}
