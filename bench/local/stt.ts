/**
 * pocketsphinx (Debian en-us model) on the pocketsphinx-testdata LibriVox clips with transcripts: word error
 * rate and finalisation latency (flush() after the last audio is decoded → onFinal), for the fast and the
 * accurate search; plus event-loop stall while streaming in real time, decoding on koffi's worker threads
 * versus on the main thread.
 */
import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { splitIntoFrames } from '../../src/audio/frame.ts';
import { readWavFile } from '../../src/audio/wav.ts';
import { summarize } from '../../src/metrics/stats.ts';
import type { Transcript } from '../../src/providers/stt/contract.ts';
import {
  disposeDecoderPools,
  type PocketsphinxSearch,
  PocketsphinxSTT,
} from '../../src/providers/stt/pocketsphinx.ts';
import { corpusWer } from '../../src/providers/stt/wer.ts';

const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
const RATE = 16_000;
const round = (v: number | null | undefined, digits = 1) => (v == null ? null : Number(v.toFixed(digits)));

async function clipsWithTranscripts(): Promise<{ id: string; reference: string; samples: Int16Array }[]> {
  const lines = (await readFile(`${LIBRIVOX}/transcription`, 'utf8')).split('\n').filter(Boolean);
  const clips = [];
  for (const line of lines) {
    const match = /^(.*)\((.+)\)\s*$/.exec(line);
    if (!match) continue;
    const reference = match[1].replace(/<\/?s>/g, '').trim();
    clips.push({
      id: match[2],
      reference,
      samples: (await readWavFile(`${LIBRIVOX}/${match[2]}.wav`)).samples,
    });
  }
  return clips;
}

function finalOnce(finals: Transcript[]): Promise<Transcript> {
  return new Promise((resolve) => {
    const poll = () => (finals.length ? resolve(finals[0]) : setImmediate(poll));
    poll();
  });
}

async function runMode(search: PocketsphinxSearch, clips: Awaited<ReturnType<typeof clipsWithTranscripts>>) {
  const stt = new PocketsphinxSTT({ search });
  const t0 = performance.now();
  await stt.prewarm(1);
  const loadMs = performance.now() - t0;
  const rows: Record<string, unknown>[] = [];
  const pairs: { reference: string; hypothesis: string }[] = [];
  let decodeMs = 0;
  let audioMs = 0;
  for (const clip of clips) {
    const finals: Transcript[] = [];
    let interims = 0;
    const stream = stt.stream({ onInterim: () => interims++, onFinal: (t) => finals.push(t) });
    const start = performance.now();
    let n = 0;
    // Catch up every 100 ms of audio, as a decoder running in real time would.
    for (const frame of splitIntoFrames(clip.samples, RATE)) {
      stream.push(frame);
      if (++n % 5 === 0) await stream.whenIdle();
    }
    await stream.whenIdle();
    decodeMs += performance.now() - start;
    audioMs += (clip.samples.length * 1000) / RATE;
    const flushedAt = performance.now();
    stream.flush();
    const final = await finalOnce(finals);
    const finalLatencyMs = performance.now() - flushedAt;
    stream.close();
    pairs.push({ reference: clip.reference, hypothesis: final.text });
    const one = corpusWer([{ reference: clip.reference, hypothesis: final.text }]);
    rows.push({
      search,
      clip: clip.id.slice(-4),
      wer: round(one.wer, 3),
      finalLatencyMs: round(finalLatencyMs),
      interims,
      text: final.text,
    });
  }
  stt.dispose();
  const wer = corpusWer(pairs);
  return {
    rows,
    summary: {
      search,
      wer: round(wer.wer, 3),
      errors: {
        substitutions: wer.substitutions,
        deletions: wer.deletions,
        insertions: wer.insertions,
        words: wer.referenceWords,
      },
      finalLatencyMs: summarize(rows.map((r) => r.finalLatencyMs as number)),
      decodeRealTimeFactor: round(decodeMs / audioMs, 3),
      decoderLoadMs: round(loadMs, 0),
    },
  };
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

export async function benchStt(): Promise<Record<string, unknown>> {
  const clips = await clipsWithTranscripts();
  const fast = await runMode('fast', clips);
  const accurate = await runMode('accurate', clips);
  const stall = [await eventLoopStall(true, clips[1].samples), await eventLoopStall(false, clips[1].samples)];
  disposeDecoderPools();
  console.log('pocketsphinx en-us on pocketsphinx-testdata LibriVox clips');
  console.table([...fast.rows, ...accurate.rows]);
  console.table(
    [fast.summary, accurate.summary].map((s) => ({
      search: s.search,
      wer: s.wer,
      finalLatencyP50Ms: s.finalLatencyMs.p50,
      finalLatencyMaxMs: s.finalLatencyMs.p99,
      decodeRtf: s.decodeRealTimeFactor,
      decoderLoadMs: s.decoderLoadMs,
    })),
  );
  console.log('event-loop delay while streaming one clip in real time (fast search):');
  console.table(stall);
  return {
    fast: fast.summary,
    accurate: accurate.summary,
    clips: [...fast.rows, ...accurate.rows],
    eventLoop: stall,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchStt();
}
