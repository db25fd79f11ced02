import {
  checkModelPaths,
  createDecoder,
  type Decoder,
  PocketsphinxError,
  type PocketsphinxModelPaths,
  trimNativeHeap,
} from './pocketsphinx-native.ts';

/**
 * A bounded pool of pocketsphinx decoders sharing one configuration. A decoder costs ~40-60 MB (its own copy of
 * the acoustic model, dictionary and language model: the C API cannot share them), so streams hold one only while
 * someone speaks, and the number loaded at once is capped. When every decoder is busy, an acquire waits in a
 * bounded queue for one to come free; past the queue's bound or its deadline it fails with
 * DecoderPoolExhaustedError, which the stream reports, so no utterance is dropped silently.
 */

export class DecoderPoolExhaustedError extends PocketsphinxError {
  readonly code = 'decoder_pool_exhausted';
}

export interface DecoderPoolOptions {
  paths: PocketsphinxModelPaths;
  /** Extra pocketsphinx arguments, e.g. ['-fwdflat', 'no', '-bestpath', 'no']. */
  args: readonly string[];
  offThread: boolean;
  /** Decoders kept loaded while nobody needs them, so the next speaker does not wait ~0.2 s for the model. */
  maxIdle: number;
  /** Decoders loaded at once (in use, idle and loading): the pool's memory bound. */
  maxDecoders: number;
  /** Acquires allowed to wait for a busy decoder; one more is refused at once. */
  maxWaiting: number;
  /** A waiting acquire fails after this long. */
  acquireTimeoutMs: number;
}

export interface DecoderPoolStats {
  /** Loaded or loading decoders. */
  live: number;
  idle: number;
  inUse: number;
  loading: number;
  /** Acquires waiting for a decoder now. */
  waiting: number;
  /** Highest `live` seen. */
  peakLive: number;
  created: number;
  freed: number;
  /** Acquires that had to wait. */
  queued: number;
  /** Acquires refused because the queue was full. */
  refused: number;
  /** Acquires that waited past acquireTimeoutMs. */
  timedOut: number;
}

interface Waiter {
  resolve(decoder: Decoder): void;
  reject(error: unknown): void;
  /** Takes the waiter out of the queue and stops its deadline: whoever claims it must settle it. */
  claim(): void;
}

/** Quiet times after the last stream closed at which the heap is trimmed: one pair for a burst of hang-ups. */
const TRIM_AFTER_CLOSE_MS = [1_000, 10_000];
/** The owner of a decoder acquired without one: never equal to a later owner, so the next acquire resets it. */
const ANONYMOUS = Object.freeze({});

