import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * In-process binding to sphinxbase's n-gram API (libsphinxbase3, the library pocketsphinx already loads) through
 * koffi, to score how likely a sentence ends after its last words under Debian's 70k-word en-us trigram model.
 * Separate from the pocketsphinx decoder binding on purpose: the decoder pool and this model have nothing in
 * common but the library. The model is read-only after loading, so one copy serves every session of the process.
 */

export const DEFAULT_NGRAM_MODEL_PATH = '/usr/share/pocketsphinx/model/en-us/en-us.lm.bin';

export class NgramModelError extends Error {
  override readonly name = 'NgramModelError';
}

type NativeFn = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };

interface Binding {
  logmath_init: NativeFn;
  logmath_free: NativeFn;
  logmath_log_to_ln: NativeFn;
  ngram_model_read: NativeFn;
  ngram_wid: NativeFn;
  ngram_ng_prob: NativeFn;
}

let binding: Binding | undefined;

function loadBinding(): Binding {
  if (binding) return binding;
  const require = createRequire(import.meta.url);
  let koffi: typeof import('koffi');
  try {
    koffi = require('koffi');
  } catch (error) {
    throw new NgramModelError(`the koffi npm package failed to load: ${(error as Error).message}`);
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load('libsphinxbase.so.3');
  } catch (error) {
    throw new NgramModelError(
      `cannot load libsphinxbase.so.3: install the Debian package libsphinxbase3 (scripts/setup.sh installs it). ${(error as Error).message}`,
    );
  }
  // Own opaque type names: the decoder binding registers its own, and koffi refuses a name twice.
  koffi.opaque('eot_ngram_model_t');
  koffi.opaque('eot_logmath_t');
  const fn = (decl: string) => lib.func(decl) as unknown as NativeFn;
  binding = {
    logmath_init: fn('eot_logmath_t *logmath_init(double base, int shift, int use_table)'),
    logmath_free: fn('int logmath_free(eot_logmath_t *lmath)'),
    logmath_log_to_ln: fn('double logmath_log_to_ln(eot_logmath_t *lmath, int logb_p)'),
    ngram_model_read: fn(
      'eot_ngram_model_t *ngram_model_read(void *config, const char *file_name, int file_type, eot_logmath_t *lmath)',
    ),
    ngram_wid: fn('int32_t ngram_wid(eot_ngram_model_t *model, const char *word)'),
    // The raw log probability: no language weight, no insertion penalty. History is most recent word first.
    ngram_ng_prob: fn(
      'int32_t ngram_ng_prob(eot_ngram_model_t *model, int32_t wid, const int32_t *history, int32_t n_hist, _Out_ int32_t *n_used)',
    ),
  };
  return binding;
}

/** How the model scored the end of a sentence after some words. */
export interface SentenceEndScore {
  /** log10 P(</s> | the last two known words): the chance the sentence ends here rather than goes on. */
  log10Prob: number;
  /** Longest n-gram the model had for it (1: it backed off to how often sentences end at all). */
  order: number;
  /** The last word is not in the model's vocabulary (a name, a made-up word, a mis-recognition). */
  lastWordUnknown: boolean;
}

/** The en-us trigram model, loaded. Scoring is synchronous and takes microseconds; see the turn benchmark. */
export class NgramModel {
  private readonly endWid: number;
  private readonly used = [0];
  private readonly history = new Int32Array(2);
  private readonly wids = new Map<string, number>();

  constructor(
    private readonly native: Binding,
    private readonly handle: unknown,
    private readonly logmath: unknown,
    readonly path: string,
  ) {
    this.endWid = this.wordId('</s>');
    if (this.endWid < 0) throw new NgramModelError(`${path} has no </s> token`);
  }

  /** The model's id for a word, or −1 when it is out of vocabulary. Cached: the vocabulary never changes. */
  wordId(word: string): number {
    let wid = this.wids.get(word);
    if (wid === undefined) {
      wid = this.native.ngram_wid(this.handle, word) as number;
      if (this.wids.size < 50_000) this.wids.set(word, wid);
    }
    return wid;
  }

  /**
   * log10 of the summed probability that the next word is one of `next` (e.g. "and", "to", "for"): how strongly
   * the model expects the sentence to go on the way unfinished ones do. Unknown words in `next` are skipped.
   */
  continuation(words: readonly string[], next: readonly string[]): number {
    const n = this.historyOf(words);
    let sum = 0;
    for (const word of next) {
      const wid = this.wordId(word);
      if (wid < 0) continue;
      const score = this.native.ngram_ng_prob(this.handle, wid, this.history, n, this.used) as number;
      sum += Math.exp(this.native.logmath_log_to_ln(this.logmath, score) as number);
    }
    return Math.log10(Math.max(sum, 1e-9));
  }

  /** Fills `this.history` (most recent first) from the last two known words; returns its length. */
  private historyOf(words: readonly string[]): number {
    const last = words.at(-1);
    const previous = words.at(-2);
    const lastWid = last === undefined ? this.wordId('<s>') : this.wordId(last);
    const previousWid = previous === undefined ? this.wordId('<s>') : this.wordId(previous);
    let n = 0;
    if (lastWid >= 0) {
      this.history[n++] = lastWid;
      if (previousWid >= 0) this.history[n++] = previousWid;
    }
    return n;
  }

  /** Scores the sentence ending after `words` (lower-case, already tokenised; at least the last two matter). */
  sentenceEnd(words: readonly string[]): SentenceEndScore {
    const last = words.at(-1);
    // An unknown word ends the usable history: back off to what is known rather than score against garbage.
    const n = this.historyOf(words);
    const lastWordUnknown = last !== undefined && this.wordId(last) < 0;
    const score = this.native.ngram_ng_prob(this.handle, this.endWid, this.history, n, this.used) as number;
    const ln = this.native.logmath_log_to_ln(this.logmath, score) as number;
    return {
      log10Prob: ln / Math.LN10,
      order: Math.max(1, this.used[0]),
      lastWordUnknown,
    };
  }
}

/** One model per file per process: 27 MB and 0.2 s to read, identical for every session. */
const loaded = new Map<string, Promise<NgramModel>>();

/**
 * The n-gram model at `path`, read once per process on a koffi worker thread (the read takes ~0.2 s and must not
 * stall other sessions' audio). Rejects with a clear {@link NgramModelError} when the file or library is missing.
 */
export function loadNgramModel(path = DEFAULT_NGRAM_MODEL_PATH): Promise<NgramModel> {
  let model = loaded.get(path);
  if (!model) {
    model = readModel(path);
    loaded.set(path, model);
    // A failed read is not cached: installing the package and retrying works without a restart.
    model.catch(() => loaded.delete(path));
  }
  return model;
}

async function readModel(path: string): Promise<NgramModel> {
  if (!existsSync(path)) {
    throw new NgramModelError(
      `n-gram model ${path} not found: install the Debian package pocketsphinx-en-us (scripts/setup.sh installs it)`,
    );
  }
  const native = loadBinding();
  const logmath = native.logmath_init(1.0001, 0, 0);
  if (!logmath) throw new NgramModelError('logmath_init failed');
  const handle = await new Promise<unknown>((resolve, reject) => {
    // NGRAM_AUTO (0): the format is read from the file.
    native.ngram_model_read.async(null, path, 0, logmath, (error: unknown, result: unknown) =>
      error ? reject(error) : resolve(result),
    );
  });
  if (!handle) {
    native.logmath_free(logmath);
    throw new NgramModelError(`sphinxbase could not read the n-gram model ${path}`);
  }
  return new NgramModel(native, handle, logmath, path);
}
