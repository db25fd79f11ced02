/**
 * Pre-sliced microphone audio for the bench client: every clip cut into 20 ms PCM16 frames once, plus a loop of
 * quiet room noise for the gaps, so sending a frame is one socket write.
 */
import {
  bytesFromInt16,
  DEFAULT_FRAME_MS,
  PIPELINE_SAMPLE_RATE,
  samplesForMs,
} from '../../src/audio/frame.ts';
import { energySpan, quietNoise } from '../../src/providers/vad/reference.ts';
import type { Clip } from './clips.ts';

export interface FramedClip {
  id: string;
  frames: readonly Buffer[];
  /** Where the speech in the clip starts and ends (energy reference), ms from its first sample. */
  speechStartMs: number;
  speechEndMs: number;
}

export interface FrameSource {
  frameMs: number;
  clips: readonly FramedClip[];
  noise: readonly Buffer[];
}

export function sliceFrames(clips: readonly Clip[], frameMs = DEFAULT_FRAME_MS): FrameSource {
  const frameSamples = samplesForMs(frameMs, PIPELINE_SAMPLE_RATE);
  const toBuffer = (samples: Int16Array) => {
    const bytes = bytesFromInt16(samples);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  const cut = (samples: Int16Array) => {
    const frames: Buffer[] = [];
    for (let offset = 0; offset < samples.length; offset += frameSamples) {
      // The last frame is padded with silence so every frame the server sees is whole.
      const frame = new Int16Array(frameSamples);
      frame.set(samples.subarray(offset, Math.min(offset + frameSamples, samples.length)));
      frames.push(toBuffer(frame));
    }
    return frames;
  };
  return {
    frameMs,
    clips: clips.map((clip) => {
      const span = energySpan(clip.samples);
      return { id: clip.id, frames: cut(clip.samples), speechStartMs: span.startMs, speechEndMs: span.endMs };
    }),
    noise: cut(quietNoise(1000)),
  };
}
