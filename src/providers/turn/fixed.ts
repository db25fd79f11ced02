import type { TurnDetector } from './contract.ts';

/**
 * The fixed-delay VAD baseline: the same probability whatever was said, so the endpointing policy waits the same
 * silence after every utterance. The comparison row of the turn benchmark.
 */
export class FixedTurnDetector implements TurnDetector {
  readonly name = 'fixed';

  constructor(private readonly probability = 0.5) {
    if (!(probability >= 0 && probability <= 1)) {
      throw new RangeError(`fixed turn detector: probability must be in [0, 1], got ${probability}`);
    }
  }

  endOfTurnProbability(): number {
    return this.probability;
  }
}
