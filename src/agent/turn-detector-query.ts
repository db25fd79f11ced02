import type { TurnDetector, TurnDetectorInput, TurnSignalValues } from '../providers/turn/contract.ts';

/**
 * Asks a turn detector for its end-of-turn probability and hands over the answer: synchronously when the detector
 * answers synchronously (the commit is armed in the same tick), later when it is asynchronous. A detector that
 * throws, rejects or answers something other than a finite number is reported, and `fallback` answers instead.
 */
export function queryTurnDetector(
  detector: TurnDetector,
  fallback: TurnDetector,
  input: TurnDetectorInput,
  onProbability: (probability: number, signals?: TurnSignalValues) => void,
  onError: (error: unknown) => void,
): void {
  let failed = false;
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    try {
      onError(error);
    } catch {
      // a listener's fault must not stop the turn
    }
    onProbability(fallback.endOfTurnProbability(input) as number);
  };
  const accept = (value: unknown, signals?: TurnSignalValues) => {
    if (typeof value === 'number' && Number.isFinite(value)) onProbability(value, signals);
    else fail(new TypeError(`turn detector ${detector.name} returned ${String(value)}`));
  };
  try {
    if (detector.explain) {
      detector.explain(input).then((e) => accept(e?.probability, e?.signals), fail);
    } else {
      const result = detector.endOfTurnProbability(input);
      if (result instanceof Promise) result.then((p) => accept(p), fail);
      else accept(result);
    }
  } catch (error) {
    fail(error);
  }
}
