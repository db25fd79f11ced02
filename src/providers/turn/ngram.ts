import type { TurnDetector, TurnDetectorInput } from './contract.ts';
import { logisticProbability } from './logistic.ts';
import { DEFAULT_NGRAM_MODEL_PATH, loadNgramModel, type NgramModel } from './ngram-native.ts';
import { ngramFeatures, tokenize } from './text-features.ts';
import { NGRAM_MODEL } from './weights.ts';

/**
 * The n-gram signal alone: log P(</s> | last two words) under Debian's en-us trigram model, calibrated into a
 * probability by a logistic fit on the dev split (weights.ts). About 15 µs per call on the event loop, after a
 * one-off 0.2 s model read on a worker thread shared by the whole process.
 */
export class NgramTurnDetector implements TurnDetector {
  readonly name = 'ngram';
  private model: NgramModel | undefined;
  private readonly loading: Promise<NgramModel>;

  constructor(path = DEFAULT_NGRAM_MODEL_PATH) {
    this.loading = loadNgramModel(path);
    this.loading.then(
      (model) => {
        this.model = model;
      },
      () => {}, // reported to the caller of endOfTurnProbability, not as an unhandled rejection
    );
  }

  /** The model, once read; rejects with a clear error when the file or library is missing. */
  ready(): Promise<NgramModel> {
    return this.loading;
  }

  endOfTurnProbability({ transcript }: TurnDetectorInput): number | Promise<number> {
    const score = (model: NgramModel) =>
      logisticProbability(NGRAM_MODEL, ngramFeatures(model, tokenize(transcript)));
    return this.model ? score(this.model) : this.loading.then(score);
  }
}
