import { writeFile } from 'node:fs/promises';
import { PacedAudioOutput } from '../../agent/paced-output.ts';
import type { AgentSession } from '../../agent/session.ts';
import {
  concatSamples,
  DEFAULT_FRAME_MS,
  PIPELINE_SAMPLE_RATE,
  samplesForMs,
  splitIntoFrames,
} from '../../audio/frame.ts';
import { Resampler } from '../../audio/resampler.ts';
import { encodeWav, type WavAudio } from '../../audio/wav.ts';
import type { TurnMetrics } from '../../metrics/schema.ts';

export interface FileConversationOptions {
  /** `realtime` feeds the WAV at the speed it was recorded; `fast` feeds it as fast as the pipeline takes it. */
  pace?: 'realtime' | 'fast';
  /** After the input ends, keep feeding silence until the agent has been idle this long. */
  idleTailMs?: number;
  /** Give up waiting for the agent after this much time past the end of the input. */
  maxTailMs?: number;
  /** Something the agent says as the conversation starts (e.g. a notice). */
  greeting?: string;
}

export interface FileConversationResult {
  /** The agent's audio placed on the conversation's timeline (silence where it did not speak). */
  reply: WavAudio;
  metrics: TurnMetrics[];
}

/**
 * The file transport: plays a WAV into a session as a microphone would, records what the agent says on the
 * same timeline, and collects the per-turn metrics.
 */
export async function runFileConversation(
  session: AgentSession,
  input: WavAudio,
  options: FileConversationOptions = {},
): Promise<FileConversationResult> {
  const { pace = 'realtime', idleTailMs = 3000, maxTailMs = 60_000 } = options;
  const clock = session.clock;
  const output = new PacedAudioOutput({ clock, keepAudio: true });
  const metrics: TurnMetrics[] = [];
  const offMetrics = session.on('metrics', (m) => metrics.push(m));
  await session.start(output);
  // The agent greets first, as on a call; the file's speech follows, so the greeting is heard whole.
  if (options.greeting) await session.say(options.greeting);

  const samples = await Resampler.resampleClip(input.samples, input.sampleRate, PIPELINE_SAMPLE_RATE);
  const startMs = clock.now();
  let fedMs = 0;
  const pushFrame = (frameSamples: Int16Array) => {
    // Real time: a frame arrives when its last sample is captured. Fast: stamped on arrival, so the pipeline's
    // timers and the audio agree on one clock even when the audio runs faster than time.
    const timestampMs = pace === 'realtime' ? startMs + fedMs : clock.now() - DEFAULT_FRAME_MS;
    session.pushAudio({ samples: frameSamples, sampleRate: PIPELINE_SAMPLE_RATE, timestampMs });
    fedMs += DEFAULT_FRAME_MS;
  };
  const waitForNextFrame = async () => {
    if (pace === 'realtime') await clock.sleep(Math.max(0, startMs + fedMs + DEFAULT_FRAME_MS - clock.now()));
    else await new Promise((resolve) => setImmediate(resolve));
  };

  for (const frame of splitIntoFrames(samples, PIPELINE_SAMPLE_RATE)) {
    await waitForNextFrame();
    pushFrame(frame.samples);
  }

  const silentFrame = new Int16Array(samplesForMs(DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE));
  const inputEndMs = clock.now();
  let idleSince = clock.now();
  while (clock.now() - inputEndMs < maxTailMs) {
    // Idle means nothing left to answer: not while a turn waits for its transcript or its end-of-turn delay.
    if (session.state !== 'listening' || session.isTurnPending) idleSince = clock.now();
    else if (clock.now() - idleSince >= idleTailMs) break;
    await clock.sleep(Math.max(0, startMs + fedMs + DEFAULT_FRAME_MS - clock.now()));
    const timestampMs = startMs + fedMs;
    session.pushAudio({ samples: silentFrame, sampleRate: PIPELINE_SAMPLE_RATE, timestampMs });
    fedMs += DEFAULT_FRAME_MS;
  }
  await session.close(); // a reply still playing is cut here, and its turn's metrics still arrive
  offMetrics();
  return { reply: replyTimeline(output, startMs), metrics };
}

function replyTimeline(output: PacedAudioOutput, startMs: number): WavAudio {
  const sampleRate = output.played[0]?.sampleRate ?? PIPELINE_SAMPLE_RATE;
  const chunks: Int16Array[] = [];
  let cursor = 0;
  for (const frame of output.played) {
    if (!frame.samples) continue;
    const at = Math.round(((frame.startMs - startMs) * sampleRate) / 1000);
    if (at > cursor) chunks.push(new Int16Array(at - cursor));
    chunks.push(frame.samples);
    cursor = Math.max(cursor, at) + frame.samples.length;
  }
  return { samples: concatSamples(chunks), sampleRate };
}

export async function writeConversationFiles(
  result: FileConversationResult,
  paths: { replyWav: string; metricsJson?: string },
): Promise<void> {
  await writeFile(paths.replyWav, encodeWav(result.reply.samples, result.reply.sampleRate));
  if (paths.metricsJson) await writeFile(paths.metricsJson, `${JSON.stringify(result.metrics, null, 2)}\n`);
}
