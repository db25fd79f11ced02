import type { TurnDetector } from './contract.ts';
import { FixedTurnDetector } from './fixed.ts';
import { HeuristicTurnDetector } from './heuristic.ts';

/** What some detectors need from outside; each is optional and a detector that lacks its input says so. */
export interface TurnDetectorDeps {
  /** Told once when a signal is unavailable (model file missing) and the detector goes on without it. */
  warn?: (message: string) => void;
}

export const TURN_DETECTOR_SPECS = ['fixed', 'wordlist'] as const;

/**
 * A turn detector from its spec string: `fixed` (or `fixed:0.7`, the fixed-delay VAD baseline), `wordlist` (the
 * old list of continuation words; `heuristic` is an alias).
 */
export function createTurnDetector(spec: string, _deps: TurnDetectorDeps = {}): TurnDetector {
  const [kind, argument] = splitSpec(spec);
  switch (kind) {
    case 'fixed':
      return new FixedTurnDetector(argument === undefined ? 0.5 : Number(argument));
    case 'wordlist':
    case 'heuristic':
      return new HeuristicTurnDetector();
    default:
      throw new Error(`unknown turn detector "${spec}"; expected one of ${TURN_DETECTOR_SPECS.join(', ')}`);
  }
}

function splitSpec(spec: string): [string, string | undefined] {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  return colon < 0 ? [trimmed, undefined] : [trimmed.slice(0, colon), trimmed.slice(colon + 1)];
}
