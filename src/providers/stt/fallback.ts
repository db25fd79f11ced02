import type { AudioFrame } from '../../audio/frame.ts';
import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import type { SttLog } from './cloud-stream.ts';
import {
  isFatalSttError,
  type STT,
  type SttFallbackEvent,
  type SttListener,
  type SttStream,
  type SttStreamOptions,
  type Transcript,
} from './contract.ts';

export interface FallbackSttOptions {
  log?: SttLog;
  /** Every switch, for a process-wide metric (a stream's listener hears its own through `onFallback`). */
  onFallback?(event: SttFallbackEvent): void;
  /** Move on when a final arrives later than this after the end-of-speech hint; undefined: never for latency. */
  finalLatencyBudgetMs?: number;
  /** Unfinalised audio kept for replay to the next provider. Default 30,000 ms. */
  maxReplayMs?: number;
  clock?: Clock;
}

/**
 * STT providers in order of preference. A stream starts on the first; when that one fails for good (its own
 * retries exhausted, a rejected key) or overruns the latency budget, it moves to the next and replays the audio the
 * failing one had not finalised, so the user's words still arrive. Each new stream (session) starts on the first
 * provider again.
 */
export class FallbackStt implements STT {
  readonly name: string;

  constructor(
    readonly providers: readonly STT[],
    private readonly options: FallbackSttOptions = {},
  ) {
    if (providers.length === 0) throw new Error('FallbackStt needs at least one provider');
    this.name = providers.map((p) => p.name).join(' > ');
  }

  /** Warms every provider (the fallback should be ready when it is needed); fails only if all of them fail. */
  async prewarm(): Promise<void> {
    const results = await Promise.allSettled(this.providers.map((p) => p.prewarm?.()));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, reason: r.reason }] : []));
    for (const { i, reason } of failures) {
      this.options.log?.warn(
        {
          provider: this.providers[i].name,
          error: reason instanceof Error ? reason.message : String(reason),
        },
        'stt prewarm failed',
      );
    }
    if (failures.length === this.providers.length) throw failures[0].reason;
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): SttStream {
    return new FallbackStream(this.providers, listener, options, this.options);
  }

  /** Frees what the providers hold (pocketsphinx decoders). */
  dispose(): void {
    for (const provider of this.providers) (provider as { dispose?: () => void }).dispose?.();
  }
}

type Entry = { kind: 'audio'; frame: AudioFrame; endMs: number } | { kind: 'flush' };

class FallbackStream implements SttStream {
  private index = -1;
  private current: SttStream | undefined;
  private generation = 0;
  private journal: Entry[] = [];
  private journalMs = 0;
  private pendingFlushAt: number | undefined;
  private closed = false;
  private dead = false;
  private readonly clock: Clock;

  constructor(
    private readonly providers: readonly STT[],
    private readonly listener: SttListener,
    private readonly streamOptions: SttStreamOptions,
    private readonly options: FallbackSttOptions,
  ) {
    this.clock = options.clock ?? new MonotonicClock();
    this.moveTo(0);
  }

  push(frame: AudioFrame): void {
    if (this.closed || this.dead) return;
    this.current?.push(frame); // may throw AudioFormatError: the caller's to handle, nothing recorded
    const endMs = frame.timestampMs + (frame.samples.length * 1000) / frame.sampleRate;
    this.journal.push({ kind: 'audio', frame: { ...frame, samples: frame.samples.slice() }, endMs });
    this.journalMs += endMs - frame.timestampMs;
    if (this.journalMs > (this.options.maxReplayMs ?? 30_000)) this.boundJournal();
  }

  flush(): void {
    if (this.closed || this.dead) return;
    this.journal.push({ kind: 'flush' });
    this.pendingFlushAt ??= this.clock.now();
    this.current?.flush();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    this.current?.close();
    this.current = undefined;
    this.journal = [];
    this.journalMs = 0;
  }

  get busy(): boolean | undefined {
    return this.current?.busy;
  }

  /** The provider now serving this stream. */
  get provider(): string {
    return this.providers[this.index]?.name ?? 'none';
  }

