import { AudioFormatError, type AudioFrame, PIPELINE_SAMPLE_RATE, validateFrame } from '../../audio/frame.ts';
import type { AudioEntry } from './cloud-journal.ts';

/** Throws unless `frame` is a valid frame at the pipeline rate, the only rate `provider` takes. */
export function checkPipelineFrame(frame: AudioFrame, provider: string): void {
  validateFrame(frame);
  if (frame.sampleRate !== PIPELINE_SAMPLE_RATE) {
    throw new AudioFormatError(
      `${provider} takes ${PIPELINE_SAMPLE_RATE} Hz frames, got ${frame.sampleRate} Hz`,
    );
  }
}

/** A pipeline-rate frame's audio and time span, copied: callers may reuse their buffers, and it is used later. */
export function audioEntry(frame: AudioFrame): AudioEntry {
  return {
    kind: 'audio',
    samples: frame.samples.slice(),
    startMs: frame.timestampMs,
    endMs: frame.timestampMs + (frame.samples.length * 1000) / PIPELINE_SAMPLE_RATE,
  };
}
