import { describe, expect, it } from 'vitest';
import { PIPELINE_SAMPLE_RATE, samplesForMs } from '../audio/frame.ts';
import { VirtualClock } from '../metrics/clock.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import { ScriptedStt, wordsBetween } from '../providers/stt/scripted.ts';
import { ScriptedTts } from '../providers/tts/scripted.ts';
import type { VAD } from '../providers/vad/contract.ts';
import { ScriptedVad } from '../providers/vad/scripted.ts';
import { PacedAudioOutput } from './paced-output.ts';
import { AgentSession } from './session.ts';

const LEAD_IN_MS = 200;

/**
 * One spoken turn through the real AgentSession on a virtual clock, answered by a TTS that starts every segment
 * with 200 ms of zeros produced 5x faster than real time (as a local engine does), into a paced output that
 * plays each frame in real time after the one before, so quiet audio in front would delay the sound.
 */
async function oneTurn(outputLatencyMs = 0) {
  const clock = new VirtualClock();
  const tts = new ScriptedTts({ clock, ttfbMs: 50, realTimeFactor: 0.2, leadingSilenceMs: LEAD_IN_MS });
  const output = new PacedAudioOutput({ clock, keepAudio: true, latencyMs: outputLatencyMs });
  const session = new AgentSession({
    clock,
    vad: new ScriptedVad({ speech: [{ startMs: 500, endMs: 1500 }], minSilenceMs: 200 }),
    stt: new ScriptedStt({ clock, words: wordsBetween('What time is it?', 500, 1500), finalDelayMs: 50 }),
    llm: new ScriptedLlm({
      clock,
      reply: () => 'It is noon right now. The sun is high in the sky.',
      ttftMs: 100,
    }),
    tts,
    endpointing: { minDelayMs: 500, maxDelayMs: 500 },
    providerFailure: { presynthesizeApology: false },
  });
  const metrics: TurnMetrics[] = [];
  session.on('metrics', (m) => metrics.push(m));
  await session.start(output);
  const frameSamples = samplesForMs(20, PIPELINE_SAMPLE_RATE);
  for (let t = 0; t < 6000; t += 20) {
    await clock.advanceTo(t + 20);
    session.pushAudio({
      samples: new Int16Array(frameSamples),
      sampleRate: PIPELINE_SAMPLE_RATE,
      timestampMs: t,
    });
  }
  await session.close();
  return { tts, output, metrics };
}

const firstLoudSampleAt = (frames: PacedAudioOutput['played']) => {
  for (const frame of frames) {
    const samples = frame.samples ?? new Int16Array(0);
    const index = samples.findIndex((s) => Math.abs(s) >= 328); // -40 dBFS
    if (index >= 0) return frame.startMs + (index * 1000) / frame.sampleRate;
  }
  return undefined;
};

