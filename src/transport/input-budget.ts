import { definedOnly } from '../util/defined.ts';

/** How much a client may send beyond real time. */
export interface InputBudgetOptions {
  /**
   * Audio may run this far ahead of real time (a token bucket of audio ms that refills in real time): jitter
   * and a short network stall pass. Audio beyond it is discarded unprocessed, so a fast sender costs the
   * pipeline no more than real time. Default 2000 ms.
   */
  maxAudioAheadMs?: number;
  /**
   * Until `endStartup()` (the `ready` message) the bucket holds this much: the frames the server held while
   * the session started (≤ 5 s) pass. Default 6000 ms.
   */
  initialAudioAllowanceMs?: number;
  /** A client whose discarded audio passes this (without falling back to real time in between) is dropped. Default 5000 ms. */
  maxDiscardedAudioMs?: number;
  /** Messages of any kind per second, sustained (20 ms audio frames are 50/s). Default 500. */
  maxMessagesPerSecond?: number;
  /** …with a burst of this many. Default 1000. */
  maxMessageBurst?: number;
}

export const DEFAULT_INPUT_BUDGET: Required<InputBudgetOptions> = {
  maxAudioAheadMs: 2_000,
  initialAudioAllowanceMs: 6_000,
  maxDiscardedAudioMs: 5_000,
  maxMessagesPerSecond: 500,
  maxMessageBurst: 1000,
};

/** What to do with one piece of a client's input. */
export type InputVerdict = { kind: 'accept' } | { kind: 'discard' } | { kind: 'drop'; reason: string };

const ACCEPT: InputVerdict = { kind: 'accept' };
const DISCARD: InputVerdict = { kind: 'discard' };

/**
 * The bound on what one client may push into its session. What the pipeline processes and queues (VAD, STT,
 * resampling) stays within real time plus a couple of seconds per client however fast it sends; a client
 * that keeps sending over the bound is told why and dropped, rather than buffered and worked for.
 */
export class InputBudget {
  private readonly config: Required<InputBudgetOptions>;
  private audioTokensMs: number;
  private discardedMs = 0;
  private messageTokens: number;
  private lastMs: number;

  constructor(
    private readonly now: () => number,
    options: InputBudgetOptions = {},
  ) {
    const {
      maxAudioAheadMs,
      initialAudioAllowanceMs,
      maxDiscardedAudioMs,
      maxMessagesPerSecond,
      maxMessageBurst,
    } = options;
    this.config = {
      ...DEFAULT_INPUT_BUDGET,
      ...definedOnly({
        maxAudioAheadMs,
        initialAudioAllowanceMs,
        maxDiscardedAudioMs,
        maxMessagesPerSecond,
        maxMessageBurst,
      }),
    };
    for (const [key, value] of Object.entries(this.config)) {
      if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${key} must be > 0, got ${value}`);
    }
    this.audioTokensMs = Math.max(this.config.initialAudioAllowanceMs, this.config.maxAudioAheadMs);
    this.messageTokens = this.config.maxMessageBurst;
    this.lastMs = now();
  }

  /**
   * The session is ready and told the client so: the start-up allowance (for what was held until now) is over,
   * and from here on the client may be at most `maxAudioAheadMs` ahead.
   */
  endStartup(): void {
    this.audioTokensMs = Math.min(this.audioTokensMs, this.config.maxAudioAheadMs);
  }

  /** Audio discarded so far for arriving faster than real time, in ms. */
  get discardedAudioMs(): number {
    return this.discardedMs;
  }

  /** One message arrived; returns why the client is over budget, or undefined. */
  message(): string | undefined {
    this.refill();
    this.messageTokens -= 1;
    if (this.messageTokens >= 0) return undefined;
    return `more than ${this.config.maxMessagesPerSecond} messages per second`;
  }

  /** `durationMs` of audio arrived: process it, discard it (over budget) or drop the client. */
  audio(durationMs: number): InputVerdict {
    this.refill();
    if (this.audioTokensMs >= durationMs) {
      this.audioTokensMs -= durationMs;
      return ACCEPT;
    }
    this.discardedMs += durationMs;
    if (this.discardedMs <= this.config.maxDiscardedAudioMs) return DISCARD;
    return {
      kind: 'drop',
      reason: `audio arriving faster than real time (${Math.round(this.discardedMs)} ms over the budget)`,
    };
  }

  private refill(): void {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    // The start-up allowance is spent, never topped up; afterwards the bucket refills to its steady size.
    const cap = this.config.maxAudioAheadMs;
    if (this.audioTokensMs < cap) this.audioTokensMs = Math.min(cap, this.audioTokensMs + elapsedMs);
    // Back under real time with a full bucket: past discards are forgiven.
    if (this.audioTokensMs >= cap) this.discardedMs = 0;
    this.messageTokens = Math.min(
      this.config.maxMessageBurst,
      this.messageTokens + (elapsedMs * this.config.maxMessagesPerSecond) / 1000,
    );
  }
}
