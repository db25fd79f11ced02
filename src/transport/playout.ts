import type { AudioOutput, PlayOptions, PlayoutReceipt } from '../agent/io.ts';
import { type AudioFrame, concatSamples } from '../audio/frame.ts';
import { Resampler } from '../audio/resampler.ts';
import type { Clock } from '../metrics/clock.ts';
import { Notifier } from '../util/emitter.ts';
import type { ServerMessage } from './protocol.ts';
import type { PlaybackReceipts, Receipt } from './receipts.ts';

/** Where a transport puts the agent's audio: PCM16 binary frames, RTP packets of Opus, … */
export interface AudioSink {
  /** The rate of the samples handed to `sendAudio`. */
  readonly sampleRate: number;
  /**
   * False once the client is gone for good (a socket closing or closed, a failed peer): playout stops and the
   * speech ends. A transient outage is not "closed": the sink keeps accepting (and dropping) audio meanwhile.
   */
  isOpen(): boolean;
  /**
   * Sends one chunk (`chunkMs` long; the last of a playout may be shorter). `dueMs` is when it is scheduled
   * to play on the session clock: contiguous chunks are exactly one chunk apart, a gap means the client ran dry.
   */
  sendAudio(samples: Int16Array, dueMs: number): void;
}

export interface StreamingOutputOptions {
  clock: Clock;
  sink: AudioSink;
  /** Sends a control message to the client (`speech`, `clear`). */
  send(message: ServerMessage): void;
  receipts: PlaybackReceipts;
  /** Audio is sent this far ahead of real time: enough to ride out jitter, little enough to stop at once. */
  sendAheadMs?: number;
  chunkMs?: number;
  /** How long to wait for a `started` or `stopped` receipt before falling back to the send-side estimate. */
  receiptTimeoutMs?: number;
  /** How long past the estimated end of a speech to wait for its `finished` receipt. */
  finishedGraceMs?: number;
}

const DEFAULTS = { sendAheadMs: 80, chunkMs: 20, receiptTimeoutMs: 1000, finishedGraceMs: 500 };

class PlayoutAborted extends Error {}

/**
 * The agent's speech to one client, paced in real time, for any transport. With receipts on, what the user
 * heard is timed by the client's `playback` receipts (stamped on arrival): `onFirstPlayed` fires on `started`,
 * an abort sends `clear` and waits for `stopped`, the end waits for `finished`; each wait is bounded and falls
 * back to the send-side estimate. Without receipts the send side is all there is.
 */
export class StreamingAudioOutput implements AudioOutput {
  private readonly config: Required<Omit<StreamingOutputOptions, 'clock' | 'sink' | 'send' | 'receipts'>>;
  private resampler: Resampler | undefined;
  private destroyed = false;
  private active: { clear(): void } | undefined;

  constructor(private readonly options: StreamingOutputOptions) {
    this.config = {
      sendAheadMs: options.sendAheadMs ?? DEFAULTS.sendAheadMs,
      chunkMs: options.chunkMs ?? DEFAULTS.chunkMs,
      receiptTimeoutMs: options.receiptTimeoutMs ?? DEFAULTS.receiptTimeoutMs,
      finishedGraceMs: options.finishedGraceMs ?? DEFAULTS.finishedGraceMs,
    };
  }

  get sampleRate(): number {
    return this.options.sink.sampleRate;
  }

  get isClosed(): boolean {
    return !this.options.sink.isOpen();
  }

  async play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt> {
    const { clock, sink, send } = this.options;
    const { signal, speechId } = options;
    if (signal.aborted) return { firstPlayedAtMs: null, interruptedAtMs: clock.now(), playedMs: 0 };
    if (!sink.isOpen()) {
      return { firstPlayedAtMs: null, interruptedAtMs: clock.now(), playedMs: 0, outputClosed: true };
    }
    const playout = new Playout(clock, this.options.receipts, this.config, speechId, options.onFirstPlayed);
    const clear = () => {
      if (playout.clearedAt !== undefined) return;
      playout.clearedAt = clock.now();
      send({ type: 'clear', speechId });
    };
    const active = { clear };
    this.active = active;
    signal.addEventListener('abort', clear, { once: true });
    send({ type: 'speech', speechId });
    try {
      await this.stream(frames, playout, signal);
      if (!sink.isOpen()) return { ...playout.stopped(clock.now()), outputClosed: true };
      return await playout.finish(signal);
    } catch (error) {
      if (!signal.aborted && !(error instanceof PlayoutAborted)) throw error;
      if (!sink.isOpen()) return { ...playout.stopped(clock.now()), outputClosed: true };
      clear();
      return await playout.awaitStopped();
    } finally {
      signal.removeEventListener('abort', clear);
      playout.dispose();
      if (this.active === active) this.active = undefined;
    }
  }

  /** Tells the client to drop what it buffered of the speech now playing. */
  clear(): void {
    this.active?.clear();
  }

