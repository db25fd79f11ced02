// Types for the plain-JS module, so Node tests can import it.
export interface WaterfallStage {
  id: 'eou' | 'stt' | 'llm' | 'tts' | 'transport' | 'v2v';
  label: string;
  metric: string;
}
export interface WaterfallBar extends WaterfallStage {
  valueMs: number | null;
  startMs: number | null;
  endMs: number | null;
}
export const STAGES: readonly WaterfallStage[];
export function layoutWaterfall(
  metrics: Record<string, unknown>,
  sharedAxisMs?: number,
): {
  bars: WaterfallBar[];
  /** The end of this turn's furthest bar. */
  furthestMs: number;
  axisMs: number;
  ticks: number[];
};
/** The one axis length for a set of turns. */
export function sharedAxisMs(metricsList: readonly Record<string, unknown>[]): number;
export function niceCeiling(ms: number): number;
