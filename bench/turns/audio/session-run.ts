import type { AgentSessionOptions } from '../../../src/agent/options.ts';
import { PacedAudioOutput } from '../../../src/agent/paced-output.ts';
import { AgentSession } from '../../../src/agent/session.ts';
import { DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE, samplesForMs } from '../../../src/audio/frame.ts';
import { VirtualClock } from '../../../src/metrics/clock.ts';
import { ScriptedLlm } from '../../../src/providers/llm/scripted.ts';
import type { STT } from '../../../src/providers/stt/contract.ts';
import { ScriptedTts } from '../../../src/providers/tts/scripted.ts';
import type { TurnDetector } from '../../../src/providers/turn/contract.ts';
import type { VAD } from '../../../src/providers/vad/contract.ts';
import { quietNoise } from '../../../src/providers/vad/reference.ts';
import type { AudioTurn } from './clips.ts';
import {
  type DetectorCall,
  ObservedDetector,
  ObservedStt,
  ObservedVad,
  type VadObservation,
} from './observed-providers.ts';

/**
 * Level 2 driver: one audio turn through a real `AgentSession` (its turn tracker, endpointing and input path) on
 * the virtual clock, with the real VAD and STT. Frames go in every 20 ms of session time, as from a microphone;
 * after each, the driver waits until the VAD and the STT have processed it, so a loaded machine changes no
 * figure. The reply side (LLM, TTS) is scripted: nothing after the commit is measured. The run stops at the first
 * commit, or `tailMs` after the real end when nothing was committed.
 */

export interface AudioRunOptions {
  vad: VAD;
  stt: STT;
  detector: TurnDetector;
  /** Endpointing options for the session (the policy under test). */
  endpointing?: AgentSessionOptions['endpointing'];
  /** Silence fed after the real end, at most, ms. */
  tailMs: number;
}

export interface AudioRunResult {
  id: string;
  /** Session time of the first commit, from the start of the clip; undefined when none came. */
  committedAtMs: number | undefined;
  /** The first commit came before the real end: the user was cut off. */
  cutOff: boolean;
  /** Commit − real end (when not cut off), ms. */
  waitMs: number | undefined;
  transcript: string;
  vadEvents: VadObservation[];
  finals: { text: string; atMs: number }[];
  detectorCalls: DetectorCall[];
}

export async function runAudioTurn(turn: AudioTurn, options: AudioRunOptions): Promise<AudioRunResult> {
  const clock = new VirtualClock();
  const vad = new ObservedVad(options.vad, clock);
  const stt = new ObservedStt(options.stt, clock);
  const detector = new ObservedDetector(options.detector, clock);
  const session = new AgentSession({
    vad,
    stt,
    llm: new ScriptedLlm({ clock, reply: () => 'Okay.', ttftMs: 300 }),
    tts: new ScriptedTts({ clock, ttfbMs: 100 }),
    clock,
    sessionId: turn.id,
    turnDetector: detector,
    endpointing: options.endpointing,
    providerFailure: { presynthesizeApology: false },
    preemptiveGeneration: false,
  });
  let committed: { atMs: number; transcript: string } | undefined;
  session.on('turnCommitted', (event) => {
    committed ??= { atMs: event.atMs, transcript: event.transcript };
  });
  await session.start(new PacedAudioOutput({ clock }));
  const frameSamples = samplesForMs(DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE);
  const tail = quietNoise(options.tailMs + DEFAULT_FRAME_MS, 11);
  const totalMs = turn.endMs + options.tailMs;
  try {
    for (let fed = 0; fed < totalMs && !committed; fed += DEFAULT_FRAME_MS) {
      const offset = Math.round((fed * PIPELINE_SAMPLE_RATE) / 1000);
      const fromClip = turn.samples.subarray(offset, offset + frameSamples);
      const samples = new Int16Array(frameSamples);
      samples.set(fromClip);
      if (fromClip.length < frameSamples) {
        const tailOffset = Math.max(0, offset - turn.samples.length);
        samples.set(tail.subarray(tailOffset + fromClip.length, tailOffset + frameSamples), fromClip.length);
      }
      await clock.advanceTo(fed + DEFAULT_FRAME_MS);
      session.pushAudio({ samples, sampleRate: PIPELINE_SAMPLE_RATE, timestampMs: fed });
      await vad.settled();
      await stt.settled();
      await clock.advance(0);
    }
  } finally {
    await session.close();
  }
  const committedAtMs = committed?.atMs;
  // A commit a hair before the labelled end is the VAD placing the end early, not a cut-off.
  const cutOff = committedAtMs !== undefined && committedAtMs < turn.endMs - 100;
  return {
    id: turn.id,
    committedAtMs,
    cutOff,
    waitMs: committedAtMs === undefined || cutOff ? undefined : Math.max(0, committedAtMs - turn.endMs),
    transcript: committed?.transcript ?? '',
    vadEvents: vad.events,
    finals: stt.finals,
    detectorCalls: detector.calls,
  };
}
