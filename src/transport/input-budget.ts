/** How much a client may send beyond real time before it is dropped. */
export interface InputBudgetOptions {
  /**
   * Audio may run at most this far ahead of real time (a token bucket of audio ms that refills in real time).
   * It covers a burst after a network stall and the frames held while the session starts (about 5 s); a
   * client beyond it is sending faster than anyone speaks. Default 6000 ms: each accepted second of audio costs
   * pipeline work, so the allowance is what one flooding client can make the process do before it is dropped.
   */
  maxAudioAheadMs?: number;
  /** Messages of any kind per second, sustained (20 ms audio frames are 50/s). Default 500. */
  maxMessagesPerSecond?: number;
  /** …with a burst of this many. Default 1000. */
  maxMessageBurst?: number;
}

export const DEFAULT_INPUT_BUDGET: Required<InputBudgetOptions> = {
  maxAudioAheadMs: 6_000,
  maxMessagesPerSecond: 500,
  maxMessageBurst: 1000,
};

/**
 * The bound on what one client may push into its session. What the pipeline queues (VAD, STT, resampling)
 * stays within a few seconds of audio per client however fast the client sends: a client over budget is told
 * why (the reason) and dropped, rather than buffered for.
 */
export class InputBudget {
  private readonly config: Required<InputBudgetOptions>;
  private audioTokensMs: number;
  private messageTokens: number;
  private lastMs: number;

  constructor(
    private readonly now: () => number,
    options: InputBudgetOptions = {},
  ) {
    const { maxAudioAheadMs, maxMessagesPerSecond, maxMessageBurst } = options;
    this.config = {
      ...DEFAULT_INPUT_BUDGET,
      ...definedOnly({ maxAudioAheadMs, maxMessagesPerSecond, maxMessageBurst }),
    };
    for (const [key, value] of Object.entries(this.config)) {
      if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${key} must be > 0, got ${value}`);
    }
    this.audioTokensMs = this.config.maxAudioAheadMs;
    this.messageTokens = this.config.maxMessageBurst;
    this.lastMs = now();
  }

  /** One message arrived; returns why the client is over budget, or undefined. */
  message(): string | undefined {
    this.refill();
    this.messageTokens -= 1;
    if (this.messageTokens >= 0) return undefined;
    return `more than ${this.config.maxMessagesPerSecond} messages per second`;
  }

  /** `durationMs` of audio arrived; returns why the client is over budget, or undefined. */
  audio(durationMs: number): string | undefined {
    this.refill();
    this.audioTokensMs -= durationMs;
    if (this.audioTokensMs >= 0) return undefined;
    return `audio arriving faster than real time (more than ${this.config.maxAudioAheadMs} ms ahead)`;
  }

  private refill(): void {
    const now = this.now();
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.audioTokensMs = Math.min(this.config.maxAudioAheadMs, this.audioTokensMs + elapsedMs);
    this.messageTokens = Math.min(
      this.config.maxMessageBurst,
      this.messageTokens + (elapsedMs * this.config.maxMessagesPerSecond) / 1000,
    );
  }
}

export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
