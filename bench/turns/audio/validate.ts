import type { AgentSessionOptions } from '../../../src/agent/options.ts';
import type { STT } from '../../../src/providers/stt/contract.ts';
import type { TurnDetector } from '../../../src/providers/turn/contract.ts';
import type { VAD } from '../../../src/providers/vad/contract.ts';
import { evaluatePolicy, type OperatingPoint, type PolicyParameters } from '../sweep.ts';
import { eachConcurrently, scoreAudio } from './audio-level.ts';
import type { AudioTurn } from './clips.ts';
import { type AudioRunResult, runAudioTurn } from './session-run.ts';

/** The session's endpointing options for a swept policy (the session maps probability → delay itself). */
export function sessionEndpointing(policy: PolicyParameters): AgentSessionOptions['endpointing'] {
  return { ...policy, adaptToUser: false } as AgentSessionOptions['endpointing'];
}

/**
 * Plays every clip through a fresh real session with the detector and policy under test and reads what it did:
 * a first commit before the real end is a cut-off, otherwise its distance from the real end is the wait. The
 * sweep's prediction for the same policy is returned beside it, so a gap between model and session shows.
 */
export async function validate(
  detector: TurnDetector,
  policy: PolicyParameters,
  turns: readonly AudioTurn[],
  observations: Map<string, AudioRunResult>,
  providers: { vad: VAD; stt: STT },
  concurrency: number,
): Promise<{ measured: OperatingPoint; predicted: OperatingPoint; noCommit: number; turns: number }> {
  let cut = 0;
  let noCommit = 0;
  const waits: number[] = [];
  await eachConcurrently(turns, concurrency, async (turn) => {
    const run = await runAudioTurn(turn, {
      ...providers,
      detector,
      endpointing: sessionEndpointing(policy),
      tailMs: policy.maxDelayMs + 2500,
    });
    if (run.cutOff) cut++;
    else if (run.waitMs === undefined) noCommit++;
    else waits.push(run.waitMs);
  });
  const { scored } = await scoreAudio(detector, turns, observations);
  return {
    measured: {
      policy,
      cutoffRate: cut / turns.length,
      meanWaitMs: waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : Number.NaN,
    },
    predicted: evaluatePolicy(scored, policy),
    noCommit,
    turns: turns.length,
  };
}
