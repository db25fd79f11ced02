/**
 * npm run bench:phone — voice-to-voice over the Twilio path: a fake Twilio (its documented Media Streams protocol,
 * 8 kHz μ-law, marks echoed when its modelled playback buffer reaches them, `clear` empties it) plays LibriVox
 * clips in real time into Repartee's telephony endpoint; the session runs the real Silero VAD on the narrowband
 * audio and simulated cloud providers (bench/e2e/profiles.ts `cloud`: LLM TTFT 0.4-0.7 s, TTS TTFB ~0.33 s, STT
 * final 10-40 ms). Figures: the server's turn records (timed by the returned marks, i.e. at the caller's ear) and
 * the fake's own clock (end of the clip's voiced audio → first audible reply sample played; barge-in onset →
 * `clear` received). One process: client and server share the event loop (a loaded loop shows in both).
 *   npm run bench:phone [-- --turns 8] [--barge-ins 6] [--one-way-ms 0,40]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { AgentSession } from '../src/agent/session.ts';
import { ConfigSchema } from '../src/config/config.ts';
import type { ProviderSet } from '../src/config/providers.ts';
import { createConfiguredSession } from '../src/config/session.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import { SimulatedLlm } from '../src/providers/llm/simulated.ts';
import { latencySampler, seededRandom } from '../src/providers/simulated-latency.ts';
import type { STT } from '../src/providers/stt/contract.ts';
import { SimulatedTts } from '../src/providers/tts/simulated.ts';
import { createSileroVad } from '../src/providers/vad/silero.ts';
import { startServer } from '../src/server/server.ts';
import {
  callWebhook,
  clipAt,
  FakeCall,
  LIBRIVOX,
  onsetMs,
  PUBLIC_URL,
  streamOf,
  TWILIO_AUTH_TOKEN,
} from '../src/transport/telephony/testing/fake-provider.ts';
import { cloudProfile, LONG_REPLIES, SHORT_REPLIES } from './e2e/profiles.ts';

const CLIPS = ['0880', '0890', '0920', '0930', '0870'].map(
  (id) => `sense_and_sensibility_01_austen_64kb-${id}.wav`,
);

/**
 * The bench's STT stand-in: it cannot recognise narrowband audio, so the client tells it what it is playing, and
 * each end of speech (`flush`) gets that clip's words as the final after a drawn cloud finalisation delay. The
 * VAD stays real, so the end of turn is decided on the 8 kHz audio.
 */
class OracleStt implements STT {
  readonly name = 'oracle';
  text = '';
  private readonly delay = latencySampler(cloudProfile().sttFinal, seededRandom(7), 'sttFinal');
  stream: STT['stream'] = (listener) => {
    let interim: NodeJS.Timeout | undefined;
    return {
      // A streaming STT's first interim: the first two words, 400 ms into voiced audio plus the profile's interim
      // delay (an interruption is confirmed on words, as with a cloud STT).
      push: (frame) => {
        if (interim || !voiced(frame.samples)) return;
        const words = this.text.split(' ').slice(0, 2).join(' ');
        interim = setTimeout(
          () => listener.onInterim({ text: words, startMs: 0, endMs: 0 }),
          400 + cloudProfile().sttInterimDelayMs,
        );
      },
      flush: () => {
        const text = this.text;
        interim = undefined;
        // No word timings (0: unknown), as a batch engine behind a VAD reports them.
        setTimeout(() => listener.onFinal({ text, startMs: 0, endMs: 0 }), this.delay());
      },
      close: () => clearTimeout(interim),
    };
  };
}

function voiced(samples: Int16Array): boolean {
  let sum = 0;
  for (const x of samples) sum += x * x;
  return samples.length > 0 && Math.sqrt(sum / samples.length) > 500;
}

/** The end of the last voiced 10 ms window of a clip, in ms. */
function lastVoicedMs(samples: Int16Array, rate: number): number {
  const win = rate / 100;
  let last = 0;
  for (let i = 0; i + win <= samples.length; i += win) {
    let sum = 0;
    for (let j = i; j < i + win; j++) sum += samples[j] * samples[j];
    if (Math.sqrt(sum / win) > 500) last = ((i + win) * 1000) / rate;
  }
  return last;
}

const pct = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const fmt = (values: number[]) =>
  values.length
    ? `${Math.round(pct(values, 50))} / ${Math.round(pct(values, 95))} (n=${values.length})`
    : '—';