  /** Frees the resampler (WebAssembly memory); the output plays nothing more. */
  destroy(): void {
    this.destroyed = true;
    this.resampler?.destroy();
    this.resampler = undefined;
  }

  private async stream(frames: AsyncIterable<AudioFrame>, playout: Playout, signal: AbortSignal) {
    const { sink } = this.options;
    const chunkSamples = Math.round((this.config.chunkMs * sink.sampleRate) / 1000);
    let pending: Int16Array = new Int16Array(0);
    for await (const frame of abortable(frames, signal)) {
      if (frame.speechId !== playout.speechId) continue;
      const samples = await this.toOutputRate(frame);
      if (signal.aborted) throw new PlayoutAborted();
      pending = pending.length === 0 ? samples : concatSamples([pending, samples]);
      let offset = 0;
      while (pending.length - offset >= chunkSamples) {
        await this.sendChunk(pending.subarray(offset, offset + chunkSamples), playout, signal);
        offset += chunkSamples;
      }
      pending = pending.subarray(offset); // never written to: a view, not a copy
    }
    if (pending.length > 0) await this.sendChunk(pending, playout, signal);
  }

  private async sendChunk(samples: Int16Array, playout: Playout, signal: AbortSignal): Promise<void> {
    const { clock, sink } = this.options;
    const dueMs = playout.schedule(clock.now());
    const aheadMs = dueMs - clock.now();
    if (aheadMs > this.config.sendAheadMs) await clock.sleep(aheadMs - this.config.sendAheadMs, signal);
    if (signal.aborted) throw new PlayoutAborted();
    if (!sink.isOpen()) throw new PlayoutAborted();
    sink.sendAudio(samples, dueMs);
    playout.sent((samples.length * 1000) / sink.sampleRate);
  }

  private async toOutputRate(frame: AudioFrame): Promise<Int16Array> {
    if (frame.sampleRate === this.sampleRate) return frame.samples;
    if (this.resampler?.inputRate !== frame.sampleRate) {
      if (this.destroyed) throw new PlayoutAborted();
      this.resampler?.destroy();
      this.resampler = undefined;
      const created = await Resampler.create(frame.sampleRate, this.sampleRate);
      // Destroyed while it was being created (the client hung up): it must not outlive the output.
      if (this.destroyed) {
        created.destroy();
        throw new PlayoutAborted();
      }
      this.resampler = created;
    }
    return this.resampler.process(frame.samples);
  }
}

/** One call of `play()`: its schedule, what was sent, and the receipts that came back for it. */
class Playout {
  clearedAt: number | undefined;
  private firstSentAt: number | undefined;
  /** Session time the client plays the first sent sample, as the send side schedules it. */
  private anchor = 0;
  private sentMs = 0;
  private startedAt: number | undefined;
  private stoppedReceipt: Receipt | undefined;
  private finishedReceipt: { receipt: Receipt; sentMsAtArrival: number } | undefined;
  private readonly changed = new Notifier();
  private readonly unsubscribe: () => void;
  private cancelStartedTimeout: (() => void) | undefined;
  private readonly useReceipts: boolean;

  constructor(
    private readonly clock: Clock,
    receipts: PlaybackReceipts,
    private readonly config: Required<Omit<StreamingOutputOptions, 'clock' | 'sink' | 'send' | 'receipts'>>,
    readonly speechId: number,
    private readonly onFirstPlayed: ((atMs: number) => void) | undefined,
  ) {
    this.useReceipts = receipts.enabled;
    this.unsubscribe = this.useReceipts ? receipts.subscribe(speechId, (r) => this.onReceipt(r)) : () => {};
  }

  /** When the next chunk is due to play. After the client ran dry the schedule restarts from now. */
  schedule(now: number): number {
    if (this.firstSentAt === undefined) {
      this.firstSentAt = now;
      this.anchor = now;
    } else if (now > this.anchor + this.sentMs) {
      // Never burst a backlog (a slow TTS, a stalled event loop): the words come late, none are skipped.
      this.anchor = now - this.sentMs;
    }
    return this.anchor + this.sentMs;
  }

  sent(ms: number): void {
    const first = this.sentMs === 0;
    this.sentMs += ms;
    if (!first || this.firstSentAt === undefined) return;
    if (!this.useReceipts) this.markStarted(this.firstSentAt);
    else {
      const fallbackAt = this.firstSentAt;
      this.cancelStartedTimeout = this.clock.schedule(this.config.receiptTimeoutMs, () =>
        this.markStarted(fallbackAt),
      );
    }
  }

