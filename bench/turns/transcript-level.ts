import { performance } from 'node:perf_hooks';
import type { ChatMessage } from '../../src/providers/llm/contract.ts';
import type { TurnDetector } from '../../src/providers/turn/contract.ts';
import type { LabelledTurn } from './dataset.ts';
import type { ScoredTurn } from './sweep.ts';

/**
 * Level 1: each labelled turn is cut at its pauses; every prefix is scored by the detector as the session would
 * score it at that pause (transcript = segments so far, history = the agent's line before the turn). The pause
 * lengths are the labelled ones and the verdict is taken as ready at once (readyMs 0): only the detector is judged.
 */

export interface DetectorCost {
  calls: number;
  /** Wall time per call, µs. */
  wallUs: number[];
  /** Process CPU (user + system, all threads) over all calls, µs: native and worker time included. */
  cpuUsTotal: number;
  /** Calls that threw or returned something outside [0, 1]; scored as 0.5 so they are counted, not hidden. */
  failures: number;
}

export function historyFor(turn: LabelledTurn): ChatMessage[] {
  return turn.agentPrompt ? [{ role: 'assistant', content: turn.agentPrompt }] : [];
}

export async function scoreTranscripts(
  detector: TurnDetector,
  turns: readonly LabelledTurn[],
  signal?: AbortSignal,
): Promise<{ scored: ScoredTurn[]; cost: DetectorCost }> {
  const cost: DetectorCost = { calls: 0, wallUs: [], cpuUsTotal: 0, failures: 0 };
  const probability = async (transcript: string, history: ChatMessage[]) => {
    signal?.throwIfAborted();
    const cpu = process.cpuUsage();
    const start = performance.now();
    let p: number;
    try {
      p = await detector.endOfTurnProbability({ transcript, history, language: 'en', signal });
    } catch {
      p = Number.NaN;
    }
    cost.wallUs.push((performance.now() - start) * 1000);
    const used = process.cpuUsage(cpu);
    cost.cpuUsTotal += used.user + used.system;
    cost.calls++;
    if (!(p >= 0 && p <= 1)) {
      cost.failures++;
      return 0.5;
    }
    return p;
  };
  const scored: ScoredTurn[] = [];
  for (const turn of turns) {
    const history = historyFor(turn);
    const holds = [];
    for (let i = 0; i < turn.pauses.length; i++) {
      const transcript = turn.segments.slice(0, i + 1).join(' ');
      holds.push({ probability: await probability(transcript, history), gapMs: turn.pauses[i], readyMs: 0 });
    }
    const end = { probability: await probability(turn.segments.join(' '), history), readyMs: 0 };
    scored.push({ id: turn.id, category: turn.category, holds, end });
  }
  return { scored, cost };
}

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.min(sorted.length - 1, lower + 1);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}