interface PassResult {
  oneWayMs: number;
  serverV2v: number[];
  earV2v: number[];
  eou: number[];
  llmTtft: number[];
  ttsTtfb: number[];
  clearAfterOnset: number[];
  interruptionStop: number[];
}

async function pass(
  oneWayMs: number,
  turns: number,
  bargeIns: number,
  log: (line: string) => void,
): Promise<PassResult> {
  const profile = cloudProfile();
  const stt = new OracleStt();
  let seed = 0;
  let replies: readonly string[] = SHORT_REPLIES;
  const providers: ProviderSet = {
    vad: createSileroVad(),
    stt,
    tts: new SimulatedTts({ ttfb: profile.ttsTtfb, realTimeFactor: profile.ttsRealTimeFactor }),
    llmSpec: 'simulated:cloud',
    createSessionLlm: async () =>
      new SimulatedLlm({
        ttft: profile.llmTtft,
        tokensPerSecond: profile.llmTokensPerSecond,
        replies,
        seed: ++seed,
      }),
    close: async () => {},
  };
  const config = ConfigSchema.parse({});
  const metrics: TurnMetrics[] = [];
  let session: AgentSession | undefined;
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    webRoot: false,
    createSession: async () => {
      throw new Error('phone bench: calls only');
    },
    telephony: {
      publicUrl: PUBLIC_URL,
      twilio: { authToken: TWILIO_AUTH_TOKEN },
      log: () => {},
      call: { silence: { timeoutMs: 0 } },
      createCallSession: async (_call, control) => {
        session = await createConfiguredSession(config, providers, undefined, control.tools());
        session.on('metrics', (m) => metrics.push(m));
        return session;
      },
    },
  });
  const result: PassResult = {
    oneWayMs,
    serverV2v: [],
    earV2v: [],
    eou: [],
    llmTtft: [],
    ttsTtfb: [],
    clearAfterOnset: [],
    interruptionStop: [],
  };
  try {
    const clips = await Promise.all(CLIPS.map((name) => clipAt(name, 8000)));
    const texts = await clipTexts();
    const dial = async (id: string) => {
      const answer = await callWebhook(server.url, 'twilio', id);
      const call = new FakeCall({
        provider: 'twilio',
        callId: id,
        ...streamOf('twilio', answer.body, server.url),
        oneWayDelayMs: oneWayMs,
      });
      await call.open();
      return call;
    };
    // Turns: each clip, then silence until its reply has been played out and its record is in.
    const call = await dial('CA-bench-turns');
    for (let t = 0; t < turns; t++) {
      const clip = clips[t % clips.length];
      stt.text = texts[t % clips.length];
      const records = metrics.length;
      const playedBefore = call.played.length;
      const sentAt = await call.speak(clip);
      const speechEnd = sentAt + lastVoicedMs(clip, 8000);
      await call.silence(() => metrics.length > records, 30_000);
      const firstHeard = call.played
        .slice(playedBefore)
        .find((p) => p.start >= speechEnd && p.samples.some((s) => Math.abs(s) > 1000));
      const m = metrics.at(-1) as TurnMetrics;
      if (process.env.PHONE_BENCH_DEBUG)
        log(JSON.stringify({ turnTaking: m.turnTaking, t: m.transcriptionDelayMs }));
      if (firstHeard) result.earV2v.push(firstHeard.start - speechEnd);
      if (typeof m.voiceToVoiceMs === 'number') result.serverV2v.push(m.voiceToVoiceMs);
      if (typeof m.eouDelayMs === 'number') result.eou.push(m.eouDelayMs);
      if (typeof m.llmTtftMs === 'number') result.llmTtft.push(m.llmTtftMs);
      if (typeof m.ttsTtfbMs === 'number') result.ttsTtfb.push(m.ttsTtfbMs);
      log(
        `  turn ${t + 1}: v2v ${Math.round(m.voiceToVoiceMs ?? Number.NaN)} ms (server, marks), ${firstHeard ? Math.round(firstHeard.start - speechEnd) : '—'} ms (fake's ear)`,
      );
      await call.silence(() => false, 600).catch(() => undefined); // the caller's pause before the next turn
    }
    call.hangUp();
    // Barge-ins: long replies, talked over 800 ms after they start being heard.
    replies = LONG_REPLIES;
    const interrupting = await dial('CA-bench-barge');
    stt.text = texts[0];
    await interrupting.speak(clips[0]);
    for (let b = 0; b < bargeIns; b++) {
      const heardFrom = interrupting.heardMs();
      await interrupting.silence(() => interrupting.heardMs() - heardFrom > 800, 30_000);
      const clip = clips[(b + 1) % clips.length];
      stt.text = texts[(b + 1) % clips.length];
      const clears = interrupting.clears.length;
      const records = metrics.length;
      const sending = interrupting.speak(clip);
      const onsetAt = performance.now() + onsetMs(clip, 8000);
      await sending;
      if (interrupting.clears.length > clears)
        result.clearAfterOnset.push(interrupting.clears[clears] - onsetAt);
      await interrupting.silence(() => metrics.length > records, 30_000).catch(() => undefined);
      const stop = metrics.slice(records).find((m) => m.interruptionStopMs !== undefined)?.interruptionStopMs;
      if (typeof stop === 'number') result.interruptionStop.push(stop);
      log(
        `  barge-in ${b + 1}: clear ${interrupting.clears.length > clears ? Math.round(interrupting.clears[clears] - onsetAt) : '—'} ms after onset`,
      );
    }
    interrupting.hangUp();
  } finally {
    await server.close();
  }
  return result;
}

