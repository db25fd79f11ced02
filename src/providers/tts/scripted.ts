import { DEFAULT_FRAME_MS, samplesForMs } from '../../audio/frame.ts';
import type { Clock } from '../../metrics/clock.ts';
import type { TTS, TtsStream, TtsStreamOptions } from './contract.ts';
import { SegmentQueueStream } from './segment-queue-stream.ts';

export interface ScriptedTtsOptions {
  clock: Clock;
  /** Time from a segment's text to its first audio. */
  ttfbMs?: number;
  /** Spoken duration per character of text (~15 characters per second of speech). */
  msPerCharacter?: number;
  /** Synthesis time / audio time; 0 produces a segment's audio at once after the TTFB. */
  realTimeFactor?: number;
  sampleRate?: number;
  /** Misbehave like a buggy engine: keep emitting this many frames after the stream is aborted. */
  framesAfterAbort?: number;
  /** Silent audio (zeros) before each segment's tone, as the local engines emit; produced at the same pace. */
  leadingSilenceMs?: number;
  /** Claims the streaming-input capability (the chunker then sends the first text after a few words). */
  streamingInput?: boolean;
}

/** A test TTS: a tone whose length follows the text, with a TTFB and a real-time factor on the clock. */
export class ScriptedTts implements TTS {
  readonly name = 'scripted';
  readonly sampleRate: number;
  readonly streamingInput?: boolean;
  readonly segmentsSynthesized: string[] = [];
  /** Clock time each segment's first tone (audible) frame was produced. */
  readonly firstAudibleAt: number[] = [];
  constructor(private readonly options: ScriptedTtsOptions) {
    this.sampleRate = options.sampleRate ?? 16_000;
    if (options.streamingInput !== undefined) this.streamingInput = options.streamingInput;
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new ScriptedTtsStream(this, this.options, options);
  }
}

class ScriptedTtsStream extends SegmentQueueStream {
  constructor(
    private readonly tts: ScriptedTts,
    private readonly config: ScriptedTtsOptions,
    private readonly options: TtsStreamOptions,
  ) {
    super('segment');
    void this.run();
  }

  private async run(): Promise<void> {
    const { clock, ttfbMs = 0, msPerCharacter = 65, realTimeFactor = 0, framesAfterAbort = 0 } = this.config;
    const silentFrames = Math.round((this.config.leadingSilenceMs ?? 0) / DEFAULT_FRAME_MS);
    const { signal } = this.options;
    const rate = this.tts.sampleRate;
    const frameSamples = samplesForMs(DEFAULT_FRAME_MS, rate);
    let offsetMs = 0;
    let segment = -1;
    const emit = (silent = false) => {
      const frame = {
        samples: silent ? new Int16Array(frameSamples) : toneFrame(frameSamples, rate, offsetMs),
        sampleRate: rate,
        timestampMs: offsetMs,
      };
      this.output.push({ segment, frame });
      offsetMs += DEFAULT_FRAME_MS;
    };
    try {
      for await (const text of this.segments) {
        segment++;
        if (!text.trim()) continue;
        this.tts.segmentsSynthesized.push(text);
        await clock.sleep(ttfbMs, signal);
        const frames = Math.max(1, Math.round((text.length * msPerCharacter) / DEFAULT_FRAME_MS));
        for (let i = 0; i < silentFrames + frames; i++) {
          if (i > 0 && realTimeFactor > 0) await clock.sleep(DEFAULT_FRAME_MS * realTimeFactor, signal);
          if (i === silentFrames) this.tts.firstAudibleAt.push(clock.now());
          emit(i < silentFrames);
        }
      }
      this.output.end();
    } catch {
      // Aborted: a well-behaved engine stops here; a buggy one keeps sending frames the session must drop.
      for (let i = 0; i < framesAfterAbort; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        emit();
      }
      this.output.end();
    }
  }
}

function toneFrame(length: number, sampleRate: number, offsetMs: number): Int16Array {
  const out = new Int16Array(length);
  const start = (offsetMs * sampleRate) / 1000;
  for (let i = 0; i < length; i++)
    out[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * (start + i)) / sampleRate));
  return out;
}
