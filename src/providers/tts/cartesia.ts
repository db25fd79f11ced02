import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import { RetryableError } from '../llm/openai-retry.ts';
import { SegmentFramer, socketBase, ttsError } from './cartesia-socket.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions, WordTiming } from './contract.ts';
import { base64ToPcm, PcmChunker, TtsRequestError } from './openai-pcm.ts';
import { IdleTimer, SessionSocket } from './session-socket.ts';

/** A voice from Cartesia's documentation examples. */
export const CARTESIA_DEFAULT_VOICE = 'a0e99841-438c-4a64-b679-ae501e7d6091';
export const CARTESIA_DEFAULT_MODEL = 'sonic-3';
export const CARTESIA_VERSION = '2025-04-16';
const RATES = new Set([8000, 16000, 22050, 24000, 44100, 48000]);

export interface CartesiaOptions {
  apiKey: string;
  voiceId?: string;
  modelId?: string;
  /** Default 16,000 Hz (the pipeline's rate), raw pcm_s16le. */
  sampleRate?: number;
  language?: string;
  /** `https://api.cartesia.ai` by default; the socket is `<base>/tts/websocket` (http → ws, https → wss). */
  baseUrl?: string;
  /** WebSocket handshake. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for audio while flushed text has none yet. Default 10,000 ms. */
  idleTimeoutMs?: number;
  /** Reconnects before the first audio of a reply (refused, 429, 5xx, dropped); never after. Default 2. */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Default `cartesia:<voice>`. */
  name?: string;
  log?: ProviderLog;
}

const Timestamps = z.object({
  words: z.array(z.string()),
  start: z.array(z.number()),
  end: z.array(z.number()),
});
const ServerMessage = z.object({
  type: z.enum(['chunk', 'timestamps', 'flush_done', 'done', 'error', 'phoneme_timestamps']),
  context_id: z.string(),
  data: z.string().optional(),
  done: z.boolean().optional(),
  status_code: z.number().optional(),
  flush_id: z.number().optional(),
  word_timestamps: Timestamps.optional(),
  error: z.string().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
});
type ServerMessage = z.infer<typeof ServerMessage>;

interface ContextListener {
  message(message: ServerMessage): void;
  lost(error: unknown): void;
}

/**
 * Cartesia Sonic over its WebSocket API: one connection per TTS (opened by prewarm, reused by every reply), one
 * context per reply whose text goes out word by word as continuations (`continue: true`), so prosody flows
 * across the reply's sentences; each sentence ends with a flush, whose `flush_done` marks the segment boundary;
 * word timestamps come back as `timestamps` messages. An interrupted reply's context is cancelled.
 */
export class CartesiaTts implements TTS {
  readonly name: string;
  readonly sampleRate: number;
  readonly streamingInput = true;
  private readonly contexts = new Map<string, ContextListener>();
  private readonly socket: SessionSocket<ServerMessage>;

  constructor(readonly options: CartesiaOptions) {
    this.sampleRate = options.sampleRate ?? 16_000;
    if (!RATES.has(this.sampleRate))
      throw new RangeError(`unsupported Cartesia sample rate ${this.sampleRate}`);
    this.name = options.name ?? `cartesia:${options.voiceId ?? CARTESIA_DEFAULT_VOICE}`;
    const base = socketBase(options.baseUrl ?? 'https://api.cartesia.ai');
    this.socket = new SessionSocket({
      ...options,
      name: this.name,
      url: new URL('/tts/websocket', base).toString(),
      headers: { 'X-API-Key': options.apiKey, 'Cartesia-Version': CARTESIA_VERSION },
      parse: (value) => ServerMessage.parse(value),
      message: (message) => this.contexts.get(message.context_id)?.message(message),
      lost: (error) => {
        // Its contexts retry on a fresh connection (or fail).
        const listeners = [...this.contexts.values()];
        this.contexts.clear();
        for (const l of listeners) l.lost(error);
      },
    });
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new CartesiaStream(this, options);
  }

  prewarm(): Promise<void> {
    return this.socket.prewarm();
  }

  async close(): Promise<void> {
    this.socket.close();
  }

  /** @internal the generation request every message of a context carries */
  request(contextId: string): Record<string, unknown> {
    return {
      model_id: this.options.modelId ?? CARTESIA_DEFAULT_MODEL,
      voice: { mode: 'id', id: this.options.voiceId ?? CARTESIA_DEFAULT_VOICE },
      language: this.options.language ?? 'en',
      context_id: contextId,
      output_format: { container: 'raw', encoding: 'pcm_s16le', sample_rate: this.sampleRate },
      add_timestamps: true,
    };
  }

  /** @internal sends on the shared socket, opening it first; the listener hears its context's messages */
  async send(contextId: string, listener: ContextListener, message: Record<string, unknown>): Promise<void> {
    await this.socket.send(message);
    this.contexts.set(contextId, listener);
  }

  /** @internal */
  forget(contextId: string, cancel: boolean): void {
    if (!this.contexts.delete(contextId) || !cancel) return;
    this.socket.sendIfOpen({ context_id: contextId, cancel: true });
  }

  /** @internal */
  retryDelay(error: unknown, attempt: number): number | undefined {
    return this.socket.retryDelay(error, attempt);
  }
}

