/**
 * How long to wait in silence before committing a user turn, as a function of the detector's end-of-turn
 * probability, plus "dynamic endpointing": what this user's own pauses inside their turns have been so far.
 * Everything here is pure (or a small bounded object) so the turn benchmark can sweep it.
 */

export interface EndpointingPolicyOptions {
  /** The wait for a turn the detector is sure has ended (probability 1). */
  minDelayMs: number;
  /** The wait for a turn the detector is sure is unfinished (probability 0); also the hard cap on any wait. */
  maxDelayMs: number;
  /**
   * Curve between the two: delay = min + (max − min)·(1 − q)^shape with q = min(1, p / confidentAbove). 1 is
   * linear; above 1 the delay falls fast as the probability rises (likely ends answer quickly), below 1 it stays
   * long until the probability is high.
   */
  shape: number;
  /** Probability at or above which the wait is `minDelayMs` (the detector is sure enough). */
  confidentAbove: number;
  /** Dynamic endpointing: raise the wait towards this user's own in-turn pauses. Off: the curve alone. */
  adaptToUser: boolean;
  /** Quantile of the user's in-turn pauses that raises the floor (0.9: longer than 9 in 10 of their pauses). */
  userPauseQuantile: number;
  /** Added to that quantile: a pause as long as their usual ones should not end the turn by a hair. */
  userPauseMarginMs: number;
  /** In-turn pauses seen before the user's pauses count at all (one odd pause says little). */
  userMinPauses: number;
  /** The user floor never goes above this, so a very hesitant user is still answered. */
  userFloorCapMs: number;
}

/**
 * The curve is the dev split's cheapest point at <= 5 % false cut-offs for the `combined` detector on the
 * labelled transcripts (`npx tsx bench/turns/fit.ts --policy`: 4.3 % cut-offs, 1.29 s mean wait on dev), with
 * the minimum kept at 400 ms (the sweep's 250 ms saved 65 ms of mean wait). Never tuned on the held-back split.
 */
export const DEFAULT_ENDPOINTING_POLICY: EndpointingPolicyOptions = {
  minDelayMs: 400,
  maxDelayMs: 1800,
  shape: 0.5,
  confidentAbove: 0.8,
  adaptToUser: true,
  userPauseQuantile: 0.9,
  userPauseMarginMs: 100,
  userMinPauses: 3,
  userFloorCapMs: 1500,
};

/** What the policy knows about the current user; see {@link UserPauseStats}. */
export interface UserPauseSummary {
  /** The chosen quantile of their in-turn pauses, ms; undefined until enough pauses were seen. */
  pauseQuantileMs: number | undefined;
}

const clamp01 = (p: number) => (Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 1);

/**
 * The silence to wait after the last voiced audio before committing, for an end-of-turn probability: the curve
 * from `maxDelayMs` (p = 0) down to `minDelayMs` (p >= confidentAbove), its bottom raised to this user's usual
 * in-turn pause when known. Never below `minDelayMs`, never above `maxDelayMs`.
 */
export function endpointingDelayMs(
  probability: number,
  options: EndpointingPolicyOptions = DEFAULT_ENDPOINTING_POLICY,
  user?: UserPauseSummary,
): number {
  const p = clamp01(probability);
  const { minDelayMs, maxDelayMs } = options;
  const shape = options.shape > 0 ? options.shape : 1;
  const q = options.confidentAbove > 0 ? Math.min(1, p / options.confidentAbove) : 1;
  // The user floor lifts the bottom of the curve: fully while the detector is unsure (q <= 0.75), fading to
  // nothing as it becomes sure (q = 1), so a slow talker waits out their usual pause and a clear end does not.
  let bottom = minDelayMs;
  const quantile = options.adaptToUser ? user?.pauseQuantileMs : undefined;
  if (quantile !== undefined) {
    const floor = Math.min(options.userFloorCapMs, maxDelayMs, quantile + options.userPauseMarginMs);
    if (floor > minDelayMs) bottom = minDelayMs + (floor - minDelayMs) * Math.min(1, 4 * (1 - q));
  }
  const delay = bottom + Math.max(0, maxDelayMs - bottom) * (1 - q) ** shape;
  return Math.round(Math.min(maxDelayMs, Math.max(minDelayMs, delay)));
}

export interface UserPauseStatsOptions {
  /** Pauses remembered (the oldest are forgotten first): the estimate follows the user as they settle in. */
  capacity: number;
  /** Shorter gaps are breaths or VAD jitter, not pauses. */
  minPauseMs: number;
  /** Longer gaps are clipped to this, so one long think does not set the floor alone. */
  maxPauseMs: number;
}

export const DEFAULT_USER_PAUSE_STATS: UserPauseStatsOptions = {
  capacity: 20,
  minPauseMs: 150,
  maxPauseMs: 3000,
};

/**
 * The current user's in-turn pause lengths within one session: pauses after which they went on speaking in the
 * same turn, and pauses that the agent took for an end but that the user talked through right away (cut-offs).
 * Bounded: a ring of the last `capacity` pauses, each clipped to `maxPauseMs`; it lives and dies with the session.
 */
export class UserPauseStats {
  private readonly pauses: number[] = [];
  private next = 0;
  private readonly options: UserPauseStatsOptions;

  constructor(
    options: Partial<UserPauseStatsOptions> = {},
    private readonly policy: Pick<
      EndpointingPolicyOptions,
      'userPauseQuantile' | 'userMinPauses'
    > = DEFAULT_ENDPOINTING_POLICY,
  ) {
    this.options = { ...DEFAULT_USER_PAUSE_STATS, ...options };
  }

  /** One in-turn pause of this user, ms. */
  record(pauseMs: number): void {
    if (!Number.isFinite(pauseMs) || pauseMs < this.options.minPauseMs) return;
    const clipped = Math.min(pauseMs, this.options.maxPauseMs);
    if (this.pauses.length < this.options.capacity) this.pauses.push(clipped);
    else this.pauses[this.next] = clipped;
    this.next = (this.next + 1) % this.options.capacity;
  }

  get count(): number {
    return this.pauses.length;
  }

  summary(): UserPauseSummary {
    if (this.pauses.length < this.policy.userMinPauses) return { pauseQuantileMs: undefined };
    const sorted = [...this.pauses].sort((a, b) => a - b);
    // Linear interpolation between order statistics: stable with a handful of pauses.
    const position = (sorted.length - 1) * this.policy.userPauseQuantile;
    const lower = Math.floor(position);
    const upper = Math.min(sorted.length - 1, lower + 1);
    const value = sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    return { pauseQuantileMs: value };
  }
}
