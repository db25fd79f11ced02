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
  /** glibc's malloc_trim, when libc is glibc: hands freed decoder memory back to the kernel. */
  malloc_trim: AsyncFn | undefined;
}

let binding: Binding | undefined;

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
    malloc_trim: loadMallocTrim(koffi),
  };
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

  constructor(
    private readonly native: Binding,
    private readonly handle: unknown,
    /** Run the heavy calls on koffi's worker threads, keeping the event loop (and the audio path) free. */
    readonly offThread: boolean,
  ) {}

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
