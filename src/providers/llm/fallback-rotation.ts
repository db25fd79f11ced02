import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import type { ProviderLog } from './openai-compatible.ts';

export interface FallbackEvent {
  kind: 'llm' | 'tts' | 'stt';
  from: string;
  to: string;
  /** `error`: the provider failed (after its own retries); `budget`: it missed its first-output latency budget. */
  reason: 'error' | 'budget';
  /** The failure, already free of secrets (provider errors redact their keys). */
  error?: string;
  atMs: number;
}

export interface FallbackOptions {
  /** First output (LLM token, TTS audio) later than this switches to the next provider. Default 2,000 ms. */
  budgetMs?: number;
  /** After switching away from the first provider, try it again this long after the switch. Default 60,000 ms. */
  retryPrimaryAfterMs?: number;
  clock?: Clock;
  log?: ProviderLog;
  onFallback?: (event: FallbackEvent) => void;
}

/** What a fallback chain exposes for metrics: who answered last and how many switches so far. */
export interface FallbackState {
  readonly activeProvider: string;
  readonly fallbackCount: number;
}

export function fallbackStateOf(provider: object): FallbackState | undefined {
  const state = provider as Partial<FallbackState>;
  return typeof state.activeProvider === 'string' && typeof state.fallbackCount === 'number'
    ? (state as FallbackState)
    : undefined;
}

/**
 * Which provider of a fallback list to use: the one that last worked, for the rest of the session, except that
 * the first (preferred) one gets another chance once `retryPrimaryAfterMs` has passed since the switch.
 */
export class FallbackRotation implements FallbackState {
  readonly budgetMs: number;
  readonly clock: Clock;
  private current = 0;
  private switchedAt = 0;
  private switches = 0;
  private readonly retryPrimaryAfterMs: number;

  constructor(
    private readonly kind: 'llm' | 'tts',
    readonly names: readonly string[],
    private readonly options: FallbackOptions = {},
  ) {
    if (names.length === 0) throw new RangeError(`a ${kind} fallback list needs at least one provider`);
    this.budgetMs = options.budgetMs ?? 2_000;
    this.retryPrimaryAfterMs = options.retryPrimaryAfterMs ?? 60_000;
    this.clock = options.clock ?? new MonotonicClock();
  }

  get activeProvider(): string {
    return this.names[this.current];
  }

  get fallbackCount(): number {
    return this.switches;
  }

  /** Where the next request starts. */
  startIndex(): number {
    if (this.current > 0 && this.clock.now() - this.switchedAt >= this.retryPrimaryAfterMs) return 0;
    return this.current;
  }

  /** Is there a provider after `index` to turn to? */
  hasNext(index: number): boolean {
    return index + 1 < this.names.length;
  }

  /** `index` delivered output: it becomes (or stays) the provider for the session. */
  succeeded(index: number): void {
    if (index === this.current) return;
    if (index === 0) {
      this.options.log?.info(
        { kind: this.kind, provider: this.names[0], from: this.names[this.current] },
        `${this.kind} primary provider answers again; switching back`,
      );
    }
    this.current = index;
    this.switchedAt = this.clock.now();
  }

  /** `from` failed or was too slow, and `to` is tried next: a log line and a counted fallback. */
  fellBack(from: number, to: number, reason: FallbackEvent['reason'], error?: unknown): void {
    this.switches++;
    const event: FallbackEvent = {
      kind: this.kind,
      from: this.names[from],
      to: this.names[to],
      reason,
      ...(error !== undefined ? { error: error instanceof Error ? error.message : String(error) } : {}),
      atMs: this.clock.now(),
    };
    this.options.log?.warn(
      {
        kind: event.kind,
        from: event.from,
        to: event.to,
        reason,
        ...(event.error ? { err: event.error } : {}),
      },
      reason === 'budget'
        ? `${this.kind} provider missed its ${this.budgetMs} ms budget; falling back`
        : `${this.kind} provider failed; falling back`,
    );
    this.options.onFallback?.(event);
  }
}
