import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * In-process binding to Debian's libpocketsphinx 0.8 (5prealpha API) through koffi. Decoders are pooled by
 * pocketsphinx-pool.ts: loading the en-us model takes ~0.2 s and the C API cannot share it between decoders.
 *
 * Logging: `-logfn` makes every ps_init call sphinxbase's err_set_logfile, which fopens the new file and fcloses
 * the one global log FILE*. Two inits on koffi's worker threads at once close the same FILE* twice (heap
 * corruption, SIGSEGV, or a deadlock on glibc's stdio list lock). So the binding switches sphinxbase's log off
 * once, when it loads, on the calling thread, and never passes -logfn: no init touches the global log again.
 */

export class PocketsphinxError extends Error {
  override readonly name = 'PocketsphinxError';
}

const SETUP_HINT = 'scripts/setup.sh installs it';
export const DEFAULT_POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

export interface PocketsphinxModelPaths {
  /** Acoustic model directory (-hmm). */
  hmm: string;
  /** Language model (-lm). */
  lm: string;
  /** Pronunciation dictionary (-dict). */
  dict: string;
}

export function defaultModelPaths(modelDir = DEFAULT_POCKETSPHINX_MODEL_DIR): PocketsphinxModelPaths {
  return {
    hmm: join(modelDir, 'en-us'),
    lm: join(modelDir, 'en-us.lm.bin'),
    dict: join(modelDir, 'cmudict-en-us.dict'),
  };
}

type AsyncFn = ((...args: unknown[]) => unknown) & {
  async: (...args: unknown[]) => void;
};

interface Binding {
  ps_args: AsyncFn;
  cmd_ln_parse_r: AsyncFn;
  cmd_ln_free_r: AsyncFn;
  ps_init: AsyncFn;
  ps_free: AsyncFn;
  ps_start_utt: AsyncFn;
  ps_end_utt: AsyncFn;
  ps_process_raw: AsyncFn;
  ps_get_hyp: AsyncFn;
  ps_get_feat: AsyncFn;
  cmn_live_get: AsyncFn;
  cmn_live_set: AsyncFn;
  /** glibc's malloc_trim, when libc is glibc: hands freed decoder memory back to the kernel. */
  malloc_trim: AsyncFn | undefined;
}

let binding: Binding | undefined;
let koffiRef: typeof import('koffi') | undefined;

function loadBinding(): Binding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi');
  } catch (error) {
    throw new PocketsphinxError(
      `the koffi npm package failed to load (run npm install): ${(error as Error).message}`,
    );
  }
  const open = (file: string, pkg: string) => {
    try {
      return koffi.load(file);
    } catch (error) {
      throw new PocketsphinxError(
        `cannot load ${file}: install the Debian package ${pkg} (${SETUP_HINT}). ${(error as Error).message}`,
      );
    }
  };
  const sphinxbase = open('libsphinxbase.so.3', 'libsphinxbase3');
  const ps = open('libpocketsphinx.so.3', 'libpocketsphinx3');
  koffi.opaque('ps_cmd_ln_t');
  koffi.opaque('ps_arg_t');
  koffi.opaque('ps_decoder_t');
  const fn = (lib: typeof ps, decl: string) => lib.func(decl) as unknown as AsyncFn;
  binding = {
    ps_args: fn(ps, 'const ps_arg_t *ps_args()'),
    // cmd_ln_parse_r rather than the variadic cmd_ln_init: same effect, and an argv array is easy to build.
    cmd_ln_parse_r: fn(
      sphinxbase,
      'ps_cmd_ln_t *cmd_ln_parse_r(ps_cmd_ln_t *inout, const ps_arg_t *defn, int32_t argc, const char **argv, int32_t strict)',
    ),
    cmd_ln_free_r: fn(sphinxbase, 'int cmd_ln_free_r(ps_cmd_ln_t *cmdln)'),
    ps_init: fn(ps, 'ps_decoder_t *ps_init(ps_cmd_ln_t *config)'),
    ps_free: fn(ps, 'int ps_free(ps_decoder_t *ps)'),
    ps_start_utt: fn(ps, 'int ps_start_utt(ps_decoder_t *ps)'),
    ps_end_utt: fn(ps, 'int ps_end_utt(ps_decoder_t *ps)'),
    ps_process_raw: fn(
      ps,
      'int ps_process_raw(ps_decoder_t *ps, const int16_t *data, size_t n_samples, int no_search, int full_utt)',
    ),
    ps_get_hyp: fn(ps, 'const char *ps_get_hyp(ps_decoder_t *ps, int32_t *out_best_score)'),
    ps_get_feat: fn(ps, 'void *ps_get_feat(ps_decoder_t *ps)'),
    cmn_live_get: fn(sphinxbase, 'void cmn_live_get(void *cmn, _Out_ float *vec)'),
    cmn_live_set: fn(sphinxbase, 'void cmn_live_set(void *cmn, const float *vec)'),
    malloc_trim: loadMallocTrim(koffi),
  };
  koffiRef = koffi;
  // NULL disables sphinxbase's log (a flag and a pointer store; nothing is opened or closed). Done once, before
  // any ps_init can run on a worker thread.
  (fn(sphinxbase, 'void err_set_logfp(void *stream)') as (stream: null) => void)(null);
  return binding;
}