async function clipTexts(): Promise<string[]> {
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile(`${LIBRIVOX}/transcription`, 'utf8')).split('\n');
  return CLIPS.map((name) => {
    const id = name.replace('.wav', '');
    const line = lines.find((l) => l.includes(`(${id})`)) ?? '';
    const words = line
      .replace(/<\/?s>/g, '')
      .replace(/\(.*\)/, '')
      .trim();
    // Finals as cloud STTs format them (the e2e bench's SimulatedStt does the same): capitalised, a full stop.
    return `${words.charAt(0).toUpperCase()}${words.slice(1)}.`;
  });
}

/** Also `npm run bench -- --only phone [--turns 8] …` (bench/e2e.ts hands the other flags over). */
export async function runPhoneBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { turns: { type: 'string' }, 'barge-ins': { type: 'string' }, 'one-way-ms': { type: 'string' } },
  });
  const turns = Number(values.turns ?? 8);
  const bargeIns = Number(values['barge-ins'] ?? 6);
  const delays = (values['one-way-ms'] ?? '0,40').split(',').map(Number);
  if (!(turns >= 1 && bargeIns >= 0 && delays.every((d) => d >= 0))) throw new Error('bad arguments');
  const results: PassResult[] = [];
  for (const oneWayMs of delays) {
    console.log(
      `phone pass: Twilio Media Streams, ${oneWayMs} ms each way between the media edge and the server`,
    );
    results.push(await pass(oneWayMs, turns, bargeIns, (line) => console.log(line)));
  }
  const rows = results.map((r) =>
    [
      `| ${r.oneWayMs} ms`,
      fmt(r.serverV2v),
      fmt(r.earV2v),
      fmt(r.eou),
      fmt(r.llmTtft),
      fmt(r.ttsTtfb),
      fmt(r.clearAfterOnset),
      `${fmt(r.interruptionStop)} |`,
    ].join(' | '),
  );
  const md = [
    '# Phone path (Twilio Media Streams) — npm run bench:phone',
    '',
    `${new Date().toISOString()}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; Node ${process.version}; one process (fake Twilio and server share the loop).`,
    'Simulated cloud providers (LLM TTFT 400-700 ms at 80 tokens/s, TTS TTFB 280-380 ms, STT final 10-40 ms), real Silero VAD on 8 kHz μ-law audio, product default endpointing.',
    '',
    "p50 / p95 in ms. v2v (marks): the server's voiceToVoiceMs, timed by Twilio-style marks echoed at playback. v2v (ear): the fake's end of voiced clip → first audible reply sample played from its buffer. clear after onset: the barge-in clip's first voiced sample sent → `clear` received at the fake.",
    '',
    '| one-way delay | v2v (marks) | v2v (ear) | eouDelayMs | llmTtftMs | ttsTtfbMs | clear after onset | interruptionStopMs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  console.log(`\n${md}`);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/phone.md', md);
  console.log('wrote bench/results/phone.md');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runPhoneBench(process.argv.slice(2));
  process.exit(0);
}
