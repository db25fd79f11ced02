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
import { energySpan, quietNoise as noise } from '../../src/providers/vad/reference.ts';
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

const round = (v: number | null | undefined, digits = 1) => (v == null ? null : Number(v.toFixed(digits)));

export async function benchVad(): Promise<Record<string, unknown>> {
  const minSilenceMs = 300;
  const vad = new SileroVAD({ minSilenceMs });
  await vad.prewarm();
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
      await stream.idle();
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
    `Silero VAD v5 (onnxruntime-node, shared session), minSilenceMs ${minSilenceMs}, clips padded with ${PAD_MS} ms of noise`,
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
