import type { AudioFrame } from '../audio/frame.ts';
import type { Clock } from '../metrics/clock.ts';
import { Notifier } from '../util/emitter.ts';
import type { ApologyClip } from './apology.ts';
import { heardText } from './heard.ts';
import type { AudioOutput, PlayoutReceipt } from './io.ts';

export interface ApologyPlaybackDeps {
  clip: ApologyClip;
  output: AudioOutput;
  clock: Clock;
  speechId: number;
  /** The speech's signal: its abort (a confirmed interruption, the session closing) ends the apology. */
  signal: AbortSignal;
  onFirstPlayed(atMs: number): void;
  onPlayoutStopped(receipt: PlayoutReceipt): void;
}

/**
 * Plays one apology clip as part of a speech. It is interruptible like any reply: user speech pauses it, a
 * false interruption resumes it where the user stopped hearing, a confirmed one ends it. What was heard of it is
 * counted from the playout receipts, as for the reply itself.
 */
export class ApologyPlayback {
  private readonly changed = new Notifier();
  private playController: AbortController | undefined;
  private paused = false;
  private playedSamples = 0;
  private firstPlayedAt: number | undefined;
  private finished = false;

  constructor(private readonly deps: ApologyPlaybackDeps) {
    deps.signal.addEventListener('abort', () => this.changed.notify(), { once: true });
  }

  get isPaused(): boolean {
    return this.paused;
  }
  get isFinished(): boolean {
    return this.finished;
  }
  get firstPlayedAtMs(): number | undefined {
    return this.firstPlayedAt;
  }

  pause(): void {
    if (this.paused || this.finished || this.deps.signal.aborted) return;
    this.paused = true;
    this.playController?.abort();
    this.deps.output.clear();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.changed.notify();
  }

  /** The speech was aborted: the audio the output buffered is dropped. */
  stop(): void {
    this.playController?.abort();
    if (this.firstPlayedAt !== undefined) this.deps.output.clear();
  }

  /** What the user heard of the apology's words (none for the tone). */
  heard(): string {
    const { clip } = this.deps;
    if (!clip.text) return '';
    const total = clip.totalSamples;
    const complete = clip.isComplete && this.playedSamples >= total;
    return heardText({
      texts: [clip.text],
      samples: [total],
      steps: [0],
      step: 0,
      playedSamples: complete ? Number.POSITIVE_INFINITY : this.playedSamples,
    });
  }

  /** Plays the clip to its end, through pauses, until it has all been heard or the speech is aborted. */
  async run(): Promise<void> {
    const { output, signal, clip } = this.deps;
    try {
      while (!signal.aborted) {
        if (this.paused) {
          await this.changed.wait();
          continue;
        }
        if (clip.isComplete && this.playedSamples >= clip.totalSamples) return;
        this.playController = new AbortController();
        const playSignal = AbortSignal.any([signal, this.playController.signal]);
        const receipt = await output.play(this.unplayed(playSignal), {
          signal: playSignal,
          speechId: this.deps.speechId,
          onFirstPlayed: (atMs) => {
            if (this.firstPlayedAt !== undefined) return;
            this.firstPlayedAt = atMs;
            this.deps.onFirstPlayed(atMs);
          },
        });
        this.playController = undefined;
        const stopped = receipt.interruptedAtMs !== undefined || playSignal.aborted;
        const rate = clip.frames[0]?.sampleRate ?? 16_000;
        this.playedSamples = stopped
          ? Math.min(clip.totalSamples, this.playedSamples + Math.round((receipt.playedMs * rate) / 1000))
          : clip.totalSamples;
        if (receipt.interruptedAtMs !== undefined) this.deps.onPlayoutStopped(receipt);
        // Only a pause or the abort plays again (or not at all); a playout that ran to its end had the whole clip,
        // and one the output stopped by itself (a closed transport) is not retried, so this loop cannot spin.
        if (!playSignal.aborted) return;
      }
    } finally {
      this.finished = true;
    }
  }

  /** The clip's frames from the heard position on, waiting for more while a live synthesis runs. */
  private async *unplayed(signal: AbortSignal): AsyncGenerator<AudioFrame> {
    const { clip, speechId } = this.deps;
    let skip = this.playedSamples;
    let index = 0;
    while (!signal.aborted) {
      if (index < clip.frames.length) {
        const frame = clip.frames[index++];
        if (skip >= frame.samples.length) {
          skip -= frame.samples.length;
          continue;
        }
        const samples = skip > 0 ? frame.samples.subarray(skip) : frame.samples;
        skip = 0;
        yield { ...frame, samples, speechId };
      } else if (clip.isComplete) {
        return;
      } else {
        await waitUnlessAborted(clip.changed, signal);
      }
    }
  }
}

/** The next notification, or the abort, whichever comes first (a reader must never outlive its speech). */
function waitUnlessAborted(notifier: Notifier, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void notifier.wait().then(done);
  });
}
