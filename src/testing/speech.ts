import { DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE, samplesForMs } from '../audio/frame.ts';
import { Resampler } from '../audio/resampler.ts';
import type { Clock } from '../metrics/clock.ts';
import type { TTS } from '../providers/tts/contract.ts';

/** One utterance as a TTS says it, resampled to the pipeline's 16 kHz. */
export async function synthesizeUtterance(tts: TTS, text: string, timeoutMs = 60_000): Promise<Int16Array> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = tts.stream({ signal });
  stream.pushText(text);
  stream.flush();
  stream.end();
  const chunks: Int16Array[] = [];
  let rate = tts.sampleRate;
  for await (const { frame } of stream) {
    chunks.push(frame.samples);
    rate = frame.sampleRate;
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  if (total === 0) throw new Error(`the TTS ${tts.name} produced no audio for "${text}"`);
  const joined = new Int16Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return Resampler.resampleClip(joined, rate, PIPELINE_SAMPLE_RATE);
}

/**
 * Plays 16 kHz audio into a session as a microphone would: 20 ms frames in real time on the session's clock,
 * with silence before and after (the VAD needs the trailing silence to hear the end of the turn).
 */
export async function feedUtterance(
  push: (frame: { samples: Int16Array; sampleRate: number; timestampMs: number }) => void,
  clock: Clock,
  samples: Int16Array,
  { leadSilenceMs = 300, tailSilenceMs = 1500 } = {},
): Promise<void> {
  const frame = samplesForMs(DEFAULT_FRAME_MS, PIPELINE_SAMPLE_RATE);
  const lead = samplesForMs(leadSilenceMs, PIPELINE_SAMPLE_RATE);
  const tail = samplesForMs(tailSilenceMs, PIPELINE_SAMPLE_RATE);
  const audio = new Int16Array(lead + samples.length + tail + frame);
  audio.set(samples, lead);
  const startMs = clock.now();
  for (let at = 0, fedMs = 0; at + frame <= audio.length; at += frame, fedMs += DEFAULT_FRAME_MS) {
    push({
      samples: audio.slice(at, at + frame),
      sampleRate: PIPELINE_SAMPLE_RATE,
      timestampMs: startMs + fedMs,
    });
    await clock.sleep(Math.max(0, startMs + fedMs + DEFAULT_FRAME_MS - clock.now()));
  }
}
