import type { ChatMessage } from '../llm/contract.ts';

export interface TurnDetectorInput {
  /** What the user said this turn so far. */
  transcript: string;
  history: readonly ChatMessage[];
  signal?: AbortSignal;
}

/** Semantic end-of-turn detection: how likely is it that the user has finished speaking? */
export interface TurnDetector {
  readonly name: string;
  endOfTurnProbability(input: TurnDetectorInput): number | Promise<number>;
}
