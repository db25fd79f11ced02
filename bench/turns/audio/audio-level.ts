import { performance } from 'node:perf_hooks';
import type { STT } from '../../../src/providers/stt/contract.ts';
import type { TurnDetector } from '../../../src/providers/turn/contract.ts';
import type { VAD } from '../../../src/providers/vad/contract.ts';
import type { DecisionPoint, ScoredTurn } from '../sweep.ts';
import type { DetectorCost } from '../transcript-level.ts';
import type { AudioTurn } from './clips.ts';
import { type AudioRunResult, runAudioTurn } from './session-run.ts';

/**
 * Level 2, swept. One observation run per clip through the real session records where the VAD placed each pause,
 * when the user was heard again, and every question the session put to its detector (with the transcript and
 * audio features it had then). The session is told to wait far longer than any pause, so it never commits early
 * and every pause gets asked about. Each detector then answers those same questions, and each policy of the sweep
 * is applied to the answers with the session's own rule: a verdict's commit falls at max(when the verdict was
 * ready, last voiced audio + delay), and a later verdict in the same pause replaces a pending one.
 * The chosen operating points are then run through the real session for real (see `validate`).
 */

/** Longer than any pause of the set: the observation session commits nothing before the real end. */
export const OBSERVE_ENDPOINTING = { minDelayMs: 9000, maxDelayMs: 9000 };
/** What the session does when no final transcript comes: it gives the turn up after this (finalTranscriptTimeoutMs). */
const NO_VERDICT_MS = 2000;

export async function observe(
  turns: readonly AudioTurn[],
  providers: { vad: VAD; stt: STT; detector: TurnDetector },
  concurrency: number,
  onProgress?: (done: number) => void,
): Promise<Map<string, AudioRunResult>> {
  const out = new Map<string, AudioRunResult>();
  await eachConcurrently(turns, concurrency, async (turn) => {
    out.set(
      turn.id,
      await runAudioTurn(turn, { ...providers, endpointing: OBSERVE_ENDPOINTING, tailMs: 1500 }),
    );
    onProgress?.(out.size);
  });
  return out;
}

/**
 * Runs `work` over `items`, at most `concurrency` at a time. Each session has its own virtual clock and waits
 * only for its own streams, so sessions side by side cannot change each other's figures, only the wall time.
 */
export async function eachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

interface Pause {
  lastVoicedMs: number;
  /** When the session heard the user again; Infinity for the END. */
  resumedAtMs: number;
  isEnd: boolean;
}

/** The pauses the session saw: each VAD end, up to the next start it noticed; the first one not resumed before the real end is the END. */
export function pausesOf(run: AudioRunResult, turn: AudioTurn): Pause[] {
  const pauses: Pause[] = [];
  const events = run.vadEvents;
  for (let i = 0; i < events.length; i++) {
    if (events[i].kind !== 'end') continue;
    const next = events.slice(i + 1).find((e) => e.kind === 'start');
    const resumedBeforeEnd = next !== undefined && next.atMs < turn.endMs - 100;
    if (resumedBeforeEnd) {
      pauses.push({ lastVoicedMs: events[i].atMs, resumedAtMs: next.noticedAtMs, isEnd: false });
    } else {
      pauses.push({ lastVoicedMs: events[i].atMs, resumedAtMs: Number.POSITIVE_INFINITY, isEnd: true });
      break;
    }
  }
  return pauses;
}

export async function scoreAudio(
  detector: TurnDetector,
  turns: readonly AudioTurn[],
  runs: Map<string, AudioRunResult>,
): Promise<{ scored: ScoredTurn[]; cost: DetectorCost; noEnd: number }> {
  const cost: DetectorCost = { calls: 0, wallUs: [], cpuUsTotal: 0, failures: 0 };
  const scored: ScoredTurn[] = [];
  let noEnd = 0;
  for (const turn of turns) {
    const run = runs.get(turn.id);
    if (!run) throw new Error(`no observation for ${turn.id}`);
    const holds: DecisionPoint[] = [];
    let end: DecisionPoint | undefined;
    for (const pause of pausesOf(run, turn)) {
      const calls = run.detectorCalls.filter(
        (c) => c.atMs >= pause.lastVoicedMs && c.atMs < pause.resumedAtMs,
      );
      const verdicts: { probability: number; readyMs: number; atMs: number }[] = [];
      for (const call of calls) {
        const cpu = process.cpuUsage();
        const start = performance.now();
        let p: number;
        try {
          p = await detector.endOfTurnProbability(call.input);
        } catch {
          p = Number.NaN;
        }
        const wallMs = performance.now() - start;
        const used = process.cpuUsage(cpu);
        cost.calls++;
        cost.wallUs.push(wallMs * 1000);
        cost.cpuUsTotal += used.user + used.system;
        if (!(p >= 0 && p <= 1)) {
          cost.failures++;
          p = 1; // as the session treats a failing detector: the shortest wait
        }
        verdicts.push({ probability: p, readyMs: call.atMs + wallMs - pause.lastVoicedMs, atMs: call.atMs });
      }
      const last = verdicts.at(-1);
      const point: DecisionPoint = last
        ? {
            probability: last.probability,
            readyMs: last.readyMs,
            askedMs: last.atMs - pause.lastVoicedMs,
            earlier: verdicts.slice(0, -1).map((v, i) => ({
              probability: v.probability,
              readyMs: v.readyMs,
              replacedAtMs: verdicts[i + 1].atMs - pause.lastVoicedMs,
            })),
          }
        : { probability: 0, readyMs: pause.isEnd ? NO_VERDICT_MS : Number.POSITIVE_INFINITY };
      if (pause.isEnd) {
        if (!last) noEnd++;
        end = { ...point, waitOffsetMs: turn.endMs - pause.lastVoicedMs };
      } else {
        holds.push({ ...point, gapMs: pause.resumedAtMs - pause.lastVoicedMs });
      }
    }
    if (!end) {
      noEnd++;
      end = { probability: 0, readyMs: NO_VERDICT_MS, waitOffsetMs: 0 };
    }
    scored.push({ id: turn.id, category: turn.category, holds, end });
  }
  return { scored, cost, noEnd };
}
