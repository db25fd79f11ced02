import WebSocket, { type RawData } from 'ws';
import { AudioFormatError, type AudioFrame, PIPELINE_SAMPLE_RATE, validateFrame } from '../../audio/frame.ts';
import { backoffMs, CloudSttError, redactSecret } from './cloud-errors.ts';
import { type AudioEntry, type FlushEntry, ReplayJournal } from './cloud-journal.ts';
import { type ReconnectOptions, readRejection, retire, type SocketRequest } from './cloud-socket.ts';
import type { SttListener, SttStream, Transcript } from './contract.ts';

export type { AudioEntry, FlushEntry } from './cloud-journal.ts';
export {
  DEFAULT_RECONNECT_OPTIONS,
  type ReconnectOptions,
  reconnectOptions,
  type SocketRequest,
  type SttLog,
} from './cloud-socket.ts';

/**
 * A streaming STT over one WebSocket that survives its connection: it connects when created (so the socket is
 * warm before the user speaks), keeps every frame not yet covered by a final transcript in a journal, and after a
 * drop reconnects with backoff and replays that journal, flush hints included, so no word is lost. Retries stop
 * after `maxRetries` consecutive failures or on an error retrying cannot fix; the stream then reports a fatal error.
 */
export abstract class SocketSttStream implements SttStream {
  protected readonly journal = new ReplayJournal();
  protected readonly options: ReconnectOptions;
  private socket: WebSocket | undefined;
  private live = false;
  private closed = false;
  private gaveUp = false;
  private failures = 0;
  private generation = 0;
  private connectedAt: number | undefined;
  private lastSentAt = 0;
  private lastMessageAt = 0;
  private flushSentAt = 0;
  private awaitingAnswers = 0;
  private nextFlushId = 1;
  private overflowLogged = false;
  private cancelConnectTimer: (() => void) | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelWatchdog: (() => void) | undefined;
  private cancelKeepAlive: (() => void) | undefined;
  private readonly onAbort = () => this.close();

  constructor(
    protected readonly provider: string,
    protected readonly listener: SttListener,
    options: ReconnectOptions,
    private readonly secret: string,
    private readonly signal?: AbortSignal,
  ) {
    this.options = options;
  }

  /** Call at the end of the subclass constructor: opens the first connection. */
  protected start(): void {
    if (this.signal?.aborted) {
      this.closed = true;
      return;
    }
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.connect();
  }

  // --- what a provider supplies -------------------------------------------------------------------------------

  protected abstract request(): SocketRequest;
  /** Runs once the socket is open, before the journal is replayed (send the session configuration here). */
  protected abstract setup(): Promise<void> | void;
  protected abstract sendAudio(entry: AudioEntry): void;
  /** Sends the end-of-speech hint; returns whether an answer from the server is awaited. */
  protected abstract sendFlush(entry: FlushEntry): boolean;
  /** Parses one server message; throw CloudSttError('protocol') for one that makes no sense. */
  protected abstract handleMessage(data: RawData, isBinary: boolean): void;
  /** A polite goodbye before the socket closes (Deepgram's CloseStream). */
  protected sendGoodbye(): void {}
  /** Keep-alive interval during silence; 0 for none. */
  protected keepAliveIntervalMs(): number {
    return 0;
  }
  protected sendKeepAlive(): void {}
  /** A flush went unanswered for `resultTimeoutMs`. By default the connection is deemed dead. */
  protected onResultTimeout(_heardSinceFlush: boolean): void {
    this.failConnection(
      new CloudSttError(
        'timeout',
        `no answer within ${this.options.resultTimeoutMs} ms of the end of speech`,
      ),
    );
  }
  /** The error a close by the server stands for. */
  protected closeError(code: number, reason: string): CloudSttError {
    const detail = `${this.provider} closed the connection (${code}${reason ? ` ${reason}` : ''})`;
    if (code === 1008 || code === 1003 || code === 1007) return new CloudSttError('bad-request', detail);
    return new CloudSttError(code === 1011 ? 'server' : 'network', detail);
  }
  /** Per-connection state (queues of awaited answers, offset maps) starts over. */
  protected abstract resetConnectionState(): void;

  // --- SttStream ----------------------------------------------------------------------------------------------

  push(frame: AudioFrame): void {
    validateFrame(frame);
    if (frame.sampleRate !== PIPELINE_SAMPLE_RATE) {
      throw new AudioFormatError(
        `${this.provider} takes ${PIPELINE_SAMPLE_RATE} Hz frames, got ${frame.sampleRate} Hz`,
      );
    }
    if (this.closed || this.gaveUp || frame.samples.length === 0) return;
    const durationMs = (frame.samples.length * 1000) / PIPELINE_SAMPLE_RATE;
    // Copied: callers may reuse their buffers, and the journal may replay this frame much later.
    const entry: AudioEntry = {
      kind: 'audio',
      samples: frame.samples.slice(),
      startMs: frame.timestampMs,
      endMs: frame.timestampMs + durationMs,
    };
    this.journal.push(entry);
    this.boundJournal();
    if (this.live) this.sendAudio(entry);
  }

