import type { STT, SttListener, SttStreamOptions } from './contract.ts';
import {
  DEFAULT_POCKETSPHINX_MODEL_DIR,
  defaultModelPaths,
  PocketsphinxError,
  type PocketsphinxModelPaths,
} from './pocketsphinx-native.ts';
import { type DecoderPool, type DecoderPoolStats, decoderPool } from './pocketsphinx-pool.ts';
import { PocketsphinxStream, type SpeechGateOptions } from './pocketsphinx-stream.ts';

export { DEFAULT_POCKETSPHINX_MODEL_DIR, PocketsphinxError } from './pocketsphinx-native.ts';
export {
  DecoderPoolExhaustedError,
  type DecoderPoolStats,
  disposeDecoderPools,
} from './pocketsphinx-pool.ts';
export { PocketsphinxStream } from './pocketsphinx-stream.ts';

/**
 * 'fast' skips pocketsphinx's second (flat-lexicon) pass and lattice best-path search: finals arrive in
 * tens of ms instead of hundreds, for a few points of word error rate (see bench/local/stt.ts).
 */
export type PocketsphinxSearch = 'fast' | 'accurate';

export interface PocketsphinxOptions extends SpeechGateOptions {
  search: PocketsphinxSearch;
  /** Directory holding en-us/, en-us.lm.bin and cmudict-en-us.dict (Debian's pocketsphinx-en-us). */
  modelDir: string;
  /** Overrides of single model files. */
  paths?: Partial<PocketsphinxModelPaths>;
  /** Decode on koffi's worker threads so a 20-30 ms decode never blocks the event loop. */
  offThread: boolean;
  /** Decoders kept loaded while nobody speaks, so the next speaker does not wait for the model to load. */
  maxIdleDecoders: number;
  /**
   * Decoders loaded at once, i.e. people speaking at the same moment (~70 MB each). Streams hold one only from
   * the first voiced audio to the utterance's final, so idle connections cost none.
   */
  maxDecoders: number;
  /** Utterances allowed to wait for a busy decoder; one more is refused at once with DecoderPoolExhaustedError. */
  maxWaitingUtterances: number;
  /** A waiting utterance gives up after this long (DecoderPoolExhaustedError, reported on the stream). */
  decoderWaitTimeoutMs: number;
  /** Further pocketsphinx arguments, appended last (so they win). */
  extraArgs: readonly string[];
}

export const DEFAULT_POCKETSPHINX_OPTIONS: PocketsphinxOptions = {
  search: 'fast',
  modelDir: DEFAULT_POCKETSPHINX_MODEL_DIR,
  interimIntervalMs: 160,
  offThread: true,
  maxIdleDecoders: 2,
  maxDecoders: 16,
  maxWaitingUtterances: 64,
  decoderWaitTimeoutMs: 5_000,
  gateThresholdDbfs: -50,
  lookbackMs: 1_000,
  releaseAfterQuietMs: 5_000,
  extraArgs: [],
};

const SEARCH_ARGS: Record<PocketsphinxSearch, readonly string[]> = {
  fast: ['-fwdflat', 'no', '-bestpath', 'no'],
  accurate: ['-fwdflat', 'yes', '-bestpath', 'yes'],
};

export class PocketsphinxSTT implements STT {
  readonly name = 'pocketsphinx';
  /** The bundled acoustic and language models are US English. */
  readonly languages = ['en-US'] as const;
  readonly options: PocketsphinxOptions;
  private readonly pool: DecoderPool;

  constructor(options: Partial<PocketsphinxOptions> = {}) {
    this.options = { ...DEFAULT_POCKETSPHINX_OPTIONS, ...options };
    const o = this.options;
    if (!(o.search in SEARCH_ARGS))
      throw new PocketsphinxError(`search must be 'fast' or 'accurate', got ${o.search}`);
    if (!(o.interimIntervalMs > 0))
      throw new PocketsphinxError(`interimIntervalMs must be > 0, got ${o.interimIntervalMs}`);
    for (const key of ['lookbackMs', 'releaseAfterQuietMs'] as const)
      if (!(o[key] > 0)) throw new PocketsphinxError(`${key} must be > 0, got ${o[key]}`);
    if (!Number.isFinite(o.gateThresholdDbfs))
      throw new PocketsphinxError(`gateThresholdDbfs must be a number of dBFS, got ${o.gateThresholdDbfs}`);
    this.pool = decoderPool({
      paths: { ...defaultModelPaths(o.modelDir), ...o.paths },
      args: [...SEARCH_ARGS[o.search], ...o.extraArgs],
      offThread: o.offThread,
      maxIdle: o.maxIdleDecoders,
      maxDecoders: o.maxDecoders,
      maxWaiting: o.maxWaitingUtterances,
      acquireTimeoutMs: o.decoderWaitTimeoutMs,
    });
  }

  /**
   * Makes sure `count` decoders are loaded and idle (at most maxDecoders), so the first speakers do not wait
   * ~0.2-0.8 s for the model. Every session calls it on start; once decoders are warm it does nothing.
   */
  async prewarm(count = 1, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.pool.prewarm(Math.min(count, this.options.maxDecoders));
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): PocketsphinxStream {
    // `multi` (a session that lets the STT detect the language, this one as a fallback) is heard as English.
    if (options.language && !/^(?:en\b|multi$|auto$)/i.test(options.language)) {
      throw new PocketsphinxError(
        `pocketsphinx has the en-US model only; language ${options.language} is not available`,
      );
    }
    return new PocketsphinxStream(this.pool, this.options, listener, options.signal);
  }

  /** Decoders loaded and waiting for a speaker. */
  get idleDecoders(): number {
    return this.pool.idleCount;
  }

  /** The decoder pool's counters: loaded, in use, waiting, refused (for /metrics and capacity planning). */
  get decoderStats(): DecoderPoolStats {
    return this.pool.stats;
  }

  /** Frees this configuration's idle decoders. Streams still open keep theirs until they close. */
  dispose(): void {
    this.pool.dispose();
  }
}
