/**
 * bench:core — drives scripted turns through AgentSession with zero-latency providers on the real clock and
 * prints the pipeline's own cost: overhead per turn (what the user waits on Repartee itself) and CPU per frame.
 * Then the scripted workload pass (bench/core/scripted-workload.ts): end of speech to first audio with realistic
 * provider latencies, per chunking strategy and with preemptive generation on and off.
 *   npm run bench:core [-- --turns 1000 --workload-turns 6]
 */
import { parseArgs } from 'node:util';
import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import { AgentSession } from '../src/agent/session.ts';
import { PIPELINE_SAMPLE_RATE, samplesForMs } from '../src/audio/frame.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import { summarize } from '../src/metrics/stats.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import type { STT, SttListener } from '../src/providers/stt/contract.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import { EnergyVad } from '../src/providers/vad/energy.ts';
import { printScriptedWorkload } from './core/workload-report.ts';

const { values } = parseArgs({
  options: {
    turns: { type: 'string', default: '1000' },
    'workload-turns': { type: 'string', default: '6' },
  },
});
const turns = Number(values.turns);
const workloadTurns = Number(values['workload-turns']);

/** Finalises "turn N" the moment speech ends: a zero-latency STT. */
class InstantStt implements STT {
  readonly name = 'instant';
  turn = 0;
  stream(listener: SttListener) {
    return {
      push: () => {},
      flush: () => {
        this.turn++;
        listener.onFinal({ text: `This is turn ${this.turn}.`, startMs: 0, endMs: 0 });
      },
      close: () => {},
    };
  }
}

const clock = new MonotonicClock();
const session = new AgentSession({
  clock,
  vad: new EnergyVad({ minSpeechMs: 40, minSilenceMs: 60 }),
  stt: new InstantStt(),
  llm: new ScriptedLlm({ clock, reply: () => 'Sure. Here is a short answer for you.' }),
  tts: new ScriptedTts({ clock, ttfbMs: 0, msPerCharacter: 1 }),
  endpointing: { minDelayMs: 0, maxDelayMs: 0 },
});
const output = new PacedAudioOutput({ clock, realTime: false });
await session.start(output);

const frameSamples = samplesForMs(20, PIPELINE_SAMPLE_RATE);
const voiced = new Int16Array(frameSamples).map((_, i) => Math.round(8000 * Math.sin(i / 3)));
const silent = new Int16Array(frameSamples);
const metrics: TurnMetrics[] = [];
session.on('metrics', (m) => metrics.push(m));
session.on('error', ({ error }) => console.error(error));

let frames = 0;
const push = (samples: Int16Array) => {
  session.pushAudio({ samples, sampleRate: PIPELINE_SAMPLE_RATE, timestampMs: clock.now() - 20 });
  frames++;
};
const tick = () => new Promise((resolve) => setImmediate(resolve));

const cpuStart = process.cpuUsage();
const wallStart = clock.now();
for (let turn = 1; turn <= turns; turn++) {
  for (let i = 0; i < 10; i++) {
    push(voiced);
    await tick();
  }
  while (metrics.length < turn) {
    push(silent);
    await tick();
  }
}
const cpu = process.cpuUsage(cpuStart);
const wallMs = clock.now() - wallStart;
await session.close();

const overhead = summarize(metrics.map((m) => m.pipelineOverheadMs));
const afterEou = summarize(metrics.map((m) => (m.voiceToVoiceMs ?? 0) - (m.eouDelayMs ?? 0)));
const cpuMsPerFrame = (cpu.user + cpu.system) / 1000 / frames;
const fmt = (v: number | null) => (v === null ? '—' : v.toFixed(3));
console.log(
  `bench:core — ${turns} turns, ${frames} frames of 20 ms, zero-latency providers, ${wallMs.toFixed(0)} ms wall`,
);
console.log('| metric | p50 | p95 | p99 |');
console.log('| --- | --- | --- | --- |');
console.log(`| pipelineOverheadMs | ${fmt(overhead.p50)} | ${fmt(overhead.p95)} | ${fmt(overhead.p99)} |`);
console.log(
  `| voice-to-voice after end of turn (ms) | ${fmt(afterEou.p50)} | ${fmt(afterEou.p95)} | ${fmt(afterEou.p99)} |`,
);
console.log(`CPU per 20 ms audio frame (whole session, all turns): ${(cpuMsPerFrame * 1000).toFixed(1)} µs`);
console.log(`CPU per second of streamed audio: ${(cpuMsPerFrame * 50).toFixed(2)} ms`);
console.log(
  `CPU per turn (speech, end of turn, reply, metrics): ${((cpu.user + cpu.system) / 1000 / turns).toFixed(2)} ms`,
);
console.log(
  `target: overhead p95 <= 5 ms -> ${overhead.p95 !== null && overhead.p95 <= 5 ? 'met' : 'NOT met'}`,
);

if (workloadTurns > 0) await printScriptedWorkload(workloadTurns);