  flush(): void {
    if (this.closed || this.gaveUp) return;
    const entry: FlushEntry = { kind: 'flush', id: this.nextFlushId++ };
    this.journal.push(entry);
    if (this.live) this.flushNow(entry);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.clearTimers();
    const socket = this.socket;
    if (socket) {
      if (this.live) {
        try {
          this.sendGoodbye();
        } catch {
          // closing anyway
        }
      }
      retire(socket, this.live);
    }
    this.socket = undefined;
    this.live = false;
    this.journal.clear();
  }

  /** Audio waiting for a final transcript, in ms (what a reconnect would replay). */
  get unfinalizedMs(): number {
    return this.journal.audioMs;
  }

  get isConnected(): boolean {
    return this.live;
  }

  // --- for providers ------------------------------------------------------------------------------------------

  protected sendJson(message: object): void {
    this.socket?.send(JSON.stringify(message));
    this.lastSentAt = this.options.clock.now();
  }

  protected sendBinary(bytes: Uint8Array): void {
    this.socket?.send(bytes);
    this.lastSentAt = this.options.clock.now();
  }

  /** The server answered a flush (or the provider answered it locally). */
  protected flushAnswered(): void {
    this.awaitingAnswers = Math.max(0, this.awaitingAnswers - 1);
    this.cancelWatchdog?.();
    this.cancelWatchdog = undefined;
    if (this.awaitingAnswers > 0) this.armWatchdog();
  }

  /** A transcript arrived: the connection works, so failures start counting from zero again. */
  protected healthy(): void {
    this.failures = 0;
  }

  protected emitInterim(transcript: Transcript): void {
    this.deliver(() => this.listener.onInterim(transcript));
  }

  protected emitFinal(transcript: Transcript): void {
    this.deliver(() => this.listener.onFinal(transcript));
  }

  protected emitSpeechEvent(type: 'speechStarted' | 'endOfSpeech' | 'utteranceEnd', atMs: number): void {
    this.deliver(() => this.listener.onSpeechEvent?.({ type, atMs }));
  }

  /** A non-fatal problem: reported, logged, and the stream carries on. */
  protected report(error: unknown): void {
    const wrapped =
      error instanceof Error
        ? error
        : new CloudSttError('protocol', redactSecret(String(error), this.secret));
    this.options.log?.warn({ provider: this.provider, error: wrapped.message }, 'stt provider problem');
    try {
      this.listener.onError?.(wrapped);
    } catch {
      // a failing error handler must not break the stream
    }
  }

  protected redact(text: string): string {
    return redactSecret(text, this.secret);
  }

  // --- connection lifecycle -----------------------------------------------------------------------------------

  private connect(): void {
    if (this.closed || this.gaveUp) return;
    const generation = ++this.generation;
    const current = () => generation === this.generation && !this.closed && !this.gaveUp;
    this.live = false;
    this.connectedAt = undefined;
    this.resetConnectionState();
    let request: SocketRequest;
    let socket: WebSocket;
    try {
      request = this.request();
      socket = new WebSocket(request.url, { headers: request.headers, perMessageDeflate: false });
    } catch (error) {
      this.giveUp(new CloudSttError('config', this.redact(String((error as Error)?.message ?? error))));
      return;
    }
    this.socket = socket;
    this.cancelConnectTimer = this.options.clock.schedule(this.options.connectTimeoutMs, () => {
      if (current())
        this.failConnection(
          new CloudSttError(
            'timeout',
            `${this.provider}: not connected within ${this.options.connectTimeoutMs} ms`,
          ),
        );
    });
    socket.on('unexpected-response', (req, res) => {
      void readRejection(res, this.provider, this.secret).then((error) => {
        req.destroy();
        if (current()) this.failConnection(error);
      });
    });
    socket.on('open', () => {
      if (current()) void this.opened(generation);
    });
    socket.on('message', (data, isBinary) => {
      if (!current()) return;
      this.lastMessageAt = this.options.clock.now();
      try {
        this.handleMessage(data, isBinary);
      } catch (error) {
        this.report(
          error instanceof CloudSttError
            ? error
            : new CloudSttError('protocol', `${this.provider}: ${this.redact(String(error))}`),
        );
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!current()) return;
      const code = error.code ? ` (${error.code})` : '';
      this.failConnection(
        new CloudSttError('network', `${this.provider}: ${this.redact(error.message)}${code}`, {
          cause: error,
        }),
      );
    });
    socket.on('close', (code, reason) => {
      if (current()) this.failConnection(this.closeError(code, this.redact(reason.toString())));
    });
  }

