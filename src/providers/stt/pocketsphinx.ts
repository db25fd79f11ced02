import { type AudioFrame, PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';
import type { STT, SttListener, SttStream, SttStreamOptions, Transcript } from './contract.ts';
import { audioEntry, checkPipelineFrame } from './pipeline-frame.ts';
import {
  DEFAULT_POCKETSPHINX_MODEL_DIR,
  type Decoder,
  type DecoderPool,
  decoderPool,
  defaultModelPaths,
  PocketsphinxError,
  type PocketsphinxModelPaths,
} from './pocketsphinx-native.ts';

export {
  DEFAULT_POCKETSPHINX_MODEL_DIR,
  disposeDecoderPools,
  PocketsphinxError,
} from './pocketsphinx-native.ts';

/**
 * 'fast' skips pocketsphinx's second (flat-lexicon) pass and lattice best-path search: finals arrive in
 * tens of ms instead of hundreds, for a few points of word error rate (see bench/local/stt.ts).
 */
export type PocketsphinxSearch = 'fast' | 'accurate';

export interface PocketsphinxOptions {
  search: PocketsphinxSearch;
  /** Directory holding en-us/, en-us.lm.bin and cmudict-en-us.dict (Debian's pocketsphinx-en-us). */
  modelDir: string;
  /** Overrides of single model files. */
  paths?: Partial<PocketsphinxModelPaths>;
  /** Audio between interim checks; an interim is emitted only when the hypothesis changed. */
  interimIntervalMs: number;
  /** Decode on koffi's worker threads so a 20-30 ms decode never blocks the event loop. */
  offThread: boolean;
  /** Decoders kept loaded for reuse after their stream closes. */
  maxIdleDecoders: number;
  /** Further pocketsphinx arguments, appended last (so they win). */
  extraArgs: readonly string[];
}

export const DEFAULT_POCKETSPHINX_OPTIONS: PocketsphinxOptions = {
  search: 'fast',
  modelDir: DEFAULT_POCKETSPHINX_MODEL_DIR,
  interimIntervalMs: 160,
  offThread: true,
  maxIdleDecoders: 4,
  extraArgs: [],
};

const SEARCH_ARGS: Record<PocketsphinxSearch, readonly string[]> = {
  fast: ['-fwdflat', 'no', '-bestpath', 'no'],
  accurate: ['-fwdflat', 'yes', '-bestpath', 'yes'],
};

/** Largest batch handed to one native call: bounds koffi's per-call copy when audio piles up. */
const MAX_BATCH_SAMPLES = PIPELINE_SAMPLE_RATE;

export class PocketsphinxSTT implements STT {
  readonly name = 'pocketsphinx';
  readonly options: PocketsphinxOptions;
  private readonly pool: DecoderPool;

  constructor(options: Partial<PocketsphinxOptions> = {}) {
    this.options = { ...DEFAULT_POCKETSPHINX_OPTIONS, ...options };
    const o = this.options;
    if (!(o.search in SEARCH_ARGS))
      throw new PocketsphinxError(`search must be 'fast' or 'accurate', got ${o.search}`);
    if (!(o.interimIntervalMs > 0))
      throw new PocketsphinxError(`interimIntervalMs must be > 0, got ${o.interimIntervalMs}`);
    if (!(o.maxIdleDecoders >= 0))
      throw new PocketsphinxError(`maxIdleDecoders must be >= 0, got ${o.maxIdleDecoders}`);
    this.pool = decoderPool({
      paths: { ...defaultModelPaths(o.modelDir), ...o.paths },
      args: [...SEARCH_ARGS[o.search], ...o.extraArgs],
      offThread: o.offThread,
      maxIdle: o.maxIdleDecoders,
    });
  }

  /** Loads `count` decoders now, so the first sessions do not wait ~0.2 s each for the model. */
  async prewarm(count = 1, signal?: AbortSignal): Promise<void> {
    const made: Decoder[] = [];
    try {
      for (let i = 0; i < count && !signal?.aborted; i++) made.push(await this.pool.acquire());
    } finally {
      for (const decoder of made) this.pool.release(decoder);
    }
    signal?.throwIfAborted();
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): PocketsphinxStream {
    if (options.language && !/^en\b/i.test(options.language)) {
      throw new PocketsphinxError(
        `pocketsphinx has the en-US model only; language ${options.language} is not available`,
      );
    }
    return new PocketsphinxStream(this.pool, this.options.interimIntervalMs, listener, options.signal);
  }

  /** Decoders loaded and waiting for a stream. */
  get idleDecoders(): number {
    return this.pool.idleCount;
  }

  /** Frees this configuration's idle decoders. Streams still open keep theirs until they close. */
  dispose(): void {
    this.pool.dispose();
  }
}

type Op = { kind: 'audio'; samples: Int16Array; startMs: number; endMs: number } | { kind: 'flush' };

export class PocketsphinxStream implements SttStream {
  private decoder: Decoder | undefined;
  private readonly ops: Op[] = [];
  private pumping = false;
  private closed = false;
  private retired = false;
  private uttStartMs: number | undefined;
  private uttEndMs = 0;
  private samplesSinceInterim = 0;
  private lastInterim = '';
  private idleWaiters: (() => void)[] = [];
  private readonly interimSamples: number;
  private readonly onAbort = () => this.close();

  constructor(
    private readonly pool: DecoderPool,
    interimIntervalMs: number,
    private readonly listener: SttListener,
    private readonly signal?: AbortSignal,
  ) {
    this.interimSamples = Math.round((interimIntervalMs * PIPELINE_SAMPLE_RATE) / 1000);
    if (signal?.aborted) {
      this.closed = true;
      this.retired = true;
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    pool.acquire().then(
      (decoder) => {
        this.decoder = decoder;
        if (this.closed) this.retire();
        else void this.pump();
      },
      (error: unknown) => {
        this.report(error);
        this.close();
      },
    );
  }

  push(frame: AudioFrame): void {
    checkPipelineFrame(frame, 'pocketsphinx');
    if (this.closed || frame.samples.length === 0) return;
    // The decode happens later, maybe on another thread.
    this.ops.push(audioEntry(frame));
    void this.pump();
  }

  flush(): void {
    if (this.closed) return;
    this.ops.push({ kind: 'flush' });
    void this.pump();
  }

  /** Stops decoding; no listener call follows. The decoder returns to the pool once its current call ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ops.length = 0;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.resolveIdle();
    if (!this.pumping) this.retire();
  }

  /** Resolves once everything pushed so far is decoded (benchmarks and tests; not part of the contract). */
  whenIdle(): Promise<void> {
    if (this.closed || (!this.pumping && this.ops.length === 0 && this.decoder)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    const decoder = this.decoder;
    if (this.pumping || !decoder || this.closed) return;
    this.pumping = true;
    try {
      while (!this.closed && this.ops.length > 0) {
        if (this.ops[0].kind === 'flush') {
          this.ops.shift();
          await this.finishUtterance(decoder);
        } else {
          await this.decodeAudio(decoder);
        }
      }
    } catch (error) {
      // A native failure leaves the decoder in an unknown state: free it, never hand it to another session.
      this.decoder = undefined;
      decoder.free();
      if (!this.closed) this.report(error);
      this.close();
    } finally {
      this.pumping = false;
      if (this.closed) this.retire();
      else this.resolveIdle();
    }
  }

  private async decodeAudio(decoder: Decoder): Promise<void> {
    const batch: Extract<Op, { kind: 'audio' }>[] = [];
    let length = 0;
    while (
      this.ops[0]?.kind === 'audio' &&
      (batch.length === 0 || length + this.ops[0].samples.length <= MAX_BATCH_SAMPLES)
    ) {
      const op = this.ops.shift() as Extract<Op, { kind: 'audio' }>;
      batch.push(op);
      length += op.samples.length;
    }
    const samples =
      batch.length === 1
        ? batch[0].samples
        : concat(
            batch.map((op) => op.samples),
            length,
          );
    this.uttStartMs ??= batch[0].startMs;
    await decoder.process(samples);
    this.uttEndMs = batch[batch.length - 1].endMs;
    this.samplesSinceInterim += length;
    if (this.closed || this.samplesSinceInterim < this.interimSamples) return;
    this.samplesSinceInterim = 0;
    const text = decoder.partial();
    if (text && text !== this.lastInterim) {
      this.lastInterim = text;
      this.emit('onInterim', this.transcript(text));
    }
  }

  private async finishUtterance(decoder: Decoder): Promise<void> {
    if (this.uttStartMs === undefined) return; // nothing heard since the last final
    const text = await decoder.finish();
    const transcript = this.transcript(text);
    this.uttStartMs = undefined;
    this.lastInterim = '';
    this.samplesSinceInterim = 0;
    // Emitted even when empty, so a caller waiting on the final for its flush is never left hanging.
    if (!this.closed) this.emit('onFinal', transcript);
  }

  private transcript(text: string): Transcript {
    return { text, language: 'en-US', startMs: this.uttStartMs ?? this.uttEndMs, endMs: this.uttEndMs };
  }

  private emit(kind: 'onInterim' | 'onFinal', transcript: Transcript): void {
    try {
      this.listener[kind](transcript);
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    const wrapped = error instanceof Error ? error : new PocketsphinxError(String(error));
    try {
      this.listener.onError?.(wrapped);
    } catch {
      // a failing error handler must not take the decoder down with it
    }
  }

  private retire(): void {
    if (this.retired) return;
    const decoder = this.decoder;
    if (!decoder) return; // still loading: the acquire callback retires it
    this.retired = true;
    this.decoder = undefined;
    if (!decoder.utteranceOpen) {
      this.pool.release(decoder);
      return;
    }
    // End the abandoned utterance so the next session starts clean; the text is discarded.
    decoder.finish().then(
      () => this.pool.release(decoder),
      () => decoder.free(),
    );
  }

  private resolveIdle(): void {
    if (this.ops.length > 0 && !this.closed) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function concat(chunks: Int16Array[], length: number): Int16Array {
  const out = new Int16Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
