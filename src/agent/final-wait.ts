import type { Clock } from '../metrics/clock.ts';

/** One frame: how often a wait for a busy STT looks again. */
const POLL_MS = 20;

/**
 * The wait for an utterance's final transcript. After `timeoutMs` the turn gives up on it and falls back on the
 * last interim, unless the STT says it is still working on audio it has been given (a local engine behind on a
 * loaded machine, or waiting for a pooled decoder): then it waits on, up to `busyCapMs` more, because a promoted
 * interim of a half-decoded sentence answers words the user has not finished.
 */
export class FinalTranscriptWait {
  private cancel: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly sttBusy: (() => boolean) | undefined,
    private readonly busyCapMs = 6000,
  ) {}

  /** Calls `giveUp` once the final is overdue (measured from the end of speech) and the STT is not busy. */
  arm(endOfSpeechAt: number, giveUp: () => void): void {
    this.disarm();
    const dueAt = endOfSpeechAt + this.timeoutMs;
    const check = () => {
      this.cancel = undefined;
      if (this.clock.now() - dueAt < this.busyCapMs && this.sttBusy?.() === true) {
        this.cancel = this.clock.schedule(POLL_MS, check);
        return;
      }
      giveUp();
    };
    this.cancel = this.clock.schedule(Math.max(0, dueAt - this.clock.now()), check);
  }

  disarm(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}
