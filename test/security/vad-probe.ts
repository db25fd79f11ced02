/**
 * Runs the real Silero VAD (onnxruntime-node) over a LibriVox clip and prints the speech segments, then stays
 * alive a little so background threads (onnxruntime's telemetry uploader, if on) have time to act.
 * Driven by telemetry.test.ts inside a network namespace under strace; not a test itself.
 */
import { readWavFile } from '../../src/audio/wav.ts';
import { createSileroVad } from '../../src/providers/vad/silero.ts';

const [clip, lingerArg] = process.argv.slice(2);
const lingerMs = Number(lingerArg ?? '3000');
const wav = await readWavFile(clip);
const vad = createSileroVad();
const starts: number[] = [];
const segments: [number, number][] = [];
const stream = vad.stream({
  onSpeechStart: (event) => starts.push(Math.round(event.atMs)),
  onSpeechEnd: (event) => segments.push([Math.round(event.startedAtMs), Math.round(event.atMs)]),
});
const frame = 320;
for (let i = 0; i + frame <= wav.samples.length; i += frame) {
  stream.push({
    samples: wav.samples.subarray(i, i + frame),
    sampleRate: wav.sampleRate,
    timestampMs: (i / wav.sampleRate) * 1000,
  });
}
await stream.idle();
stream.close();
process.stdout.write(`${JSON.stringify({ starts, segments })}\n`);
await new Promise((resolve) => setTimeout(resolve, lingerMs));
