import { PIPELINE_SAMPLE_RATE, samplesForMs } from '../audio/frame.ts';
import { VirtualClock } from '../metrics/clock.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { ChatMessage, LLM } from '../providers/llm/contract.ts';
import { ScriptedLlm, type ScriptedReply } from '../providers/llm/scripted.ts';
import { ScriptedStt, type ScriptedWord, wordsBetween } from '../providers/stt/scripted.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { ScriptedTts, type ScriptedTtsOptions } from '../providers/tts/scripted.ts';
import { ScriptedVad } from '../providers/vad/scripted.ts';
import type { AgentSessionEvents, AgentState } from './events.ts';
import type { AgentSessionOptions } from './options.ts';
import { PacedAudioOutput } from './paced-output.ts';
import { AgentSession } from './session.ts';

export interface Utterance {
  startMs: number;
  endMs: number;
  /** Words spread evenly over the span; omit for noise the STT hears nothing in. */
  text?: string;
}

export interface TimelineOptions {
  user: Utterance[];
  reply: (messages: readonly ChatMessage[]) => ScriptedReply | string;
  llm?: { ttftMs?: number; tokensPerSecond?: number };
  tts?: Omit<ScriptedTtsOptions, 'clock'>;
  stt?: { finalDelayMs?: number; interimDelayMs?: number };
  /** `minSpeechMs`, `lookBackMs`: a start confirmed late and placed late, as a model VAD does (scripted.ts). */
  vad?: { minSilenceMs?: number; minSpeechMs?: number; lookBackMs?: number };
  outputLatencyMs?: number;
  outputStopLatencyMs?: number;
  /** The output keeps the samples it played (to compare audio). */
  keepAudio?: boolean;
  session?: Partial<Omit<AgentSessionOptions, 'vad' | 'stt' | 'llm' | 'tts' | 'clock'>>;
  /** Puts a layer around the scripted LLM / TTS (a fault, a fallback list) for the session to use. */
  wrapLlm?: (llm: ScriptedLlm, clock: VirtualClock) => LLM;
  wrapTts?: (tts: ScriptedTts, clock: VirtualClock) => TTS;
}

/** A session on a virtual clock with scripted providers, fed 20 ms frames as a real transport would. */
export function timeline(options: TimelineOptions) {
  const clock = new VirtualClock();
  const words: ScriptedWord[] = options.user.flatMap((u) =>
    u.text ? wordsBetween(u.text, u.startMs, u.endMs) : [],
  );
  const vad = new ScriptedVad({
    speech: options.user.map(({ startMs, endMs }) => ({ startMs, endMs })),
    minSilenceMs: options.vad?.minSilenceMs ?? 200,
    minSpeechMs: options.vad?.minSpeechMs,
    lookBackMs: options.vad?.lookBackMs,
  });
  const stt = new ScriptedStt({ clock, words, finalDelayMs: 50, ...options.stt });
  const llm = new ScriptedLlm({
    clock,
    reply: options.reply,
    ttftMs: 300,
    tokensPerSecond: 20,
    ...options.llm,
  });
  const tts = new ScriptedTts({ clock, ttfbMs: 100, realTimeFactor: 0.2, ...options.tts });
  const output = new PacedAudioOutput({
    clock,
    latencyMs: options.outputLatencyMs ?? 0,
    stopLatencyMs: options.outputStopLatencyMs,
    keepAudio: options.keepAudio,
  });
  const session = new AgentSession({
    vad,
    stt,
    llm: options.wrapLlm?.(llm, clock) ?? llm,
    tts: options.wrapTts?.(tts, clock) ?? tts,
    clock,
    sessionId: 'test',
    ...options.session,
    // The apology synthesized at start is one more TTS stream; timelines that count what the TTS said opt in.
    providerFailure: { presynthesizeApology: false, ...options.session?.providerFailure },
  });
  const metrics: TurnMetrics[] = [];
  const states: { state: AgentState; atMs: number }[] = [];
  const log: { event: keyof AgentSessionEvents; payload: unknown }[] = [];
  const errors: AgentSessionEvents['error'][] = [];
  session.on('metrics', (m) => metrics.push(m));
  session.on('state', ({ state, atMs }) => states.push({ state, atMs }));
  session.on('error', (e) => errors.push(e));
  for (const event of [
    'speechStarted',
    'speechEnded',
    'interruption',
    'turnCommitted',
    'toolCall',
  ] as const) {
    session.on(event, (payload) => log.push({ event, payload }));
  }
  let fedUntil = 0;
  const frameSamples = samplesForMs(20, PIPELINE_SAMPLE_RATE);

  return {
    clock,
    session,
    output,
    llm,
    tts,
    metrics,
    states,
    errors,
    log,
    async start() {
      await session.start(output);
    },
    /** Feeds audio frames and advances the clock up to `untilMs`. */
    async runUntil(untilMs: number) {
      // A frame reaches the session when its last sample has been captured, as over a real transport.
      while (fedUntil < untilMs) {
        await clock.advanceTo(fedUntil + 20);
        session.pushAudio({
          samples: new Int16Array(frameSamples),
          sampleRate: PIPELINE_SAMPLE_RATE,
          timestampMs: fedUntil,
        });
        fedUntil += 20;
      }
      await clock.advanceTo(untilMs);
    },
    stateAt(ms: number): AgentState | undefined {
      return states.filter((s) => s.atMs <= ms).at(-1)?.state;
    },
    history() {
      return session.history.toMessages();
    },
  };
}
