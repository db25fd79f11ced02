import type { Clock } from '../metrics/clock.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions } from '../providers/tts/contract.ts';

export interface TtsWatchdogOptions {
  clock: Clock;
  /** No audio for this long while a sentence sent to the TTS still waits for its audio: the TTS has failed. */
  stallMs: number;
}

/**
 * The session's TTS, watched: a stream that leaves a sentence without audio for `stallMs` (a voice that hangs
 * after its headers, a socket that went quiet) is stopped and fails with a timeout, so the reply ends with the
 * apology instead of silence that lasts as long as the provider's own timeouts and retries.
 */
export function watchedTts(tts: TTS, options: TtsWatchdogOptions): TTS {
  return {
    name: tts.name,
    sampleRate: tts.sampleRate,
    // Read through, not copied: a fallback list's answer changes with its active provider.
    get streamingInput() {
      return tts.streamingInput;
    },
    stream: (streamOptions) => new WatchedTtsStream(tts, streamOptions, options),
  };
}

export class TtsStallError extends Error {
  override readonly name = 'TtsStallError';
}

class WatchedTtsStream implements TtsStream {
  private readonly controller = new AbortController();
  private readonly inner: TtsStream;
  private flushed = 0;
  /** Highest segment that has produced audio. */
  private voicedUpTo = -1;
  private lastActivityAt = 0;
  private cancelTimer: (() => void) | undefined;
  private stalled: TtsStallError | undefined;
  private wake: () => void = () => {};
  private readonly stalledSignal = new Promise<'stalled'>((resolve) => {
    this.wake = () => resolve('stalled');
  });

  constructor(
    private readonly tts: TTS,
    options: TtsStreamOptions,
    private readonly watch: TtsWatchdogOptions,
  ) {
    this.inner = tts.stream({
      ...options,
      signal: AbortSignal.any([options.signal, this.controller.signal]),
    });
    options.signal.addEventListener('abort', () => this.disarm(), { once: true });
  }

  pushText(text: string): void {
    this.inner.pushText(text);
  }

  flush(): void {
    if (!this.waiting()) this.lastActivityAt = this.watch.clock.now();
    this.flushed++;
    this.inner.flush();
    this.arm();
  }

  end(): void {
    this.inner.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    const iterator = this.inner[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), this.stalledSignal]);
        if (next === 'stalled' || this.stalled) throw this.stalled;
        if (next.done) return;
        this.voicedUpTo = Math.max(this.voicedUpTo, next.value.segment);
        this.lastActivityAt = this.watch.clock.now();
        yield next.value;
      }
    } finally {
      this.disarm();
    }
  }

  /** A flushed sentence has had no audio yet. */
  private waiting(): boolean {
    return this.voicedUpTo < this.flushed - 1;
  }

  private arm(): void {
    if (this.cancelTimer || this.stalled) return;
    const dueIn = this.lastActivityAt + this.watch.stallMs - this.watch.clock.now();
    this.cancelTimer = this.watch.clock.schedule(Math.max(0, dueIn), () => {
      this.cancelTimer = undefined;
      if (!this.waiting()) return;
      // Audio came meanwhile: look again when the quiet would reach the limit.
      if (this.watch.clock.now() - this.lastActivityAt < this.watch.stallMs) return this.arm();
      this.stalled = new TtsStallError(`${this.tts.name}: no audio for ${this.watch.stallMs} ms`);
      this.controller.abort(this.stalled);
      this.wake();
    });
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}
