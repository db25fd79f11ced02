import type { Clock } from '../../metrics/clock.ts';

/**
 * Counts the flushes a connection still owes an answer to, and calls `onTimeout` when the oldest has waited
 * `timeoutMs` (with the time since which any message from the server counts as a sign of life). A timer armed on
 * an older connection (`connection()` has moved on) does nothing.
 */
export class FlushWatchdog {
  private awaiting = 0;
  private sentAt = 0;
  private cancelTimer: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly connection: () => number,
    private readonly onTimeout: (since: number) => void,
  ) {}

  /** A flush that expects an answer went out. */
  sent(): void {
    this.awaiting++;
    this.sentAt = this.clock.now();
    if (!this.cancelTimer) this.arm();
  }

  /** The server answered a flush (or the provider answered it locally). */
  answered(): void {
    this.awaiting = Math.max(0, this.awaiting - 1);
    this.stop();
    if (this.awaiting > 0) this.arm();
  }

  /** The connection is gone: nothing is owed any more. */
  reset(): void {
    this.stop();
    this.awaiting = 0;
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private arm(): void {
    const connection = this.connection();
    const armedAt = this.clock.now();
    this.cancelTimer = this.clock.schedule(this.timeoutMs, () => {
      this.cancelTimer = undefined;
      if (connection !== this.connection() || this.awaiting === 0) return;
      this.onTimeout(Math.max(armedAt, this.sentAt));
    });
  }
}
