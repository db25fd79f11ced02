/**
 * The scripted workload of issue 15, the one agents-js 1.9 was measured on: STT final +50 ms after the end of
 * speech, LLM TTFT 100 ms then 20 tokens at 50 tok/s, TTS TTFB 50 ms on a streaming-input TTS, 500 ms
 * endpointing. Real clock, real-time paced audio in and out, through the real AgentSession; the figure is end
 * of speech (last voiced frame) to the first audible agent sample played (`voiceToVoiceMs`).
 */

import type { ChunkStrategy } from '../../src/agent/chunker.ts';
import { PacedAudioOutput } from '../../src/agent/paced-output.ts';
import { AgentSession } from '../../src/agent/session.ts';
import { frameDurationMs, PIPELINE_SAMPLE_RATE, samplesForMs } from '../../src/audio/frame.ts';
import { ConfigSchema } from '../../src/config/config.ts';
import { type Clock, MonotonicClock } from '../../src/metrics/clock.ts';
import type { TurnMetrics } from '../../src/metrics/schema.ts';
import { ScriptedLlm } from '../../src/providers/llm/scripted.ts';
import type { STT, SttListener } from '../../src/providers/stt/contract.ts';
import { ScriptedTts } from '../../src/providers/tts/scripted.ts';
import { EnergyVad } from '../../src/providers/vad/energy.ts';

export interface WorkloadOptions {
  turns: number;
  /** Default: the configuration's default (`preemptiveGeneration` in src/config/config.ts). */
  preemptiveGeneration?: boolean;
  /** Default: what the chunker picks for a streaming-input TTS. */
  strategy?: ChunkStrategy;
  /** The TTS claims streamed input (the workload's TTS does). Default true. */
  streamingInput?: boolean;
  /** In every other turn the user pauses 350 ms mid-sentence, after the STT's final, and goes on. */
  userGoesOn?: boolean;
}

export interface WorkloadResult {
  metrics: TurnMetrics[];
  llmRequests: number;
  /** LLM requests stopped before their end: discarded preemptive replies (the user went on). */
  llmRequestsAborted: number;
}

/** 20 tokens; the first sentence ends at token 14, the first clause at token 11. */
const REPLY =
  'The next train to the city leaves at ten past nine, from platform two. It takes forty minutes from here.';
const STT_FINAL_AFTER_MS = 50;

/** Finalises the words heard so far 50 ms after the last voiced frame, whatever the VAD does (a streaming STT). */
class EndpointingStt implements STT {
  readonly name = 'scripted-final+50';
  turn = 0;
  constructor(private readonly clock: Clock) {}
  stream(listener: SttListener) {
    let cancel: (() => void) | undefined;
    let voicedSince = false;
    let lastVoicedEnd = 0;
    return {
      push: (frame: { samples: Int16Array; timestampMs: number; sampleRate: number }) => {
        const voiced = frame.samples.some((s) => Math.abs(s) > 1000);
        if (!voiced) return;
        voicedSince = true;
        lastVoicedEnd = frame.timestampMs + frameDurationMs(frame);
        cancel?.();
        const waitMs = Math.max(0, lastVoicedEnd + STT_FINAL_AFTER_MS - this.clock.now());
        cancel = this.clock.schedule(waitMs, () => {
          if (!voicedSince) return;
          voicedSince = false;
          this.turn++;
          listener.onFinal({ text: `Question number ${this.turn}?`, startMs: 0, endMs: lastVoicedEnd });
        });
      },
      flush: () => {},
      close: () => cancel?.(),
    };
  }
}

export async function runScriptedWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const clock = new MonotonicClock();
  const defaults = ConfigSchema.parse({});
  const llm = new ScriptedLlm({ clock, reply: () => REPLY, ttftMs: 100, tokensPerSecond: 50 });
  const tts = new ScriptedTts({
    clock,
    ttfbMs: 50,
    realTimeFactor: 0.1,
    streamingInput: options.streamingInput ?? true,
  });
  const session = new AgentSession({
    clock,
    vad: new EnergyVad({ minSpeechMs: 40, minSilenceMs: 260 }),
    stt: new EndpointingStt(clock),
    llm,
    tts,
    endpointing: { minDelayMs: 500, maxDelayMs: 500 },
    preemptiveGeneration: options.preemptiveGeneration ?? defaults.preemptiveGeneration,
    ...(options.strategy ? { chunker: { strategy: options.strategy } } : {}),
    providerFailure: { presynthesizeApology: false },
  });
  const output = new PacedAudioOutput({ clock, realTime: true });
  const metrics: TurnMetrics[] = [];
  session.on('metrics', (m) => metrics.push(m));
  session.on('error', ({ error }) => console.error(error));
  await session.start(output);

  const frameSamples = samplesForMs(20, PIPELINE_SAMPLE_RATE);
  const voiced = new Int16Array(frameSamples).map((_, i) => Math.round(8000 * Math.sin(i / 3)));
  const silent = new Int16Array(frameSamples);
  let fedUntil = clock.now();
  /** Feeds frames in real time: each goes in once its last sample has been "captured". */
  const feed = async (samples: Int16Array, ms: number) => {
    for (let t = 0; t < ms; t += 20) {
      const due = fedUntil + 20;
      const wait = due - clock.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      session.pushAudio({ samples, sampleRate: PIPELINE_SAMPLE_RATE, timestampMs: fedUntil });
      fedUntil = due;
    }
  };
  for (let turn = 1; turn <= options.turns; turn++) {
    await feed(silent, 200);
    await feed(voiced, 600);
    if (options.userGoesOn && turn % 2 === 0) {
      await feed(silent, 350); // after the STT's final (+50 ms), before the 500 ms commit
      await feed(voiced, 400);
    }
    const deadline = clock.now() + 10_000;
    while (metrics.length < turn && clock.now() < deadline) await feed(silent, 100);
  }
  await session.close();
  return {
    metrics,
    llmRequests: llm.requests.length,
    llmRequestsAborted: llm.requests.filter((r) => r.aborted).length,
  };
}
