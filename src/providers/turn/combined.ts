import { prosodyEvidence, prosodyOf, sttEvidence } from './audio-signals.ts';
import type { TurnDetector, TurnDetectorInput, TurnSignalValues } from './contract.ts';
import { otherLanguageTextLogOdds } from './language-rules.ts';
import type { LlmEndOfTurn } from './llm-signal.ts';
import { logisticLogit, logit, sigmoid } from './logistic.ts';
import { DEFAULT_NGRAM_MODEL_PATH, loadNgramModel, type NgramModel } from './ngram-native.ts';
import { textFeatures } from './text-features.ts';
import { TEXT_MODEL } from './weights.ts';

export interface CombinedTurnDetectorOptions {
  ngramModelPath: string;
  /** The LLM signal, when a real instruct model is loaded; it has its own time budget. */
  llm?: LlmEndOfTurn;
  /** Share of the final log-odds given to the LLM when it answers in time (hand-set: not fitted, see README). */
  llmWeight: number;
  /** Told once when a signal is unavailable; the others decide without it. */
  warn: (message: string) => void;
}

/**
 * The default detector: one probability from every signal there is. The text part (n-gram P(</s>), continuation
 * words, fillers, length, input modes) is a logistic regression fitted on bench/turns/dataset/dev.jsonl
 * (weights.ts, `bench/turns/fit.ts`); prosody and the STT's turn signals add hand-set log-odds
 * (audio-signals.ts); the LLM, when loaded and in time, is blended in log-odds. The fitted text part is English
 * only: in another language a hand-set rule on its continuation words and punctuation (language-rules.ts) stands
 * in for it, and the audio signals decide the rest.
 */
export class CombinedTurnDetector implements TurnDetector {
  readonly name = 'combined';
  private readonly options: CombinedTurnDetectorOptions;
  private model: NgramModel | undefined;
  private readonly loading: Promise<NgramModel | undefined>;

  constructor(options: Partial<CombinedTurnDetectorOptions> = {}) {
    this.options = {
      ngramModelPath: DEFAULT_NGRAM_MODEL_PATH,
      llmWeight: 0.5,
      warn: (message) => console.warn(message),
      ...options,
    };
    this.loading = loadNgramModel(this.options.ngramModelPath).then(
      (model) => {
        this.model = model;
        return model;
      },
      (error: unknown) => {
        this.options.warn(
          `turn detector: n-gram signal off, the other signals decide (${(error as Error).message})`,
        );
        return undefined;
      },
    );
  }

  endOfTurnProbability(input: TurnDetectorInput): number | Promise<number> {
    return this.explain(input).then((e) => e.probability);
  }

  async explain(input: TurnDetectorInput): Promise<{ probability: number; signals: TurnSignalValues }> {
    const model = this.model ?? (await this.loading);
    const signals: TurnSignalValues = {};
    let z: number;
    if (isEnglish(input.language)) {
      const features = textFeatures(input.transcript, input.history, model);
      z = logisticLogit(TEXT_MODEL, features);
      // Cloud STTs punctuate; the fit never saw punctuation, so it is a hand-set nudge.
      z += 0.8 * (features.punctuationEnd ?? 0) - 0.8 * (features.punctuationOpen ?? 0);
      signals.text = sigmoid(z);
      if (features.ngramLog10End !== undefined) signals.ngramLog10End = features.ngramLog10End;
    } else {
      // Another language: its continuation words and punctuation only (language-rules.ts), hand-set.
      z = otherLanguageTextLogOdds(input.transcript, input.language);
      signals.text = sigmoid(z);
    }
    const prosody = prosodyEvidence(prosodyOf(input));
    const stt = sttEvidence(input.stt);
    z += prosody + stt;
    signals.prosodyLogOdds = prosody;
    signals.sttLogOdds = stt;
    if (this.options.llm && input.transcript.trim()) {
      const llm = await this.options.llm.probability(input);
      if (llm !== undefined) {
        signals.llm = llm;
        z = (1 - this.options.llmWeight) * z + this.options.llmWeight * logit(llm);
      }
    }
    const probability = sigmoid(z);
    signals.probability = probability;
    return { probability, signals };
  }

  async close(): Promise<void> {
    await this.options.llm?.close();
  }
}

function isEnglish(language: string | undefined): boolean {
  return !language || /^en\b/i.test(language);
}