  private async opened(generation: number): Promise<void> {
    const current = () => generation === this.generation && !this.closed && !this.gaveUp;
    try {
      await this.setup();
    } catch (error) {
      if (current())
        this.failConnection(
          error instanceof CloudSttError ? error : new CloudSttError('protocol', this.redact(String(error))),
        );
      return;
    }
    if (!current()) return;
    this.cancelConnectTimer?.();
    this.cancelConnectTimer = undefined;
    this.connectedAt = this.options.clock.now();
    this.lastMessageAt = this.connectedAt;
    this.live = true;
    const replayMs = this.unfinalizedMs;
    if (this.failures > 0) {
      this.options.log?.info(
        { provider: this.provider, replayMs: Math.round(replayMs), attempt: this.failures },
        'stt reconnected; replaying unfinalised audio',
      );
    }
    for (const entry of [...this.journal.entries]) {
      if (!this.live || generation !== this.generation) return;
      if (entry.kind === 'audio') this.sendAudio(entry);
      else this.flushNow(entry);
    }
    this.scheduleKeepAlive(generation);
  }

  private flushNow(entry: FlushEntry): void {
    if (!this.sendFlush(entry)) return;
    this.awaitingAnswers++;
    this.flushSentAt = this.options.clock.now();
    if (!this.cancelWatchdog) this.armWatchdog();
  }

  private armWatchdog(): void {
    const generation = this.generation;
    const armedAt = this.options.clock.now();
    this.cancelWatchdog = this.options.clock.schedule(this.options.resultTimeoutMs, () => {
      this.cancelWatchdog = undefined;
      if (generation !== this.generation || this.closed || this.gaveUp || this.awaitingAnswers === 0) return;
      this.onResultTimeout(this.lastMessageAt > Math.max(armedAt, this.flushSentAt));
    });
  }

  private scheduleKeepAlive(generation: number): void {
    const interval = this.keepAliveIntervalMs();
    if (interval <= 0) return;
    const check = () => {
      this.cancelKeepAlive = undefined;
      if (generation !== this.generation || !this.live) return;
      const idle = this.options.clock.now() - this.lastSentAt;
      if (idle >= interval) {
        try {
          this.sendKeepAlive();
        } catch {
          // the close event reports a broken socket
        }
      }
      this.cancelKeepAlive = this.options.clock.schedule(
        Math.max(1, interval - Math.min(idle, interval)),
        check,
      );
    };
    this.cancelKeepAlive = this.options.clock.schedule(interval, check);
  }

  /** The connection is gone or useless: retry with backoff, or give up. */
  protected failConnection(error: CloudSttError): void {
    if (this.closed || this.gaveUp) return;
    this.generation++; // whatever the old socket still says is ignored
    const wasLive = this.live;
    this.live = false;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) retire(socket, false);
    this.awaitingAnswers = 0;
    const { clock, stableAfterMs, maxRetries, maxRetryAfterMs, initialBackoffMs, maxBackoffMs } =
      this.options;
    if (wasLive && this.connectedAt !== undefined && clock.now() - this.connectedAt >= stableAfterMs)
      this.failures = 0;
    this.failures++;
    const why = !error.retryable
      ? ''
      : this.failures > maxRetries
        ? ` gave up after ${this.failures} attempts`
        : error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs
          ? ` asked to wait ${Math.round(error.retryAfterMs)} ms`
          : undefined;
    if (why !== undefined) {
      this.giveUp(error, why);
      return;
    }
    const delayMs = error.retryAfterMs ?? backoffMs(this.failures, initialBackoffMs, maxBackoffMs);
    this.options.log?.warn(
      {
        provider: this.provider,
        error: error.message,
        attempt: this.failures,
        delayMs: Math.round(delayMs),
        unfinalizedMs: Math.round(this.unfinalizedMs),
      },
      'stt connection failed; reconnecting',
    );
    this.cancelRetry = clock.schedule(delayMs, () => {
      this.cancelRetry = undefined;
      this.connect();
    });
  }

  private giveUp(error: CloudSttError, why = ''): void {
    if (this.gaveUp || this.closed) return;
    this.gaveUp = true;
    this.generation++;
    this.live = false;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) retire(socket, false);
    const fatal = error.asFatal(`${this.provider}${why}`);
    this.options.log?.warn({ provider: this.provider, error: fatal.message }, 'stt stream gave up');
    try {
      this.listener.onError?.(fatal);
    } catch {
      // nothing more to do
    }
  }

  private boundJournal(): void {
    if (!this.journal.bound(this.options.maxReplayMs)) {
      this.overflowLogged = false;
      return;
    }
    if (this.overflowLogged) return;
    this.overflowLogged = true;
    this.options.log?.warn(
      { provider: this.provider, maxReplayMs: this.options.maxReplayMs },
      'stt replay journal full; dropping the oldest unfinalised audio',
    );
  }

  private deliver(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.report(error);
    }
  }

  private clearTimers(): void {
    for (const cancel of [
      this.cancelConnectTimer,
      this.cancelRetry,
      this.cancelWatchdog,
      this.cancelKeepAlive,
    ])
      cancel?.();
    this.cancelConnectTimer = this.cancelRetry = this.cancelWatchdog = this.cancelKeepAlive = undefined;
  }
}
