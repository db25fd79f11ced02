/**
 * pocketsphinx (Debian en-us model) on real recorded speech (bench/local/speech.ts: LibriVox, alsa-utils
 * announcements, pocketsphinx's cards and goforward clips), through the real streaming STT: word error rate per
 * search mode on the dev and held-back splits, finalisation latency (flush() after the last audio is decoded →
 * onFinal), decode real-time factor; plus event-loop stall while streaming in real time, decoding on koffi's
 * worker threads versus on the main thread. The default search is chosen on the dev split only.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { concatSamples, splitIntoFrames } from '../../src/audio/frame.ts';
import { summarize } from '../../src/metrics/stats.ts';
import type { Transcript } from '../../src/providers/stt/contract.ts';
import {
  DEFAULT_POCKETSPHINX_OPTIONS,
  disposeDecoderPools,
  type PocketsphinxSearch,
  PocketsphinxSTT,
} from '../../src/providers/stt/pocketsphinx.ts';
import { corpusWer } from '../../src/providers/stt/wer.ts';
import { quietNoise } from '../../src/providers/vad/reference.ts';
import { type SpeechClip, type Split, speechClips } from './speech.ts';

const RATE = 16_000;
/** Room noise around each clip, as a microphone would deliver between turns. */
const PAD_MS = 300;
const round = (v: number | null | undefined, digits = 1) => (v == null ? null : Number(v.toFixed(digits)));

function finalOnce(finals: Transcript[]): Promise<Transcript> {
  return new Promise((resolve) => {
    const poll = () => (finals.length ? resolve(finals[0]) : setImmediate(poll));
    poll();
  });
}

export interface ModeFigures {
  search: PocketsphinxSearch;
  split: Split;
  wer: number;
  words: number;
  errors: { substitutions: number; deletions: number; insertions: number };
  finalLatencyMs: ReturnType<typeof summarize>;
  decodeRealTimeFactor: number;
}

/** Decodes every clip through a fresh PocketsphinxSTT stream, as a session's STT would hear it. */
export async function runMode(search: PocketsphinxSearch, split: Split, clips: SpeechClip[]) {
  const stt = new PocketsphinxSTT({ search });
  await stt.prewarm(1);
  const rows: Record<string, unknown>[] = [];
  const pairs: { reference: string; hypothesis: string }[] = [];
  const latencies: number[] = [];
  let decodeMs = 0;
  let audioMs = 0;
  for (const clip of clips) {
    const finals: Transcript[] = [];
    const stream = stt.stream({ onInterim: () => {}, onFinal: (t) => finals.push(t) });
    const audio = concatSamples([quietNoise(PAD_MS, 3), clip.samples, quietNoise(PAD_MS, 5)]);
    const start = performance.now();
    let n = 0;
    // Catch up every 100 ms of audio, as a decoder running in real time would.
    for (const frame of splitIntoFrames(audio, RATE)) {
      stream.push(frame);
      if (++n % 5 === 0) await stream.whenIdle();
    }
    await stream.whenIdle();
    decodeMs += performance.now() - start;
    audioMs += (audio.length * 1000) / RATE;
    const flushedAt = performance.now();
    stream.flush();
    const final = await finalOnce(finals);
    latencies.push(performance.now() - flushedAt);
    stream.close();
    pairs.push({ reference: clip.reference, hypothesis: final.text });
    rows.push({
      search,
      split,
      clip: clip.id,
      wer: round(corpusWer([{ reference: clip.reference, hypothesis: final.text }]).wer, 3),
      text: final.text,
    });
  }
  stt.dispose();
  const wer = corpusWer(pairs);
  const figures: ModeFigures = {
    search,
    split,
    wer: round(wer.wer, 3) as number,
    words: wer.referenceWords,
    errors: { substitutions: wer.substitutions, deletions: wer.deletions, insertions: wer.insertions },
    finalLatencyMs: summarize(latencies),
    decodeRealTimeFactor: round(decodeMs / audioMs, 3) as number,
  };
  return { rows, figures };
}

/** Streams one clip at real-time pace and records how long the event loop was stalled. */
async function eventLoopStall(offThread: boolean, samples: Int16Array) {
  const stt = new PocketsphinxSTT({ offThread });
  await stt.prewarm(1);
  const finals: Transcript[] = [];
  const stream = stt.stream({ onInterim() {}, onFinal: (t) => finals.push(t) });
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const t0 = performance.now();
  let i = 0;
  for (const frame of splitIntoFrames(samples, RATE)) {
    const due = t0 + i++ * 20;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    stream.push(frame);
  }
  stream.flush();
  await finalOnce(finals);
  histogram.disable();
  stream.close();
  stt.dispose();
  return {
    offThread,
    loopDelayP99Ms: round(histogram.percentile(99) / 1e6),
    loopDelayMaxMs: round(histogram.max / 1e6),
  };
}

/** The search with the lower dev WER; a tie goes to the faster finals ('fast'). */
export function chooseSearch(figures: readonly ModeFigures[]): PocketsphinxSearch {
  const dev = (search: PocketsphinxSearch) => figures.find((f) => f.split === 'dev' && f.search === search);
  const fast = dev('fast');
  const accurate = dev('accurate');
  if (!fast || !accurate) return DEFAULT_POCKETSPHINX_OPTIONS.search;
  return accurate.wer < fast.wer ? 'accurate' : 'fast';
}

export async function benchStt(options: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const figures: ModeFigures[] = [];
  const rows: Record<string, unknown>[] = [];
  for (const split of ['dev', 'heldback'] as const) {
    const clips = await speechClips(split);
    for (const search of ['fast', 'accurate'] as const) {
      const result = await runMode(search, split, clips);
      figures.push(result.figures);
      rows.push(...result.rows);
    }
  }
  const chosen = chooseSearch(figures);
  const stall = options.quick
    ? []
    : [
        await eventLoopStall(true, (await speechClips('dev'))[0].samples),
        await eventLoopStall(false, (await speechClips('dev'))[0].samples),
      ];
  disposeDecoderPools();
  console.log('pocketsphinx en-us on real speech (LibriVox, alsa-utils, cards, goforward), streaming STT');
  console.table(rows);
  console.table(
    figures.map((f) => ({
      split: f.split,
      search: f.search,
      words: f.words,
      wer: f.wer,
      finalP50Ms: f.finalLatencyMs.p50,
      finalP99Ms: f.finalLatencyMs.p99,
      decodeRtf: f.decodeRealTimeFactor,
    })),
  );
  console.log(
    `dev split picks search "${chosen}" (default in code: "${DEFAULT_POCKETSPHINX_OPTIONS.search}")`,
  );
  if (stall.length) {
    console.log('event-loop delay while streaming one clip in real time (default search):');
    console.table(stall);
  }
  return { figures, chosen, clips: rows, eventLoop: stall };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchStt({ quick: process.argv.includes('--quick') });
}
