import type { AudioFrame } from '../../audio/frame.ts';
import { frameDurationMs } from '../../audio/frame.ts';
import type { VAD, VadListener, VadStream } from './contract.ts';

export interface ScriptedSpeech {
  startMs: number;
  endMs: number;
}

export interface ScriptedVadOptions {
  /** Voiced stretches on the session clock. */
  speech: ScriptedSpeech[];
  /** Silence the VAD waits for before reporting the end of speech, as a real VAD does. */
  minSilenceMs?: number;
  /** Voiced audio needed before reporting a start. */
  minSpeechMs?: number;
  /**
   * As a model VAD does (Silero scores a soft onset as speech only some tens of ms in): the start is placed this
   * much after the scripted onset, and reported with this look-back. 0 by default: placed at the onset.
   */
  lookBackMs?: number;
}

/** A test VAD driven by a script: events fire when the pushed audio's timestamps pass the scripted times. */
export class ScriptedVad implements VAD {
  readonly name = 'scripted';
  constructor(private readonly options: ScriptedVadOptions) {}

  stream(listener: VadListener): VadStream {
    const { speech, minSilenceMs = 300, minSpeechMs = 0, lookBackMs = 0 } = this.options;
    let index = 0;
    let speaking = false;
    let closed = false;
    return {
      push(frame: AudioFrame) {
        if (closed) return;
        const frameEnd = frame.timestampMs + frameDurationMs(frame);
        while (index < speech.length) {
          const segment = speech[index];
          if (!speaking && frameEnd >= segment.startMs + lookBackMs + minSpeechMs) {
            speaking = true;
            const atMs = segment.startMs + lookBackMs;
            listener.onSpeechStart({ atMs, probability: 0.9, ...(lookBackMs > 0 ? { lookBackMs } : {}) });
          }
          if (speaking && frameEnd >= segment.endMs + minSilenceMs) {
            speaking = false;
            index++;
            listener.onSpeechEnd({ atMs: segment.endMs, startedAtMs: segment.startMs, probability: 0.1 });
            continue;
          }
          break;
        }
      },
      close() {
        closed = true;
      },
    };
  }
}
