import type { Clock } from '../metrics/clock.ts';

export interface HeartbeatOptions {
  /** A ping goes out this often. Default 1000 ms. */
  intervalMs?: number;
  /** A peer not heard from this long is gone (about two missed answers). Default 2500 ms. */
  timeoutMs?: number;
}

export const DEFAULT_HEARTBEAT: Required<HeartbeatOptions> = { intervalMs: 1000, timeoutMs: 2500 };

export interface HeartbeatDeps extends HeartbeatOptions {
  clock: Clock;
  /** Sends one ping; `t` is the session-clock time, echoed back by peers that answer. */
  sendPing(t: number): void;
  /** The peer was silent past the timeout: end its connection (called once). */
  onTimeout(silentMs: number): void;
  /**
   * Judge the peer only once it has answered a ping (older clients that never answer are left to the
   * transport's own detection). Default false: every peer answers (WebSocket pongs are automatic).
   */
  enforceAfterFirstAnswer?: boolean;
  /**
   * A peer that keeps sending but has not answered a ping (`pong()`) this long is not reading what we send:
   * `onUnanswered` is called once and the heartbeat stops. Default: off (only silence is judged).
   */
  answerTimeoutMs?: number;
  onUnanswered?(unansweredMs: number): void;
}

/**
 * Liveness of one peer: pings at an interval, and a peer not heard from (a pong, or any message) within the
 * timeout is declared gone. A tick that comes late because this process's event loop stalled judges nobody:
 * the answers may be sitting unread behind the stall, and dropping every peer for our own lag would be wrong.
 */
export class Heartbeat {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private lastHeardMs: number;
  private lastTickMs: number;
  private lastAnswerMs: number;
  private answered = false;
  private cancelTick: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly deps: HeartbeatDeps) {
    this.intervalMs = deps.intervalMs ?? DEFAULT_HEARTBEAT.intervalMs;
    this.timeoutMs = deps.timeoutMs ?? DEFAULT_HEARTBEAT.timeoutMs;
    if (!(this.intervalMs > 0) || !(this.timeoutMs > this.intervalMs)) {
      throw new RangeError(
        `heartbeat needs intervalMs > 0 and timeoutMs > intervalMs (got ${this.intervalMs}, ${this.timeoutMs})`,
      );
    }
    this.lastHeardMs = deps.clock.now();
    this.lastTickMs = this.lastHeardMs;
    this.lastAnswerMs = this.lastHeardMs;
    this.schedule();
  }

  /** Any sign of life from the peer. */
  heard(): void {
    this.lastHeardMs = this.deps.clock.now();
  }

  /** The peer answered a ping: from now on it is expected to keep answering. */
  pong(): void {
    this.answered = true;
    this.heard();
    this.lastAnswerMs = this.lastHeardMs;
  }

  stop(): void {
    this.stopped = true;
    this.cancelTick?.();
    this.cancelTick = undefined;
  }

  private schedule(): void {
    this.cancelTick = this.deps.clock.schedule(this.intervalMs, () => this.tick());
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const stalled = now - this.lastTickMs > 2 * this.intervalMs;
    this.lastTickMs = now;
    if (stalled) {
      this.lastHeardMs = Math.max(this.lastHeardMs, now - this.intervalMs);
      this.lastAnswerMs = Math.max(this.lastAnswerMs, now - this.intervalMs);
    }
    if (this.verdict(now) === 'alive') {
      this.deps.sendPing(now);
      this.schedule();
      return;
    }
    // Timers run before the event loop reads its sockets: an answer that came during a busy stretch may still be
    // unread. The verdict is given on the next turn of the loop, after what is waiting has been read.
    this.cancelTick = this.deps.clock.schedule(0, () => this.confirm());
  }

  private confirm(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const verdict = this.verdict(now);
    if (verdict === 'alive') {
      this.deps.sendPing(now);
      this.schedule();
      return;
    }
    this.stop();
    if (verdict === 'silent') this.deps.onTimeout(now - this.lastHeardMs);
    else this.deps.onUnanswered?.(now - this.lastAnswerMs);
  }

  private verdict(now: number): 'alive' | 'silent' | 'unanswered' {
    const judged = this.answered || !this.deps.enforceAfterFirstAnswer;
    if (judged && now - this.lastHeardMs > this.timeoutMs) return 'silent';
    const { answerTimeoutMs } = this.deps;
    if (answerTimeoutMs !== undefined && now - this.lastAnswerMs > answerTimeoutMs) return 'unanswered';
    return 'alive';
  }
}