  /** The playout ran to its end: wait until the client has played it (its `finished` receipt, or the estimate). */
  async finish(signal: AbortSignal): Promise<PlayoutReceipt> {
    if (this.firstSentAt === undefined) {
      return { firstPlayedAtMs: null, finishedAtMs: this.clock.now(), playedMs: 0 };
    }
    for (;;) {
      const now = this.clock.now();
      if (this.isFinishedReceiptCurrent()) return this.finished(this.finishedReceipt!.receipt.atMs);
      const estimatedEnd = this.clientTime(this.anchor + this.sentMs);
      const deadline = this.useReceipts ? estimatedEnd + this.config.finishedGraceMs : estimatedEnd;
      if (now >= deadline) return this.finished(Math.min(now, estimatedEnd));
      await this.waitForReceipt(deadline - now, signal);
      if (signal.aborted) throw new PlayoutAborted();
    }
  }

  /** After `clear`: the client's `stopped` receipt tells when the audio stopped and how much was heard. */
  async awaitStopped(): Promise<PlayoutReceipt> {
    const clearedAt = this.clearedAt ?? this.clock.now();
    if (this.useReceipts && this.sentMs > 0 && !this.stoppedReceipt) {
      await this.waitForReceipt(this.config.receiptTimeoutMs);
    }
    const receipt = this.stoppedReceipt;
    if (!receipt) return this.stopped(clearedAt);
    if (receipt.playedMs !== 0) this.assumeStarted();
    const playedMs = Math.min(this.sentMs, receipt.playedMs ?? this.estimatedPlayedMs(receipt.atMs));
    return { firstPlayedAtMs: this.startedAt ?? null, interruptedAtMs: receipt.atMs, playedMs };
  }

  /** Stopped without a receipt: the send side's estimate. */
  stopped(atMs: number): PlayoutReceipt {
    this.assumeStarted();
    return {
      firstPlayedAtMs: this.startedAt ?? null,
      interruptedAtMs: atMs,
      playedMs: this.estimatedPlayedMs(atMs),
    };
  }

  dispose(): void {
    this.unsubscribe();
    this.cancelStartedTimeout?.();
    this.changed.notify();
  }

  private finished(atMs: number): PlayoutReceipt {
    this.assumeStarted();
    return { firstPlayedAtMs: this.startedAt ?? null, finishedAtMs: atMs, playedMs: this.sentMs };
  }

  private onReceipt(receipt: Receipt): void {
    if (receipt.event === 'started') {
      if (this.firstSentAt !== undefined) this.markStarted(receipt.atMs);
    } else if (receipt.event === 'stopped') {
      if (this.clearedAt !== undefined) this.stoppedReceipt ??= receipt;
    } else if (this.firstSentAt !== undefined && this.clearedAt === undefined) {
      this.finishedReceipt = { receipt, sentMsAtArrival: this.sentMs };
    }
    this.changed.notify();
  }

  /**
   * A client sends `finished` whenever it has played all it received of a speech, so one can come early: it
   * ran dry before the rest of the audio reached it. A receipt ends the playout only if no audio went out
   * after it arrived, and either its `playedMs` covers what was sent or it came no earlier than the
   * estimated end (a client that counts only audible time under-reports `playedMs`).
   */
  private isFinishedReceiptCurrent(): boolean {
    if (!this.finishedReceipt) return false;
    const { receipt, sentMsAtArrival } = this.finishedReceipt;
    if (sentMsAtArrival !== this.sentMs) return false;
    const slackMs = 2 * this.config.chunkMs;
    if (receipt.playedMs !== undefined && receipt.playedMs >= this.sentMs - slackMs) return true;
    return receipt.atMs >= this.clientTime(this.anchor + this.sentMs) - slackMs;
  }

  /** Audio went out and no `started` receipt told when it was heard: the send side's time stands in. */
  private assumeStarted(): void {
    if (this.firstSentAt !== undefined) this.markStarted(this.firstSentAt);
  }

  private markStarted(atMs: number): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = atMs;
    this.cancelStartedTimeout?.();
    this.changed.notify();
    this.onFirstPlayed?.(atMs);
  }

  /** Send-side schedule time → when the client plays it (the `started` receipt tells the offset). */
  private clientTime(scheduledMs: number): number {
    const offset =
      this.startedAt !== undefined && this.firstSentAt !== undefined
        ? Math.max(0, this.startedAt - this.firstSentAt)
        : 0;
    return scheduledMs + offset;
  }

  private estimatedPlayedMs(atMs: number): number {
    if (this.firstSentAt === undefined || this.startedAt === undefined) return 0;
    return Math.max(0, Math.min(this.sentMs, atMs - this.clientTime(this.anchor)));
  }

  private async waitForReceipt(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([
        this.changed.wait(),
        this.clock.sleep(Math.max(0, timeoutMs), controller.signal).catch(() => undefined),
      ]);
    } finally {
      controller.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Iterates `source` until `signal` aborts, without waiting for a pending `next()` to settle first. */
async function* abortable<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new PlayoutAborted());
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const result = await Promise.race([iterator.next(), aborted]);
      if (result.done) return;
      yield result.value;
    }
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    // Not awaited: a generator suspended on its own wait settles its return() only when it wakes.
    void iterator.return?.()?.catch(() => {});
  }
}
