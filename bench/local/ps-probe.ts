/**
 * What the bench needs from libpocketsphinx beyond the project's binding (src/providers/stt/pocketsphinx-native.ts):
 * the decoder's live cepstral-mean estimate (read, set) and the language model's vocabulary (is a word in it, add
 * one). Measurement only: if a setting here proves itself on the dev split, it belongs in the binding.
 *
 * The live CMN vector sits in feat_t->cmn_struct (sphinxbase 5prealpha, x86-64: byte offset 88); the offset is
 * checked against fields with known values (cepsize 13, one stream) before it is trusted.
 */
import { createRequire } from 'node:module';
import type { Decoder } from '../../src/providers/stt/pocketsphinx-native.ts';

type Fn = (...args: unknown[]) => unknown;
interface Probe {
  psGetFeat: Fn;
  psGetLm: Fn;
  cmnLiveGet: Fn;
  cmnLiveSet: Fn;
  ngramWid: Fn;
  ngramUnknownWid: Fn;
  koffi: typeof import('koffi');
}

let probe: Probe | undefined;

function load(): Probe {
  if (probe) return probe;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const ps = koffi.load('libpocketsphinx.so.3');
  const sb = koffi.load('libsphinxbase.so.3');
  probe = {
    koffi,
    psGetFeat: ps.func('void *ps_get_feat(void *ps)') as Fn,
    psGetLm: ps.func('void *ps_get_lm(void *ps, const char *name)') as Fn,
    cmnLiveGet: sb.func('void cmn_live_get(void *cmn, _Out_ float *vec)') as Fn,
    cmnLiveSet: sb.func('void cmn_live_set(void *cmn, const float *vec)') as Fn,
    ngramWid: sb.func('int32_t ngram_wid(void *model, const char *word)') as Fn,
    ngramUnknownWid: sb.func('int32_t ngram_unknown_wid(void *model)') as Fn,
  };
  return probe;
}

/** The native decoder handle (a private field of the project's Decoder; read here for measurement only). */
function handleOf(decoder: Decoder): unknown {
  return (decoder as unknown as { handle: unknown }).handle;
}

const CEPSTRA = 13;

function cmnStruct(decoder: Decoder): unknown {
  const p = load();
  const feat = p.psGetFeat(handleOf(decoder));
  const cepsize = p.koffi.decode(feat, 16, 'int32_t') as number;
  const streams = p.koffi.decode(feat, 20, 'int32_t') as number;
  if (cepsize !== CEPSTRA || streams !== 1)
    throw new Error(`feat_t layout not as expected (cepsize ${cepsize}, streams ${streams})`);
  return p.koffi.decode(feat, 88, 'void *');
}

/** The decoder's current live cepstral-mean estimate (13 values). */
export function getCmn(decoder: Decoder): Float32Array {
  const vec = new Float32Array(CEPSTRA);
  load().cmnLiveGet(cmnStruct(decoder), vec);
  return vec;
}

/** Replaces the decoder's live cepstral-mean estimate (between utterances). */
export function setCmn(decoder: Decoder, vec: Float32Array): void {
  if (vec.length !== CEPSTRA) throw new Error(`a CMN vector has ${CEPSTRA} values`);
  load().cmnLiveSet(cmnStruct(decoder), vec);
}

/** The acoustic model's own initial estimate (-cmninit in feat.params). */
export function modelCmnInit(featParams: string): Float32Array {
  const match = /-cmninit\s+(\S+)/.exec(featParams);
  if (!match) throw new Error('feat.params has no -cmninit');
  return Float32Array.from(match[1].split(',').map(Number));
}

/** Whether the decoder's language model knows `word` (a word not in it can never be recognised). */
export function lmKnows(decoder: Decoder, word: string): boolean {
  const p = load();
  const lm = p.psGetLm(handleOf(decoder), '_default');
  if (!lm) throw new Error('the decoder has no language model');
  return p.ngramWid(lm, word) !== p.ngramUnknownWid(lm);
}
