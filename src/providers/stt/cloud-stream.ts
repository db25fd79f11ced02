import WebSocket, { type RawData } from 'ws';
import type { AudioFrame } from '../../audio/frame.ts';
import { CloudSttError, nextRetry, redactSecret, reportFatal } from './cloud-errors.ts';
import { FlushWatchdog } from './cloud-flush-watchdog.ts';
import { type AudioEntry, type FlushEntry, ReplayJournal } from './cloud-journal.ts';
import { KeepAliveTimer } from './cloud-keep-alive.ts';
import { type ReconnectOptions, readRejection, retire, type SocketRequest } from './cloud-socket.ts';
import type { SttListener, SttStream, Transcript } from './contract.ts';
import { audioEntry, checkPipelineFrame } from './pipeline-frame.ts';

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
  private lastMessageAt = 0;
  private nextFlushId = 1;
  private overflowLogged = false;
  private cancelConnectTimer: (() => void) | undefined;
  private cancelRetry: (() => void) | undefined;
  private readonly watchdog: FlushWatchdog;
  private readonly keepAlive: KeepAliveTimer;
  private readonly onAbort = () => this.close();

  constructor(
    protected readonly provider: string,
    protected readonly listener: SttListener,
    options: ReconnectOptions,
    private readonly secret: string,
    private readonly signal?: AbortSignal,
  ) {
    this.options = options;
    this.keepAlive = new KeepAliveTimer(options.clock);
    this.watchdog = new FlushWatchdog(
      options.clock,
      options.resultTimeoutMs,
      () => this.generation,
      (since) => {
        if (!this.closed && !this.gaveUp) this.onResultTimeout(this.lastMessageAt > since);
      },
    );
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
    checkPipelineFrame(frame, this.provider);
    if (this.closed || this.gaveUp || frame.samples.length === 0) return;
    // The journal may replay this frame much later.
    const entry = audioEntry(frame);
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
    this.keepAlive.sent();
  }

  /** A plain text frame (a provider whose commands are bare words, as Cartesia's `finalize`). */
  protected sendText(text: string): void {
    this.socket?.send(text);
    this.keepAlive.sent();
  }

  protected sendBinary(bytes: Uint8Array): void {
    this.socket?.send(bytes);
    this.keepAlive.sent();
  }

  /** The server answered a flush (or the provider answered it locally). */
  protected flushAnswered(): void {
    this.watchdog.answered();
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
    this.keepAlive.start(
      this.keepAliveIntervalMs(),
      () => generation === this.generation && this.live,
      () => this.sendKeepAlive(),
    );
  }

  private flushNow(entry: FlushEntry): void {
    if (this.sendFlush(entry)) this.watchdog.sent();
  }

  /** The connection is gone or useless: retry with backoff, or give up. */
  protected failConnection(error: CloudSttError): void {
    if (this.closed || this.gaveUp) return;
    const wasLive = this.live;
    this.abandonSocket();
    this.watchdog.reset();
    const { clock, stableAfterMs } = this.options;
    if (wasLive && this.connectedAt !== undefined && clock.now() - this.connectedAt >= stableAfterMs)
      this.failures = 0;
    this.failures++;
    const next = nextRetry(error, this.failures, this.options);
    if ('giveUp' in next) {
      this.giveUp(error, next.giveUp);
      return;
    }
    const { delayMs } = next;
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
    this.abandonSocket();
    reportFatal(error, this.provider, why, this.listener, this.options.log);
  }

  /** Closes the current socket; whatever it still says is ignored. */
  private abandonSocket(): void {
    this.generation++;
    this.live = false;
    this.clearTimers();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) retire(socket, false);
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
    this.cancelConnectTimer?.();
    this.cancelRetry?.();
    this.cancelConnectTimer = this.cancelRetry = undefined;
    this.watchdog.stop();
    this.keepAlive.stop();
  }
}
