import type { AudioFrame } from '../../audio/frame.ts';
import type { Clock } from '../../metrics/clock.ts';
import type { TrimReport, TTS, TtsAudio, TtsStream, TtsStreamOptions } from './contract.ts';

export interface LeadingSilenceOptions {
  /** A window is audible when its RMS reaches this level relative to full scale (0 dBFS = 32767). Default -40. */
  thresholdDbfs: number;
  /** Length of the RMS window; also the longest audio judged at once. Default 5 ms. */
  windowMs: number;
  /** Quiet audio kept just before the first audible window, so a soft attack is not clipped. Default 5 ms. */
  preRollMs: number;
  /**
   * Leading quiet kept before each later segment (sentence) of a stream. A sentence-at-a-time engine pads every
   * sentence with ~0.1-0.2 s at both ends; the previous sentence's tail plus this much is the pause between
   * sentences the listener hears. Default 120 ms.
   */
  segmentGapMs: number;
  /** Never trims more than this from one segment: audio still quiet after it passes as it is. Default 2000 ms. */
  maxTrimMs: number;
}

export const DEFAULT_LEADING_SILENCE_OPTIONS: LeadingSilenceOptions = {
  thresholdDbfs: -40,
  windowMs: 5,
  preRollMs: 5,
  segmentGapMs: 120,
  maxTrimMs: 2000,
};

/**
 * Cuts the quiet start off one segment's audio as it streams, with no look-ahead beyond the chunk at hand: a
 * chunk that contains the first audible window is released at once from `keepMs` before it; quiet chunks are
 * dropped except the last `keepMs` of them, which stay pending as the pre-roll. After the first audible sample
 * (or `maxTrimMs` of quiet) everything passes untouched.
 */
export class LeadingSilenceTrimmer {
  private readonly window: number;
  private readonly keep: number;
  private readonly maxTrim: number;
  private readonly thresholdSquare: number;
  private pending = new Int16Array(0);
  private trimmed = 0;
  private done = false;

  constructor(
    private readonly sampleRate: number,
    keepMs: number,
    options: Pick<LeadingSilenceOptions, 'thresholdDbfs' | 'windowMs' | 'maxTrimMs'>,
  ) {
    this.window = Math.max(1, Math.round((options.windowMs * sampleRate) / 1000));
    this.keep = Math.max(0, Math.round((keepMs * sampleRate) / 1000));
    this.maxTrim = Math.round((options.maxTrimMs * sampleRate) / 1000);
    const amplitude = 32767 * 10 ** (options.thresholdDbfs / 20);
    this.thresholdSquare = amplitude * amplitude;
  }

  get isDone(): boolean {
    return this.done;
  }
  get trimmedMs(): number {
    return (this.trimmed * 1000) / this.sampleRate;
  }

  /**
   * Takes the next chunk; returns what may be sent now (null while all is quiet) and, on the first release,
   * where its first audible sample is.
   */
  push(chunk: Int16Array): { samples: Int16Array; audibleOffset: number } | null {
    if (this.done) return { samples: chunk, audibleOffset: 0 };
    const joined = new Int16Array(this.pending.length + chunk.length);
    joined.set(this.pending);
    joined.set(chunk, this.pending.length);
    const onset = this.firstAudible(joined);
    if (onset >= 0) {
      const from = Math.max(0, onset - this.keep);
      this.trimmed += from;
      this.done = true;
      this.pending = new Int16Array(0);
      return { samples: joined.subarray(from), audibleOffset: onset - from };
    }
    // All quiet so far: keep the tail as pre-roll, unless the quiet has gone on too long to be a lead-in.
    const drop = Math.max(0, joined.length - this.keep);
    if (this.trimmed + drop > this.maxTrim) {
      this.done = true;
      this.pending = new Int16Array(0);
      return { samples: joined, audibleOffset: 0 };
    }
    this.trimmed += drop;
    this.pending = joined.slice(drop);
    return null;
  }

  /** Index of the first sample of the first window at or above the threshold; -1 if none. */
  private firstAudible(samples: Int16Array): number {
    for (let start = 0; start < samples.length; start += this.window) {
      const end = Math.min(samples.length, start + this.window);
      let sum = 0;
      for (let i = start; i < end; i++) sum += samples[i] * samples[i];
      if (sum / (end - start) >= this.thresholdSquare) {
        // Within the window, the first sample that is itself above the level is where the sound begins.
        const level = Math.sqrt(this.thresholdSquare);
        for (let i = start; i < end; i++) if (Math.abs(samples[i]) >= level) return i;
        return start;
      }
    }
    return -1;
  }
}