export class DecoderPool {
  private readonly idle: Decoder[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly argv: string[];
  private live = 0;
  private loading = 0;
  private readonly counts = { peakLive: 0, created: 0, freed: 0, queued: 0, refused: 0, timedOut: 0 };
  private trimming: Promise<void> | undefined;
  private trimAgain = false;
  private trimTimers: ReturnType<typeof setTimeout>[] = [];

  constructor(readonly options: DecoderPoolOptions) {
    const o = options;
    if (!(o.maxDecoders >= 1)) throw new PocketsphinxError(`maxDecoders must be >= 1, got ${o.maxDecoders}`);
    if (!(o.maxIdle >= 0)) throw new PocketsphinxError(`maxIdle must be >= 0, got ${o.maxIdle}`);
    if (!(o.maxWaiting >= 0)) throw new PocketsphinxError(`maxWaiting must be >= 0, got ${o.maxWaiting}`);
    if (!(o.acquireTimeoutMs > 0))
      throw new PocketsphinxError(`acquireTimeoutMs must be > 0, got ${o.acquireTimeoutMs}`);
    checkModelPaths(o.paths);
    const { paths } = o;
    // No -logfn: it would make every ps_init swap sphinxbase's global log FILE* (see pocketsphinx-native.ts).
    this.argv = ['-hmm', paths.hmm, '-lm', paths.lm, '-dict', paths.dict, ...o.args];
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get stats(): DecoderPoolStats {
    return {
      live: this.live,
      idle: this.idle.length,
      inUse: this.live - this.idle.length - this.loading,
      loading: this.loading,
      waiting: this.waiters.length,
      ...this.counts,
    };
  }

  /**
   * A decoder for one utterance; give it back with release() (or discard() if a native call on it failed).
   * `owner` (the stream) keeps the live CMN estimate across its own utterances: a decoder that last served another
   * owner, or an acquire without one, has the estimate reset to the model's initial value first, so one speaker's
   * channel never skews the next speaker's recognition.
   */
  acquire(signal?: AbortSignal, owner?: object): Promise<Decoder> {
    return this.acquireAny(signal).then((decoder) => this.handTo(decoder, owner));
  }

  private handTo(decoder: Decoder, owner: object | undefined): Decoder {
    if (decoder.owner !== undefined && (owner === undefined || decoder.owner !== owner)) {
      try {
        decoder.resetCmn();
      } catch (error) {
        this.discard(decoder);
        throw error;
      }
    }
    // A fresh decoder (no owner yet) is already at the model's estimate; an owner-less acquire marks it shared.
    decoder.owner = owner ?? ANONYMOUS;
    return decoder;
  }

  private acquireAny(signal?: AbortSignal): Promise<Decoder> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const idle = this.idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.live < this.options.maxDecoders) return this.load();
    const { maxDecoders, maxWaiting, acquireTimeoutMs } = this.options;
    if (this.waiters.length >= maxWaiting) {
      this.counts.refused++;
      return Promise.reject(
        new DecoderPoolExhaustedError(
          `all ${maxDecoders} pocketsphinx decoders are busy and ${this.waiters.length} requests already wait: this utterance is not transcribed (raise maxDecoders, or admit fewer sessions)`,
        ),
      );
    }
    this.counts.queued++;
    return new Promise<Decoder>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        claim: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
        },
      };
      const timer = setTimeout(() => {
        waiter.claim();
        this.counts.timedOut++;
        reject(
          new DecoderPoolExhaustedError(
            `no pocketsphinx decoder came free within ${acquireTimeoutMs} ms (all ${maxDecoders} busy): this utterance is not transcribed`,
          ),
        );
      }, acquireTimeoutMs);
      const onAbort = () => {
        waiter.claim();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Returns a decoder after its utterance ended; a waiting acquire gets it first. */
  release(decoder: Decoder): void {
    if (decoder.utteranceOpen) {
      this.discard(decoder); // its state is unknown: never hand it to another session
      return;
    }
    const waiter = this.waiters[0];
    if (waiter) {
      waiter.claim();
      waiter.resolve(decoder);
    } else if (this.idle.length < this.options.maxIdle) this.idle.push(decoder);
    else this.discard(decoder);
  }

  /** Frees a decoder (a failed one, or one beyond maxIdle); its slot goes to a waiting acquire. */
  discard(decoder: Decoder): void {
    this.live--;
    this.counts.freed++;
    this.freeThenTrim([decoder]);
    this.serveWaiters();
  }

  /** Loads decoders until `count` are idle or the bound is reached (start-up, so the first speakers do not wait). */
  async prewarm(count: number): Promise<void> {
    const loads: Promise<Decoder>[] = [];
    while (this.idle.length + this.loading + loads.length < count && this.live < this.options.maxDecoders) {
      loads.push(this.load());
    }
    const results = await Promise.allSettled(loads);
    for (const result of results) if (result.status === 'fulfilled') this.release(result.value);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Frees the idle decoders. Decoders in use stay with their streams and are freed or kept on release. */
  dispose(): void {
    const freed = this.idle.splice(0);
    this.live -= freed.length;
    this.counts.freed += freed.length;
    if (freed.length) this.freeThenTrim(freed);
  }

  private async load(): Promise<Decoder> {
    this.live++;
    this.loading++;
    this.counts.peakLive = Math.max(this.counts.peakLive, this.live);
    try {
      const decoder = await createDecoder(this.argv, this.options.offThread);
      this.counts.created++;
      return decoder;
    } catch (error) {
      this.live--;
      this.serveWaiters();
      throw error;
    } finally {
      this.loading--;
    }
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.live < this.options.maxDecoders) {
      const waiter = this.waiters[0];
      waiter.claim();
      this.load().then(waiter.resolve, waiter.reject);
    }
  }

  /**
   * A stream closed, i.e. a session ended: once closes stop for a moment, the native heap is trimmed. A session
   * frees more native memory than its decoder (llama contexts, TTS buffers) and glibc keeps all of it resident
   * (measured: 150 idle local sessions closed left RSS 460 MB up; a trim brought 320 MB back).
   */
  streamClosed(): void {
    for (const timer of this.trimTimers) clearTimeout(timer);
    // Twice: what the session frees asynchronously (a llama context's disposal) may land after the first pass.
    this.trimTimers = TRIM_AFTER_CLOSE_MS.map((ms) => {
      const timer = setTimeout(() => this.trimHeap(), ms);
      timer.unref?.();
      return timer;
    });
  }

  private freeThenTrim(decoders: Decoder[]): void {
    // A failed ps_free leaves nothing we could do better; the trim still returns what was freed.
    void Promise.allSettled(decoders.map((d) => d.free())).then(() => this.trimHeap());
  }

  /** One malloc_trim at a time; frees that land while one runs get another pass after it. */
  private trimHeap(): void {
    if (this.trimming) {
      this.trimAgain = true;
      return;
    }
    this.trimming = trimNativeHeap()
      .catch(() => undefined) // trimming is an optimisation: a failure changes nothing else
      .finally(() => {
        this.trimming = undefined;
        if (this.trimAgain) {
          this.trimAgain = false;
          this.trimHeap();
        }
      });
  }
}

/** The explicit shared model cache: one pool per configuration, for the life of the process. */
const pools = new Map<string, DecoderPool>();

export function decoderPool(options: DecoderPoolOptions): DecoderPool {
  const key = JSON.stringify(options);
  let pool = pools.get(key);
  if (!pool) {
    pool = new DecoderPool(options);
    pools.set(key, pool);
  }
  return pool;
}

/** Frees every idle decoder of every pool (process shutdown, tests). Decoders in use are freed on release. */
export function disposeDecoderPools(): void {
  for (const pool of pools.values()) pool.dispose();
}