function loadMallocTrim(koffi: typeof import('koffi')): AsyncFn | undefined {
  try {
    return koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as unknown as AsyncFn;
  } catch {
    return undefined; // not glibc (musl returns memory on free): nothing to trim
  }
}

/**
 * Returns the freed pages of every malloc arena to the kernel. A decoder is ~40 MB of small allocations made on
 * koffi's worker threads, i.e. in per-thread arenas that glibc never shrinks by itself, so after decoders are
 * freed RSS stays high until this runs. Off the event loop: it walks every arena.
 */
export function trimNativeHeap(): Promise<void> {
  const trim = loadBinding().malloc_trim;
  if (!trim) return Promise.resolve();
  return call<number>(trim, true, 0).then(() => undefined);
}

function call<T>(fn: AsyncFn, offThread: boolean, ...args: unknown[]): Promise<T> {
  if (!offThread) {
    try {
      return Promise.resolve(fn(...args) as T);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise<T>((resolve, reject) => {
    fn.async(...args, (error: unknown, result: T) => (error ? reject(error) : resolve(result)));
  });
}

/**
 * One native decoder. Calls on it must not overlap (pocketsphinx is not re-entrant per decoder); the stream
 * that holds it awaits each call before making the next.
 */
export class Decoder {
  private inUtterance = false;
  private freed = false;
  private readonly score = new Int32Array(1);
  /** The live CMN state (sphinxbase cmn_t) and the model's initial estimate, read right after ps_init. */
  private readonly cmn: CmnAccess | undefined;
  /** The stream (session) that last held this decoder; the pool resets the CMN when another one takes it. */
  owner: object | undefined;

  constructor(
    private readonly native: Binding,
    private readonly handle: unknown,
    /** Run the heavy calls on koffi's worker threads, keeping the event loop (and the audio path) free. */
    readonly offThread: boolean,
  ) {
    this.cmn = cmnAccess(native, handle);
  }

  /**
   * Puts the live cepstral-mean estimate back where ps_init left it (the model's -cmninit, nothing accumulated),
   * so the next utterance is normalised as by a freshly loaded decoder, not with the previous speaker's channel
   * (measured: 32 % -> 68 % WER on dev when a decoder last heard someone else). Between utterances only.
   * Returns false when the binding could not verify sphinxbase's layout (then the estimate carries over).
   */
  resetCmn(): boolean {
    this.assertLive();
    if (this.inUtterance) throw new PocketsphinxError('resetCmn during an utterance');
    if (!this.cmn) return false;
    resetCmnState(this.native, this.cmn);
    return true;
  }

  /** The current live CMN estimate (tests and benchmarks), or undefined when it cannot be reached. */
  cmnEstimate(): Float32Array | undefined {
    if (!this.cmn) return undefined;
    const vec = new Float32Array(this.cmn.init.length);
    this.native.cmn_live_get(this.cmn.ptr, vec);
    return vec;
  }

  get utteranceOpen(): boolean {
    return this.inUtterance;
  }

  async process(samples: Int16Array): Promise<void> {
    this.assertLive();
    if (!this.inUtterance) {
      check(this.native.ps_start_utt(this.handle) as number, 'ps_start_utt');
      this.inUtterance = true;
    }
    const rc = await call<number>(
      this.native.ps_process_raw,
      this.offThread,
      this.handle,
      samples,
      samples.length,
      0,
      0,
    );
    if (rc < 0) throw new PocketsphinxError(`ps_process_raw failed (${rc})`);
  }

  /** The current best hypothesis; cheap while an utterance runs (a backtrace), so it stays on this thread. */
  partial(): string {
    this.assertLive();
    return ((this.native.ps_get_hyp(this.handle, this.score) as string | null) ?? '').trim();
  }

  /** Ends the utterance and returns its settled text (with -bestpath yes the lattice search runs here). */
  async finish(): Promise<string> {
    this.assertLive();
    if (!this.inUtterance) return '';
    this.inUtterance = false;
    check(await call<number>(this.native.ps_end_utt, this.offThread, this.handle), 'ps_end_utt');
    const hyp = await call<string | null>(this.native.ps_get_hyp, this.offThread, this.handle, this.score);
    return (hyp ?? '').trim();
  }

  /**
   * Frees the native decoder. ps_free releases tens of thousands of allocations (tens of ms), so it runs off the
   * event loop like the decode; the decoder is unusable from the moment this is called.
   */
  free(): Promise<void> {
    if (this.freed) return Promise.resolve();
    this.freed = true;
    return call<number>(this.native.ps_free, this.offThread, this.handle).then(() => undefined);
  }

  private assertLive(): void {
    if (this.freed) throw new PocketsphinxError('decoder already freed');
  }
}

/*
 * The live CMN state. sphinxbase 5prealpha exports cmn_live_get / cmn_live_set but no accessor for the decoder's
 * cmn_t, and cmn_live_set seeds a 500-frame prior (sum = vec * CMN_WIN, nframe = CMN_WIN) where ps_init leaves
 * nothing accumulated (sum 0, nframe 0): after it a long utterance would be normalised differently from a fresh
 * decoder. So the reset is cmn_live_set (public: the mean) and then, only where the layout was verified on this
 * very decoder, sum and nframe are zeroed as ps_init left them. Layout (x86-64): feat_t { ...; int32 cepsize @16;
 * int32 n_stream @20; ...; cmn_t *cmn_struct @88 }, cmn_t { float *cmn_mean @0; float *cmn_var @8; float *sum @16;
 * int32 nframe @24; int32 veclen @28 }. Anything unexpected: no reset, logged once.
 */
const FEAT_CEPSIZE = 16;
const FEAT_N_STREAM = 20;
const FEAT_CMN_STRUCT = 88;
const CMN_MEAN = 0;
const CMN_SUM = 16;
const CMN_NFRAME = 24;
const CMN_VECLEN = 28;
const CMN_WIN = 500;

interface CmnAccess {
  ptr: unknown;
  sum: unknown;
  init: Float32Array;
}

let cmnWarned = false;

function cmnAccess(native: Binding, handle: unknown): CmnAccess | undefined {
  const koffi = koffiRef;
  const fail = (why: string): undefined => {
    if (!cmnWarned) {
      cmnWarned = true;
      console.warn(
        `pocketsphinx: cannot reset the live CMN estimate between speakers (${why}); a shared decoder keeps the previous speaker's estimate`,
      );
    }
    return undefined;
  };
  if (process.arch !== 'x64' || !koffi) return fail(`untested architecture ${process.arch}`);
  try {
    const feat = native.ps_get_feat(handle);
    if (!feat) return fail('ps_get_feat returned NULL');
    const cepsize = koffi.decode(feat, FEAT_CEPSIZE, 'int32_t') as number;
    const streams = koffi.decode(feat, FEAT_N_STREAM, 'int32_t') as number;
    if (cepsize < 1 || cepsize > 64 || streams < 1 || streams > 8)
      return fail(`feat_t layout unexpected (cepsize ${cepsize}, streams ${streams})`);
    const ptr = koffi.decode(feat, FEAT_CMN_STRUCT, 'void *');
    if (!ptr) return fail('no cmn_t');
    const veclen = koffi.decode(ptr, CMN_VECLEN, 'int32_t') as number;
    const nframe = koffi.decode(ptr, CMN_NFRAME, 'int32_t') as number;
    const meanPtr = koffi.decode(ptr, CMN_MEAN, 'void *');
    const sum = koffi.decode(ptr, CMN_SUM, 'void *');
    if (veclen !== cepsize || nframe !== 0 || !meanPtr || !sum)
      return fail(`cmn_t layout unexpected (veclen ${veclen}, cepsize ${cepsize}, nframe ${nframe})`);
    const init = new Float32Array(veclen);
    native.cmn_live_get(ptr, init);
    const direct = koffi.decode(meanPtr, 'float', veclen) as Float32Array;
    const zeros = koffi.decode(sum, 'float', veclen) as Float32Array;
    if (!init.every((v, i) => Object.is(v, direct[i])) || !zeros.every((v) => v === 0))
      return fail('cmn_t fields do not match cmn_live_get');
    // Round trip: cmn_live_set must write the fields where this layout says (a prior of CMN_WIN frames).
    const access: CmnAccess = { ptr, sum, init };
    native.cmn_live_set(ptr, init);
    const setFrames = koffi.decode(ptr, CMN_NFRAME, 'int32_t') as number;
    const setSum0 = (koffi.decode(sum, 'float', 1) as Float32Array)[0];
    if (
      setFrames !== CMN_WIN ||
      Math.abs(setSum0 - init[0] * CMN_WIN) > 1e-3 * Math.abs(init[0] * CMN_WIN) + 1e-6
    ) {
      return fail(`cmn_live_set wrote nframe ${setFrames}, sum[0] ${setSum0}`);
    }
    resetCmnState(native, access);
    return access;
  } catch (error) {
    return fail((error as Error).message);
  }
}

function resetCmnState(native: Binding, access: CmnAccess): void {
  const koffi = koffiRef as typeof import('koffi');
  native.cmn_live_set(access.ptr, access.init);
  koffi.encode(access.sum, 'float', new Float32Array(access.init.length), access.init.length);
  koffi.encode(access.ptr, CMN_NFRAME, 'int32_t', 0);
}

function check(rc: number, what: string): void {
  if (rc < 0) throw new PocketsphinxError(`${what} failed (${rc})`);
}

/** Loads one decoder for `argv` (pocketsphinx arguments without the program name). */
export async function createDecoder(argv: readonly string[], offThread: boolean): Promise<Decoder> {
  const n = loadBinding();
  const args = [...argv];
  const config = n.cmd_ln_parse_r(null, n.ps_args(), args.length, args, 1);
  if (!config) throw new PocketsphinxError(`pocketsphinx rejected its arguments: ${args.join(' ')}`);
  try {
    // Loading the model reads ~40 MB; off the event loop it does not stall other sessions' audio.
    const handle = await call<unknown>(n.ps_init, offThread, config);
    if (!handle) throw new PocketsphinxError('ps_init failed to load the pocketsphinx model');
    return new Decoder(n, handle, offThread);
  } finally {
    n.cmd_ln_free_r(config); // ps_init holds its own reference
  }
}

/** Throws a PocketsphinxError naming the Debian package when a model file is missing. */
export function checkModelPaths(paths: PocketsphinxModelPaths): void {
  const missing = [
    [join(paths.hmm, 'mdef'), 'acoustic model'],
    [paths.lm, 'language model'],
    [paths.dict, 'dictionary'],
  ].filter(([file]) => !existsSync(file));
  if (missing.length > 0) {
    throw new PocketsphinxError(
      `pocketsphinx ${missing.map(([f, what]) => `${what} ${f}`).join(', ')} not found: install the Debian package pocketsphinx-en-us (${SETUP_HINT})`,
    );
  }
}
