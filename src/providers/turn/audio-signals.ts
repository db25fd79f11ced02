import { measureProsody } from '../../audio/prosody.ts';
import type { ProsodyFeatures, SttTurnSignals, TurnDetector, TurnDetectorInput } from './contract.ts';
import { sigmoid } from './logistic.ts';

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * Log-odds that prosody adds to the end-of-turn decision. NOT fitted: the labelled set is text, so these are
 * small hand-set priors from the phonetics of English turn ends (falling pitch, a low last pitch, fading energy,
 * a lengthened last syllable), each capped so prosody alone moves the probability by at most about ±0.3 from
 * even. 0 when the audio had too little voice to say anything.
 */
export function prosodyEvidence(p: ProsodyFeatures | undefined): number {
  if (!p || p.voicedMs < 150) return 0;
  let z = 0;
  if (p.pitchSlopeStPerSec !== null) z += -0.03 * clamp(p.pitchSlopeStPerSec, -20, 20); // ±0.6
  if (p.finalPitchSt !== null) z += -0.08 * clamp(p.finalPitchSt, -5, 5); // ±0.4
  if (p.energyDecayDb !== null) z += -0.04 * clamp(p.energyDecayDb, -10, 5); // up to +0.4
  if (p.finalLengthening !== null) z += 0.15 * clamp(p.finalLengthening - 1, -1, 1); // ±0.15
  return z;
}

/**
 * Log-odds that a cloud STT's own turn signals add. Inputs, not the decision: Deepgram's endpointer fires on
 * any 10 ms+ gap and UtteranceEnd on 1 s of no words, both of which happen inside turns. Hand-set, not fitted
 * (no cloud STT is called in tests or benchmarks).
 */
export function sttEvidence(s: SttTurnSignals | undefined): number {
  if (!s) return 0;
  return (s.endpointed ? 0.6 : 0) + (s.utteranceEnd ? 0.8 : 0);
}

/** The prosody signal alone, for the benchmark: even odds moved by {@link prosodyEvidence}. */
export class ProsodyTurnDetector implements TurnDetector {
  readonly name = 'prosody';

  endOfTurnProbability(input: TurnDetectorInput): number {
    return sigmoid(prosodyEvidence(prosodyOf(input)));
  }
}

/** The input's prosody, measured from its audio when only the audio was given. */
export function prosodyOf(input: TurnDetectorInput): ProsodyFeatures | undefined {
  if (input.prosody) return input.prosody;
  return input.audio && input.audio.length > 0 ? measureProsody(input.audio) : undefined;
}