describe('ear-level timing', () => {
  it('a TTS stream with 200 ms of leading silence: its first audible sample reaches the output within 5 ms', async () => {
    const { tts, output, metrics } = await oneTurn();
    const synthesizedAt = tts.firstAudibleAt[0];
    expect(synthesizedAt).toBeDefined();
    const heardAt = firstLoudSampleAt(output.played);
    expect(heardAt).toBeDefined();
    expect((heardAt as number) - synthesizedAt).toBeGreaterThanOrEqual(0);
    expect((heardAt as number) - synthesizedAt).toBeLessThanOrEqual(5);
    // The quiet in front of the first sound is gone, down to the 5 ms pre-roll.
    const firstPlayed = output.played[0];
    expect(firstLoudSampleAt([firstPlayed])).toBeLessThanOrEqual(firstPlayed.startMs + 5);

    const [m] = metrics;
    // ttfb: the engine's first (quiet) frame; ttfa: the frame with sound, 200 ms of audio at 5x = 40 ms later.
    expect(m.ttsTtfbMs).toBe(50);
    expect(m.ttsTtfaMs).toBe(90);
    // voice-to-voice ends at the first audible sample heard, pre-roll included.
    expect(m.voiceToVoiceMs).toBeCloseTo((heardAt as number) - 1500, 0);
    expect(m.pipelineOverheadMs).toBeGreaterThanOrEqual(0);
    expect(m.pipelineOverheadMs).toBeLessThan(5);
  });

  it('a later sentence keeps a short pause: the second segment plays with its lead-in cut to about 120 ms', async () => {
    const { output } = await oneTurn();
    // The longest quiet run inside what was heard is the pause between the two sentences' tones.
    let run = 0;
    let longest = 0;
    for (const frame of output.played) {
      for (const sample of frame.samples ?? []) {
        run = Math.abs(sample) < 328 ? run + 1 : 0;
        longest = Math.max(longest, run);
      }
    }
    longest = (longest * 1000) / PIPELINE_SAMPLE_RATE;
    expect(longest).toBeGreaterThanOrEqual(100);
    expect(longest).toBeLessThanOrEqual(140);
  });

  it('ear-level voice-to-voice includes the transport: the same turn through a 40 ms output is 40 ms later', async () => {
    const near = (await oneTurn(0)).metrics[0];
    const far = (await oneTurn(40)).metrics[0];
    expect((far.voiceToVoiceMs as number) - (near.voiceToVoiceMs as number)).toBeCloseTo(40, 0);
    expect(far.transportMs).toBe(40);
  });
});

/** The story is cut at 5000 ms by "Stop!"; the VAD reports `lookBackMs` of look-back on each speech start. */
async function interruptedStory(lookBackMs: number | undefined) {
  const clock = new VirtualClock();
  const scripted = new ScriptedVad({
    speech: [
      { startMs: 500, endMs: 1500 },
      { startMs: 5000, endMs: 5400 },
    ],
    minSilenceMs: 200,
  });
  const vad: VAD = {
    name: 'look-back',
    stream: (listener) =>
      scripted.stream({
        ...listener,
        onSpeechStart: (event) => listener.onSpeechStart({ ...event, lookBackMs }),
      }),
  };
  const words = [...wordsBetween('Tell me a story.', 500, 1500), ...wordsBetween('Stop!', 5000, 5400)];
  const session = new AgentSession({
    clock,
    vad,
    stt: new ScriptedStt({ clock, words, finalDelayMs: 50 }),
    llm: new ScriptedLlm({
      clock,
      reply: (messages) =>
        messages.at(-1)?.content === 'Stop!' ? 'Okay.' : 'Once upon a time there was a fox. '.repeat(8),
      ttftMs: 100,
    }),
    tts: new ScriptedTts({ clock, ttfbMs: 50, realTimeFactor: 0.2 }),
    interruption: { minWords: 0 },
    providerFailure: { presynthesizeApology: false },
  });
  const metrics: TurnMetrics[] = [];
  session.on('metrics', (m) => metrics.push(m));
  await session.start(new PacedAudioOutput({ clock }));
  const frameSamples = samplesForMs(20, PIPELINE_SAMPLE_RATE);
  for (let t = 0; t < 8000; t += 20) {
    await clock.advanceTo(t + 20);
    session.pushAudio({
      samples: new Int16Array(frameSamples),
      sampleRate: PIPELINE_SAMPLE_RATE,
      timestampMs: t,
    });
  }
  await session.close();
  return metrics.find((m) => m.outcome === 'interrupted');
}

describe('interruptionStopMs', () => {
  it('starts at the VAD onset less the look-back the VAD reports', async () => {
    const plain = await interruptedStory(undefined);
    const padded = await interruptedStory(100);
    expect(plain?.interruptionStopMs).not.toBeNull();
    expect(plain?.interruptionStopMs).toBeLessThanOrEqual(20);
    expect((padded?.interruptionStopMs as number) - (plain?.interruptionStopMs as number)).toBe(100);
  });
});