  private moveTo(index: number, why?: { reason: SttFallbackEvent['reason']; error?: Error }): void {
    const from = this.index >= 0 ? this.providers[this.index].name : undefined;
    const generation = ++this.generation;
    this.current?.close();
    this.current = undefined;
    this.index = index;
    const provider = this.providers[index];
    let stream: SttStream;
    try {
      stream = provider.stream(this.innerListener(generation), this.streamOptions);
    } catch (error) {
      this.failed(generation, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (generation !== this.generation) {
      stream.close(); // it failed while being created, and the stream has moved on already
      return;
    }
    this.current = stream;
    if (!why || from === undefined) return;
    const replayedMs = this.replay(stream, generation);
    const event: SttFallbackEvent = {
      from,
      to: provider.name,
      reason: why.reason,
      error: why.error,
      replayedMs,
    };
    this.options.log?.warn(
      {
        from,
        to: provider.name,
        reason: why.reason,
        error: why.error?.message,
        replayedMs: Math.round(replayedMs),
      },
      'stt fallback',
    );
    for (const notify of [this.options.onFallback, this.listener.onFallback?.bind(this.listener)]) {
      try {
        notify?.(event);
      } catch {
        // a metric hook must not break transcription
      }
    }
  }

  private replay(stream: SttStream, generation: number): number {
    let replayedMs = 0;
    for (const entry of [...this.journal]) {
      if (generation !== this.generation) break;
      try {
        if (entry.kind === 'audio') {
          stream.push(entry.frame);
          replayedMs += entry.endMs - entry.frame.timestampMs;
        } else {
          stream.flush();
        }
      } catch (error) {
        this.report(error);
      }
    }
    return replayedMs;
  }

  private innerListener(generation: number): SttListener {
    const live = () => generation === this.generation && !this.closed;
    return {
      onInterim: (t) => {
        if (live()) this.listener.onInterim(t);
      },
      onFinal: (t) => {
        if (live()) this.onFinal(t);
      },
      onError: (error) => {
        if (!live()) return;
        if (isFatalSttError(error)) this.failed(generation, error);
        else this.report(error);
      },
      onSpeechEvent: (event) => {
        if (live()) this.listener.onSpeechEvent?.(event);
      },
    };
  }

  private onFinal(transcript: Transcript): void {
    // Audio up to the end of this final needs no replay; a flush with nothing before it has its answer.
    this.journal = this.journal.filter((e) => e.kind !== 'audio' || e.endMs > transcript.endMs + 0.5);
    while (this.journal[0]?.kind === 'flush') this.journal.shift();
    this.journalMs = audioMs(this.journal);
    const flushedAt = this.pendingFlushAt;
    this.pendingFlushAt = this.journal.some((e) => e.kind === 'flush') ? this.clock.now() : undefined;
    this.listener.onFinal(transcript);
    const budget = this.options.finalLatencyBudgetMs;
    if (
      budget !== undefined &&
      flushedAt !== undefined &&
      this.clock.now() - flushedAt > budget &&
      this.index + 1 < this.providers.length &&
      !this.closed
    ) {
      this.moveTo(this.index + 1, { reason: 'latency' });
    }
  }

  private failed(generation: number, error: Error): void {
    if (generation !== this.generation || this.closed) return;
    if (this.index + 1 < this.providers.length) {
      this.moveTo(this.index + 1, { reason: 'failed', error });
      return;
    }
    this.dead = true;
    this.current?.close();
    this.current = undefined;
    this.report(error);
  }

  private report(error: unknown): void {
    try {
      this.listener.onError?.(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // a failing error handler must not break the stream
    }
  }

  private boundJournal(): void {
    let excess = this.journalMs - (this.options.maxReplayMs ?? 30_000);
    this.journal = this.journal.filter((e) => {
      if (excess <= 0 || e.kind !== 'audio') return true;
      excess -= e.endMs - e.frame.timestampMs;
      return false;
    });
    this.journalMs = audioMs(this.journal);
  }
}

function audioMs(journal: readonly Entry[]): number {
  let ms = 0;
  for (const e of journal) if (e.kind === 'audio') ms += e.endMs - e.frame.timestampMs;
  return ms;
}
