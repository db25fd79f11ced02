import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import { AgentSession } from '../src/agent/session.ts';
import { DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE, samplesForMs } from '../src/audio/frame.ts';
import { readWavFile } from '../src/audio/wav.ts';
import { VirtualClock } from '../src/metrics/clock.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import type { STT, SttStream } from '../src/providers/stt/contract.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import type { TurnDetector } from '../src/providers/turn/contract.ts';
import type { VAD, VadStream } from '../src/providers/vad/contract.ts';
import { quietNoise } from '../src/providers/vad/reference.ts';

/**
 * Real speech through a real AgentSession on the virtual clock: real VAD, real STT, the configured turn
 * detector; only the reply side is scripted. After each 20 ms frame the driver waits until the VAD and the STT
 * have processed it (their compute stays off the virtual clock, their algorithmic delays stay on it), so the
 * machine's load changes no outcome.
 */

export const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

type Idle = { idle?: () => Promise<void>; whenIdle?: () => Promise<void> };

/** Keeps hold of the streams a provider opens, to wait until they have processed what they were given. */
function tracked<P extends VAD | STT>(provider: P, streams: Idle[]): P {
  return new Proxy(provider, {
    get(target, key, receiver) {
      if (key !== 'stream') return Reflect.get(target, key, receiver);
      return (...args: unknown[]) => {
        const stream = (target.stream as (...a: unknown[]) => VadStream | SttStream)(...args);
        streams.push(stream as Idle);
        return stream;
      };
    },
  });
}

/** The clip with `pauseMs` of quiet noise inserted at `splitMs`, then `tailMs` of it after the end. */
export async function clipWithPause(file: string, splitMs: number, pauseMs: number, tailMs: number) {
  const wav = await readWavFile(`${LIBRIVOX}/${file}`);
  if (wav.sampleRate !== PIPELINE_SAMPLE_RATE) throw new Error(`${file}: expected 16 kHz`);
  const split = samplesForMs(splitMs, PIPELINE_SAMPLE_RATE);
  const pause = quietNoise(pauseMs, 3);
  const tail = quietNoise(tailMs, 5);
  const out = new Int16Array(wav.samples.length + pause.length + tail.length);
  out.set(wav.samples.subarray(0, split), 0);
  out.set(pause, split);
  out.set(wav.samples.subarray(split), split + pause.length);
  out.set(tail, wav.samples.length + pause.length);
  return { samples: out, speechEndMs: (wav.samples.length * 1000) / PIPELINE_SAMPLE_RATE + pauseMs };
}

export interface SpokenTurnResult {
  commits: { transcript: string; atMs: number }[];
  finals: { text: string; atMs: number }[];
  replies: number;
  userMessages: string[];
  errors: unknown[];
  metrics: TurnMetrics[];
  /** Commits taken back because the user resumed right at them (turn-merge.ts). */
  merged: { transcript: string; onsetMs: number; heardMs: number }[];
  /** Each reply's outcome, in order. */
  outcomes: string[];
}

export async function speakToSession(
  samples: Int16Array,
  providers: { vad: VAD; stt: STT; turnDetector: TurnDetector; endpointing?: object },
): Promise<SpokenTurnResult> {
  const clock = new VirtualClock();
  const streams: Idle[] = [];
  const llmRequests: (readonly ChatMessage[])[] = [];
  const session = new AgentSession({
    vad: tracked(providers.vad, streams),
    stt: tracked(providers.stt, streams),
    llm: new ScriptedLlm({
      clock,
      ttftMs: 200,
      reply: (messages) => {
        llmRequests.push(messages);
        return 'I see.';
      },
    }),
    tts: new ScriptedTts({ clock, ttfbMs: 100 }),
    turnDetector: providers.turnDetector,
    endpointing: providers.endpointing,
    clock,
    sessionId: 'turn-pause',
    preemptiveGeneration: false,
    providerFailure: { presynthesizeApology: false },
  });
  const result: SpokenTurnResult = {
    commits: [],
    finals: [],
    replies: 0,
    userMessages: [],
    errors: [],
    metrics: [],
    merged: [],
    outcomes: [],
  };
  session.on('turnMerged', (e) => result.merged.push(e));
  session.on('speechEnded', (e) => result.outcomes.push(e.outcome));
  session.on('turnCommitted', (e) => result.commits.push({ transcript: e.transcript, atMs: e.atMs }));
  session.on('transcript', (e) => {
    if (e.final) result.finals.push({ text: e.text, atMs: e.atMs });
  });
  session.on('error', (e) => result.errors.push(e));
  session.on('metrics', (m) => result.metrics.push(m));
  await session.start(new PacedAudioOutput({ clock }));
  const frame = samplesForMs(DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE);
  try {
    for (let at = 0; at + frame <= samples.length; at += frame) {
      const timestampMs = (at * 1000) / PIPELINE_SAMPLE_RATE;
      await clock.advanceTo(timestampMs + DEFAULT_FRAME_MS);
      session.pushAudio({
        samples: samples.slice(at, at + frame),
        sampleRate: PIPELINE_SAMPLE_RATE,
        timestampMs,
      });
      for (const s of streams) await (s.idle?.() ?? s.whenIdle?.());
      await clock.advance(0);
    }
    await clock.advance(5000);
    result.replies = llmRequests.length;
    result.userMessages = session.history
      .toMessages()
      .filter((m) => m.role === 'user')
      .map((m) => m.content);
  } finally {
    await session.close();
  }
  return result;
}
