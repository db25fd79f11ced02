/**
 * Silero VAD on Debian's pocketsphinx-testdata clips, each padded with 1 s of quiet noise on both sides.
 * Reports real-time factor, speechStart/speechEnd placement against an energy reference, and the
 * end-of-speech detection delay: stream time at which speechEnd fired minus the true end of voiced audio.
 */
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { concatSamples, splitIntoFrames } from '../../src/audio/frame.ts';
import { readRawPcm16File, readWavFile } from '../../src/audio/wav.ts';
import { summarize } from '../../src/metrics/stats.ts';
import { SileroVAD } from '../../src/providers/vad/silero.ts';

const DATA = '/usr/share/pocketsphinx/test/data';
const RATE = 16_000;
const PAD_MS = 1_000;
const CLIPS = [
  ...['0870', '0880', '0890', '0920', '0930'].map(
    (id) => `${DATA}/librivox/sense_and_sensibility_01_austen_64kb-${id}.wav`,
  ),
  `${DATA}/goforward.raw`,
  `${DATA}/numbers.raw`,
];

function noise(ms: number, seed: number): Int16Array {
  const out = new Int16Array((ms * RATE) / 1000);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = ((s / 0x7fffffff) * 2 - 1) * 30;
  }
  return out;
}

/** First/last 10 ms block opening/closing 50 ms of blocks above 10% of the loudest block. */
function energySpan(samples: Int16Array): { startMs: number; endMs: number } {
  const rms: number[] = [];
  for (let i = 0; i + 160 <= samples.length; i += 160) {
    let sum = 0;
    for (let j = 0; j < 160; j++) sum += samples[i + j] ** 2;
    rms.push(Math.sqrt(sum / 160));
  }
  const floor = Math.max(...rms) * 0.1;
  const sustained = (from: number) =>
    from >= 0 && from + 5 <= rms.length && rms.slice(from, from + 5).every((r) => r > floor);
  const first = rms.findIndex((_, i) => sustained(i));
  let last = rms.length - 1;
  while (!sustained(last - 4)) last--;
  return { startMs: first * 10, endMs: (last + 1) * 10 };
}

const round = (v: number | null | undefined, digits = 1) => (v == null ? null : Number(v.toFixed(digits)));

export async function benchVad(): Promise<Record<string, unknown>> {
  const minSilenceMs = 300;
  const vad = new SileroVAD({ minSilenceMs });
  vad.prewarm(1);
  const rows: Record<string, unknown>[] = [];
  let audioMs = 0;
  let cpuMs = 0;
  for (const path of CLIPS) {
    const clip = path.endsWith('.raw')
      ? (await readRawPcm16File(path, RATE)).samples
      : (await readWavFile(path)).samples;
    const ref = energySpan(clip);
    const audio = concatSamples([noise(PAD_MS, 7), clip, noise(PAD_MS, 11)]);
    const starts: number[] = [];
    const ends: { atMs: number; noticedMs: number }[] = [];
    let streamMs = 0;
    const stream = vad.stream({
      onSpeechStart: (e) => starts.push(e.atMs),
      onSpeechEnd: (e) => ends.push({ atMs: e.atMs, noticedMs: streamMs }),
    });
    const frames = [...splitIntoFrames(audio, RATE)];
    const t0 = performance.now();
    for (const frame of frames) {
      streamMs = frame.timestampMs + (frame.samples.length * 1000) / RATE;
      stream.push(frame);
    }
    const elapsed = performance.now() - t0;
    stream.close();
    audioMs += (audio.length * 1000) / RATE;
    cpuMs += elapsed;
    const trueEnd = PAD_MS + ref.endMs;
    const last = ends[ends.length - 1];
    rows.push({
      clip: basename(path),
      segments: starts.length,
      startErrorMs: starts.length ? round(starts[0] - (PAD_MS + ref.startMs), 0) : null,
      endErrorMs: last ? round(last.atMs - trueEnd, 0) : null,
      endDetectionDelayMs: last ? round(last.noticedMs - trueEnd, 0) : null,
      noticedAfterPlacedEndMs: last ? round(last.noticedMs - last.atMs, 0) : null,
      rtf: round(elapsed / ((audio.length * 1000) / RATE), 4),
    });
  }
  const result = {
    minSilenceMs,
    clips: rows,
    realTimeFactor: round(cpuMs / audioMs, 4),
    startErrorMs: summarize(rows.map((r) => r.startErrorMs as number)),
    endErrorMs: summarize(rows.map((r) => r.endErrorMs as number)),
    endDetectionDelayMs: summarize(rows.map((r) => r.endDetectionDelayMs as number)),
    noticedAfterPlacedEndMs: summarize(rows.map((r) => r.noticedAfterPlacedEndMs as number)),
  };
  console.log(
    `Silero VAD v5 (sherpa-onnx), minSilenceMs ${minSilenceMs}, clips padded with ${PAD_MS} ms of noise`,
  );
  console.table(rows);
  console.log(
    `real-time factor ${result.realTimeFactor}; end-of-speech detection delay p50 ${result.endDetectionDelayMs.p50} ms, ` +
      `p95 ${result.endDetectionDelayMs.p95} ms (vs energy reference; ${result.noticedAfterPlacedEndMs.p50} ms after the VAD's ` +
      `own end placement); speechEnd placement error p50 ${result.endErrorMs.p50} ms`,
  );
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchVad();
}
