import type { LlamaModel } from 'node-llama-cpp';
import { ProsodyTurnDetector } from './audio-signals.ts';
import { CombinedTurnDetector } from './combined.ts';
import type { TurnDetector } from './contract.ts';
import { FixedTurnDetector } from './fixed.ts';
import { HeuristicTurnDetector } from './heuristic.ts';
import { LlmEndOfTurn, type LlmEndOfTurnOptions, LlmTurnDetector } from './llm-signal.ts';
import { NgramTurnDetector } from './ngram.ts';
import { DEFAULT_NGRAM_MODEL_PATH } from './ngram-native.ts';

/** What some detectors need from outside; each is optional and a detector that lacks its input says so. */
export interface TurnDetectorDeps {
  /** Told once when a signal is unavailable (model file missing) and the detector goes on without it. */
  warn?: (message: string) => void;
  /** The en-us trigram model. Default Debian's pocketsphinx-en-us `en-us.lm.bin`. */
  ngramModelPath?: string;
  /** A loaded llama.cpp model: enables the `llm` signal (alone, or inside `combined`). */
  llamaModel?: LlamaModel;
  /** Options of the LLM signal (time budget, threads, context size). */
  llm?: Partial<Omit<LlmEndOfTurnOptions, 'model'>>;
  /** Share of the log-odds the LLM gets inside `combined`. Default 0.5. */
  llmWeight?: number;
}

export const TURN_DETECTOR_SPECS = ['combined', 'fixed', 'wordlist', 'ngram', 'prosody', 'llm'] as const;

/**
 * A turn detector from its spec string:
 * - `combined` (the default): every available signal in one calibrated probability (combined.ts);
 * - `fixed` or `fixed:0.7`: a constant, the fixed-delay VAD baseline;
 * - `wordlist` (alias `heuristic`): the old list of continuation words;
 * - `ngram`: the en-us trigram model's P(end of sentence), calibrated on dev.jsonl;
 * - `prosody`: pitch, energy and lengthening of the turn's audio;
 * - `llm`: the loaded GGUF's probability of ending the user message (needs `deps.llamaModel`).
 */
export function createTurnDetector(spec: string, deps: TurnDetectorDeps = {}): TurnDetector {
  const [kind, argument] = splitSpec(spec);
  const ngramModelPath = deps.ngramModelPath ?? DEFAULT_NGRAM_MODEL_PATH;
  const llm = () => (deps.llamaModel ? new LlmEndOfTurn({ ...deps.llm, model: deps.llamaModel }) : undefined);
  switch (kind) {
    case 'fixed': {
      const probability = argument === undefined ? 0.5 : Number(argument);
      return new FixedTurnDetector(probability);
    }
    case 'wordlist':
    case 'heuristic':
      return new HeuristicTurnDetector();
    case 'ngram':
      return new NgramTurnDetector(ngramModelPath);
    case 'prosody':
      return new ProsodyTurnDetector();
    case 'llm': {
      const signal = llm();
      if (!signal) throw new Error('the llm turn detector needs a loaded llama.cpp model (deps.llamaModel)');
      return new LlmTurnDetector(signal);
    }
    case 'combined':
      return new CombinedTurnDetector({
        ngramModelPath,
        llm: llm(),
        ...(deps.llmWeight === undefined ? {} : { llmWeight: deps.llmWeight }),
        ...(deps.warn ? { warn: deps.warn } : {}),
      });
    default:
      throw new Error(`unknown turn detector "${spec}"; expected one of ${TURN_DETECTOR_SPECS.join(', ')}`);
  }
}

function splitSpec(spec: string): [string, string | undefined] {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  return colon < 0 ? [trimmed, undefined] : [trimmed.slice(0, colon), trimmed.slice(colon + 1)];
}
