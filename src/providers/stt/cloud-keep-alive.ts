import type { Clock } from '../../metrics/clock.ts';

/** Sends a keep-alive whenever a live connection has sent nothing for an interval (Deepgram closes a quiet one). */
export class KeepAliveTimer {
  private lastSentAt = 0;
  private cancelTimer: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  /** Something went out on the socket. */
  sent(): void {
    this.lastSentAt = this.clock.now();
  }

  /** Checks every `intervalMs` (none when 0) while `live()` holds; a failing send is left to the close event. */
  start(intervalMs: number, live: () => boolean, send: () => void): void {
    if (intervalMs <= 0) return;
    const check = () => {
      this.cancelTimer = undefined;
      if (!live()) return;
      const idle = this.clock.now() - this.lastSentAt;
      if (idle >= intervalMs) {
        try {
          send();
        } catch {
          // the close event reports a broken socket
        }
      }
      this.cancelTimer = this.clock.schedule(Math.max(1, intervalMs - Math.min(idle, intervalMs)), check);
    };
    this.cancelTimer = this.clock.schedule(intervalMs, check);
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}