export interface TrimmedTtsOptions extends Partial<LeadingSilenceOptions> {
  /** Stamps each segment's report with when the engine's first frame arrived (for ttsTtfbMs). */
  clock?: Clock;
}

/**
 * Wraps a TTS so every stream starts with sound: the first segment loses its quiet lead-in down to `preRollMs`,
 * later segments down to `segmentGapMs`. Frames pass the moment their audio is judged, so the first audible
 * sample is never held for more audio. Each segment's first frame carries a `trim` report.
 */
export function trimLeadingSilence(tts: TTS, options: TrimmedTtsOptions = {}): TTS {
  const resolved = { ...DEFAULT_LEADING_SILENCE_OPTIONS, ...definedOnly(options) };
  validate(resolved);
  return {
    name: tts.name,
    sampleRate: tts.sampleRate,
    ...(tts.streamingInput !== undefined ? { streamingInput: tts.streamingInput } : {}),
    stream: (streamOptions: TtsStreamOptions) =>
      new TrimmedStream(tts.stream(streamOptions), resolved, options.clock),
    ...(tts.prewarm ? { prewarm: tts.prewarm.bind(tts) } : {}),
    ...(tts.close ? { close: tts.close.bind(tts) } : {}),
  };
}

class TrimmedStream implements TtsStream {
  constructor(
    private readonly inner: TtsStream,
    private readonly options: LeadingSilenceOptions,
    private readonly clock: Clock | undefined,
  ) {}

  pushText(text: string): void {
    this.inner.pushText(text);
  }
  flush(): void {
    this.inner.flush();
  }
  end(): void {
    this.inner.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    let segment = -1;
    let trimmer: LeadingSilenceTrimmer | undefined;
    let firstFrameAtMs: number | undefined;
    let reported = false;
    let released = 0;
    for await (const audio of this.inner) {
      if (audio.segment !== segment || !trimmer) {
        const keepMs = released === 0 ? this.options.preRollMs : this.options.segmentGapMs;
        trimmer = new LeadingSilenceTrimmer(audio.frame.sampleRate, keepMs, this.options);
        segment = audio.segment;
        firstFrameAtMs = this.clock?.now();
        reported = false;
      }
      const out = trimmer.push(audio.frame.samples);
      if (!out || out.samples.length === 0) continue;
      released++;
      const frame = shifted(audio.frame, audio.frame.samples.length - out.samples.length, out.samples);
      if (reported) {
        yield { ...audio, frame };
        continue;
      }
      reported = true;
      const rate = audio.frame.sampleRate;
      const trim: TrimReport = {
        trimmedMs: trimmer.trimmedMs,
        audibleOffsetMs: (out.audibleOffset * 1000) / rate,
        ...(firstFrameAtMs !== undefined ? { firstFrameAtMs } : {}),
      };
      yield { ...audio, frame, trim };
    }
  }
}

/** The frame re-cut to `samples`, which start `droppedBefore` samples into it (may reach into earlier frames). */
function shifted(frame: AudioFrame, droppedBefore: number, samples: Int16Array): AudioFrame {
  if (droppedBefore === 0 && samples === frame.samples) return frame;
  return { ...frame, samples, timestampMs: frame.timestampMs + (droppedBefore * 1000) / frame.sampleRate };
}

function validate(o: LeadingSilenceOptions): void {
  if (!(Number.isFinite(o.thresholdDbfs) && o.thresholdDbfs < 0))
    throw new RangeError(`thresholdDbfs must be a negative dBFS level, got ${o.thresholdDbfs}`);
  for (const key of ['windowMs', 'preRollMs', 'segmentGapMs', 'maxTrimMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] >= 0))
      throw new RangeError(`${key} must be a finite number >= 0 ms, got ${o[key]}`);
  }
  if (o.windowMs === 0) throw new RangeError('windowMs must be > 0 ms');
}

function definedOnly(options: TrimmedTtsOptions): Partial<LeadingSilenceOptions> {
  const { clock: _clock, ...rest } = options;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
}
