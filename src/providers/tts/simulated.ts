import { type AudioFrame, DEFAULT_FRAME_MS, samplesForMs } from '../../audio/frame.ts';
import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import { type LatencySpec, latencySampler, seededRandom } from '../simulated-latency.ts';
import type { TTS, TtsStream, TtsStreamOptions } from './contract.ts';
import { SegmentQueueStream } from './segment-queue-stream.ts';

export interface SimulatedTtsOptions {
  clock?: Clock;
  /** Time from a segment's text to its first audio (a cloud voice's TTFB), drawn per segment. */
  ttfb: LatencySpec;
  /** Synthesis time / audio time after the first chunk; a streaming cloud voice runs well below 1. */
  realTimeFactor: number;
  /** Audio arrives in chunks of this much (a network read), each cut into 20 ms frames. */
  chunkMs?: number;
  /** Spoken duration per character (about 15 characters per second of speech). */
  msPerCharacter?: number;
  sampleRate?: number;
  seed?: number;
}

const TONE_HZ = 200; // a whole number of periods fits a 20 ms frame, so one frame repeats seamlessly

/**
 * A TTS on a cloud voice's timing: per sentence, a drawn TTFB, then audio in chunks at a real-time factor. The
 * audio is a quiet tone as long as the text would take to say. For benchmarks of everything around the voice.
 */
export class SimulatedTts implements TTS {
  readonly name = 'simulated';
  readonly sampleRate: number;
  readonly clock: Clock;
  readonly chunkMs: number;
  readonly msPerCharacter: number;
  readonly nextTtfb: () => number;
  readonly tone: Int16Array;

  constructor(readonly options: SimulatedTtsOptions) {
    if (!(options.realTimeFactor >= 0 && Number.isFinite(options.realTimeFactor))) {
      throw new RangeError(`realTimeFactor must be a finite number >= 0, got ${options.realTimeFactor}`);
    }
    this.sampleRate = options.sampleRate ?? 16_000;
    this.clock = options.clock ?? new MonotonicClock();
    this.chunkMs = Math.max(DEFAULT_FRAME_MS, options.chunkMs ?? 100);
    this.msPerCharacter = options.msPerCharacter ?? 65;
    this.nextTtfb = latencySampler(options.ttfb, seededRandom(options.seed ?? 1), 'ttfb');
    const samples = samplesForMs(DEFAULT_FRAME_MS, this.sampleRate);
    this.tone = new Int16Array(samples).map((_, i) =>
      Math.round(3000 * Math.sin((2 * Math.PI * TONE_HZ * i) / this.sampleRate)),
    );
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new SimulatedTtsStream(this, options.signal);
  }
}

class SimulatedTtsStream extends SegmentQueueStream {
  constructor(
    private readonly tts: SimulatedTts,
    private readonly signal: AbortSignal,
  ) {
    super('segment');
    // An aborted stream must end even if the caller never calls end().
    signal.addEventListener('abort', () => this.segments.end(), { once: true });
    void this.run();
  }

  private async run(): Promise<void> {
    const { clock, chunkMs, msPerCharacter, sampleRate, tone } = this.tts;
    const { realTimeFactor } = this.tts.options;
    const framesPerChunk = Math.round(chunkMs / DEFAULT_FRAME_MS);
    let segment = -1;
    let offsetMs = 0;
    try {
      for await (const text of this.segments) {
        segment++;
        if (!text.trim()) continue;
        await clock.sleep(this.tts.nextTtfb(), this.signal);
        const frames = Math.max(1, Math.round((text.trim().length * msPerCharacter) / DEFAULT_FRAME_MS));
        for (let i = 0; i < frames; i++) {
          if (i > 0 && i % framesPerChunk === 0 && realTimeFactor > 0) {
            await clock.sleep(chunkMs * realTimeFactor, this.signal);
          }
          if (this.signal.aborted) break;
          const frame: AudioFrame = { samples: tone.slice(), sampleRate, timestampMs: offsetMs };
          this.output.push({ segment, frame });
          offsetMs += DEFAULT_FRAME_MS;
        }
        if (this.signal.aborted) break;
      }
    } catch (error) {
      if (!this.signal.aborted) {
        this.output.fail(error);
        return;
      }
    }
    this.output.end();
  }
}