class CartesiaStream implements TtsStream {
  private readonly framer: SegmentFramer;
  private readonly pcm = new PcmChunker();
  /** Every message of this reply (without the context's request fields), replayed on a retry. */
  private readonly sent: Record<string, unknown>[] = [];
  private contextId = randomUUID();
  private unsentWord = '';
  private segment = 0;
  private flushes = 0;
  private contextSamples = 0;
  private segmentStartSamples = [0];
  private endRequested = false;
  private done = false;
  private audioDelivered = false;
  private attempt = 0;
  private readonly idle = new IdleTimer(
    () => this.tts.name,
    () => this.tts.options.idleTimeoutMs ?? 10_000,
    (error) => this.failed(error),
  );
  private readonly listener: ContextListener = {
    message: (m) => this.onMessage(m),
    lost: (error) => this.failed(error),
  };

  constructor(
    private readonly tts: CartesiaTts,
    private readonly options: TtsStreamOptions,
  ) {
    this.framer = new SegmentFramer(tts.sampleRate);
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
    // Whole words only: a word split across two messages could be spoken as two.
    const cut = this.unsentWord.search(/\s\S*$/);
    if (cut < 0) return;
    const words = this.unsentWord.slice(0, cut + 1);
    this.unsentWord = this.unsentWord.slice(cut + 1);
    if (words.trim()) this.send({ transcript: words, continue: true });
  }

  flush(): void {
    if (this.done || this.endRequested) return;
    const rest = this.unsentWord;
    this.unsentWord = '';
    this.flushes++;
    this.send({ transcript: rest, continue: true, flush: true });
    this.idle.arm();
  }

  end(): void {
    if (this.done || this.endRequested) return;
    if (this.unsentWord.trim()) this.flush();
    this.endRequested = true;
    this.send({ transcript: '', continue: false });
    this.idle.arm();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.framer.output[Symbol.asyncIterator]();
  }

  private send(message: Record<string, unknown>): void {
    this.sent.push(message);
    this.transmit(message, this.contextId);
  }

  private transmit(message: Record<string, unknown>, contextId: string): void {
    this.tts.send(contextId, this.listener, { ...this.tts.request(contextId), ...message }).catch((error) => {
      if (contextId === this.contextId) this.failed(error);
    });
  }

  private onMessage(m: ServerMessage): void {
    if (this.done) return;
    switch (m.type) {
      case 'chunk': {
        if (!m.data) break;
        const samples = base64ToPcm(m.data, this.pcm);
        this.audioDelivered = true;
        this.contextSamples += samples.length;
        this.framer.push(this.segment, samples);
        break;
      }
      case 'timestamps':
        if (m.word_timestamps) this.framer.words(this.segment, this.words(m.word_timestamps));
        break;
      case 'flush_done':
        this.framer.drain();
        this.segment++;
        this.segmentStartSamples[this.segment] = this.contextSamples;
        break;
      case 'done':
        if (m.status_code !== undefined && m.status_code >= 400) this.onError(m);
        else this.finish();
        return;
      case 'error':
        this.onError(m);
        return;
    }
    if (this.awaiting()) this.idle.arm();
    else this.idle.disarm();
  }

  /** Context-relative seconds as ms from the start of the segment the words belong to. */
  private words(t: z.infer<typeof Timestamps>): WordTiming[] {
    const startMs = ((this.segmentStartSamples[this.segment] ?? 0) * 1000) / this.tts.sampleRate;
    return t.words.map((word, i) => ({
      word,
      startMs: Math.max(0, Math.round(t.start[i] * 1000 - startMs)),
      endMs: Math.max(0, Math.round((t.end[i] ?? t.start[i]) * 1000 - startMs)),
    }));
  }

  private onError(m: ServerMessage): void {
    const detail = [m.title, m.message ?? m.error].filter(Boolean).join(': ') || 'error';
    const status = m.status_code ?? 0;
    const message = `${this.tts.name}: ${status ? `${status} ` : ''}${detail}`;
    this.failed(status === 429 || status >= 500 ? new RetryableError(message) : new TtsRequestError(message));
  }

  private awaiting(): boolean {
    return this.segment < this.flushes || this.endRequested;
  }

  /** A failure before any audio: a new context (on a new connection when it was lost) replays the reply. */
  private failed(error: unknown): void {
    if (this.done) return;
    this.idle.disarm();
    this.tts.forget(this.contextId, true);
    const delay = this.audioDelivered ? undefined : this.tts.retryDelay(error, this.attempt++);
    if (delay === undefined) {
      this.fail(ttsError(error));
      return;
    }
    this.tts.options.log?.warn(
      { provider: this.tts.name, attempt: this.attempt, delayMs: delay, err: ttsError(error).message },
      'tts connection failed before its first audio; reconnecting',
    );
    const contextId = randomUUID();
    this.contextId = contextId;
    setTimeout(() => {
      if (this.done || contextId !== this.contextId) return;
      for (const message of this.sent) this.transmit(message, contextId);
      if (this.awaiting()) this.idle.arm();
    }, delay);
  }

  private finish(): void {
    if (this.done) return;
    this.framer.drain();
    this.cleanup(false);
    this.framer.output.end();
  }

  private fail(error: Error): void {
    if (this.done) return;
    this.cleanup(true);
    this.framer.output.fail(error);
  }

  private readonly onAbort = () => {
    if (this.done) return;
    this.cleanup(true);
    this.framer.output.end();
  };

  private cleanup(cancel: boolean): void {
    this.done = true;
    this.idle.disarm();
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.tts.forget(this.contextId, cancel);
  }
}
