import { type AudioFrame, frameDurationMs } from '../../audio/frame.ts';
import { rmsDbfs } from '../../audio/level.ts';
import type { VAD, VadListener, VadStream } from './contract.ts';

export interface EnergyVadOptions {
  /** Frames louder than this are voiced. */
  thresholdDbfs?: number;
  minSpeechMs?: number;
  minSilenceMs?: number;
}

/**
 * A level-threshold VAD: no model, negligible CPU. Fine for clean synthetic audio (benchmarks, tests); real
 * microphones want Silero.
 */
export class EnergyVad implements VAD {
  readonly name = 'energy';
  constructor(private readonly options: EnergyVadOptions = {}) {}

  stream(listener: VadListener): VadStream {
    const { thresholdDbfs = -45, minSpeechMs = 40, minSilenceMs = 300 } = this.options;
    let speaking = false;
    let voicedMs = 0;
    let silentMs = 0;
    let runStartMs = 0;
    let speechStartMs = 0;
    let lastVoicedEndMs = 0;
    let closed = false;
    return {
      push(frame: AudioFrame) {
        if (closed) return;
        const durationMs = frameDurationMs(frame);
        const voiced = rmsDbfs(frame.samples) > thresholdDbfs;
        if (voiced) {
          if (voicedMs === 0) runStartMs = frame.timestampMs;
          voicedMs += durationMs;
          silentMs = 0;
          lastVoicedEndMs = frame.timestampMs + durationMs;
          if (!speaking && voicedMs >= minSpeechMs) {
            speaking = true;
            speechStartMs = runStartMs;
            listener.onSpeechStart({ atMs: speechStartMs, probability: 1 });
          }
        } else {
          silentMs += durationMs;
          if (!speaking) voicedMs = 0;
          if (speaking && silentMs >= minSilenceMs) {
            speaking = false;
            voicedMs = 0;
            listener.onSpeechEnd({ atMs: lastVoicedEndMs, startedAtMs: speechStartMs, probability: 0 });
          }
        }
      },
      close() {
        closed = true;
      },
    };
  }
}
