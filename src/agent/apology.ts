import { type AudioFrame, DEFAULT_FRAME_MS, samplesForMs } from '../audio/frame.ts';
import type { Clock } from '../metrics/clock.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { Notifier } from '../util/emitter.ts';

/** Where the apology's audio came from: synthesized ahead, synthesized when needed, or the fallback tone. */
export type ApologyVia = 'cached' | 'tts' | 'tone';

/**
 * The audio of one apology. Frames may still be arriving (a live synthesis); `changed` wakes a reader when more
 * come or the clip is complete.
 */
export class ApologyClip {
  readonly frames: AudioFrame[] = [];
  readonly changed = new Notifier();
  private complete = false;

  constructor(
    readonly via: ApologyVia,
    /** The words the clip says; '' for the tone, which says none. */
    readonly text: string,
  ) {}

  get isComplete(): boolean {
    return this.complete;
  }

  get totalSamples(): number {
    let total = 0;
    for (const frame of this.frames) total += frame.samples.length;
    return total;
  }

  push(frame: AudioFrame): void {
    this.frames.push(frame);
    this.changed.notify();
  }

  end(): void {
    this.complete = true;
    this.changed.notify();
  }
}

/**
 * Apology audio shared by the sessions of one process: one synthesis per voice and phrase instead of one per
 * session (a burst of sessions costs one TTS call, and each session keeps a reference, not a copy). A synthesis
 * that fails or is cut short is not kept, so the next session tries again.
 */
export class ApologyAudioCache {
  private readonly entries = new Map<string, Promise<readonly AudioFrame[] | undefined>>();

  constructor(private readonly maxEntries = 16) {}

  get size(): number {
    return this.entries.size;
  }

  /** The frames of `key`, from `synthesize` the first time (concurrent callers share that one call). */
  get(
    key: string,
    synthesize: () => Promise<readonly AudioFrame[] | undefined>,
  ): Promise<readonly AudioFrame[] | undefined> {
    const known = this.entries.get(key);
    if (known) return known;
    const job = synthesize().then(
      (frames) => {
        if (!frames) this.entries.delete(key);
        return frames;
      },
      (error) => {
        this.entries.delete(key);
        throw error;
      },
    );
    // Few voices and phrases exist in one process; the bound only guards against a caller keying by accident.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, job);
    return job;
  }
}

export interface ApologyVoiceOptions {
  tts: TTS;
  clock: Clock;
  /** The phrase; '' means no apology at all. */
  text: string;
  /** Longest wait for audio that is not ready when a failure needs it; then the tone plays. */
  audioTimeoutMs: number;
  /** The synthesis ahead of need failed (the session reports it; a failure then gets it live, or the tone). */
  onError(error: unknown): void;
  /** Shared with the process's other sessions; absent: this voice synthesizes its own copy. */
  cache?: ApologyAudioCache;
}

/**
 * The session's apology, in its own voice. It is synthesized once, when the first reply starts, and kept (a few
 * seconds of PCM), so it can be played at once when the LLM fails and even when the TTS is what failed. When
 * no copy is ready it is synthesized live with a deadline; when no voice answers in time a short tone plays, so
 * a failure is never met with silence.
 */
export class ApologyVoice {
  private cached: readonly AudioFrame[] | undefined;
  private preparing: Promise<void> | undefined;
  private readonly closed = new AbortController();

  constructor(private readonly options: ApologyVoiceOptions) {}

  get enabled(): boolean {
    return this.options.text.trim() !== '';
  }

  /**
   * Starts synthesizing the apology ahead of need (the session calls it when its first reply starts, so an idle
   * or short-lived connection costs no synthesis); idempotent, never awaited by a reply.
   */
  prepare(): void {
    if (!this.enabled || this.preparing || this.cached) return;
    const { tts, text, cache } = this.options;
    const synthesize = () =>
      this.synthesize(this.closed.signal).then((clip) =>
        clip.isComplete && clip.frames.length > 0 ? clip.frames : undefined,
      );
    const frames = cache ? cache.get(`${tts.name}|${tts.sampleRate}|${text}`, synthesize) : synthesize();
    this.preparing = frames.then(
      (ready) => {
        if (ready) this.cached = ready;
        // Another session's synthesis was cut short (it closed): this one tries on its own next time.
        else this.preparing = undefined;
      },
      // Not retried ahead of need (a TTS that is down would fail again every turn); a failure synthesizes live.
      (error) => {
        if (!this.closed.signal.aborted) this.options.onError(error);
      },
    );
  }

  /** Stops a synthesis ahead of need still running (the session is closing). */
  close(): void {
    this.closed.abort(new Error('session closed'));
  }

  /**
   * The audio to play for a failure: the cached copy, else the synthesis ahead of need if it ends within the
   * timeout, else a live synthesis whose first audio arrives within it, else the tone. Resolves within
   * `audioTimeoutMs` (or when `signal` aborts, with the tone, which is then never played).
   */
  async clip(signal: AbortSignal): Promise<ApologyClip> {
    const { clock, audioTimeoutMs, text } = this.options;
    if (this.cached) return this.cachedClip(this.cached);
    const deadline = clock.now() + audioTimeoutMs;
    const timeLeft = () => Math.max(0, deadline - clock.now());
    if (this.preparing) {
      await this.within(this.preparing, timeLeft(), signal);
      if (this.cached) return this.cachedClip(this.cached);
    }
    if (signal.aborted || timeLeft() <= 0) return toneClip(this.options.tts.sampleRate);
    const live = new AbortController();
    const onAbort = () => live.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const clip = new ApologyClip('tts', text);
    const synthesis = this.synthesize(AbortSignal.any([live.signal, this.closed.signal]), clip).then(
      (done) => {
        // A complete live synthesis is kept for the next failure.
        if (done.isComplete && done.frames.length > 0) this.cached ??= done.frames;
      },
      () => undefined,
    );
    const firstAudio = new Promise<void>((resolve) => {
      const check = () => {
        if (clip.frames.length > 0 || clip.isComplete) resolve();
        else void clip.changed.wait().then(check);
      };
      check();
    });
    await this.within(
      Promise.race([firstAudio, synthesis]).finally(() => signal.removeEventListener('abort', onAbort)),
      timeLeft(),
      signal,
    );
    if (clip.frames.length > 0) return clip;
    live.abort(new Error('apology: no audio in time'));
    return toneClip(this.options.tts.sampleRate);
  }

  private cachedClip(frames: readonly AudioFrame[]): ApologyClip {
    const clip = new ApologyClip('cached', this.options.text);
    for (const frame of frames) clip.push(frame);
    clip.end();
    return clip;
  }

  /** One TTS stream saying the phrase; the clip ends complete only if the stream ended without error. */
  private async synthesize(signal: AbortSignal, clip = new ApologyClip('tts', this.options.text)) {
    const stream = this.options.tts.stream({ signal });
    stream.pushText(this.options.text);
    stream.flush();
    stream.end();
    try {
      for await (const audio of stream) {
        if (signal.aborted) break;
        clip.push(audio.frame);
      }
      if (!signal.aborted) clip.end();
    } finally {
      clip.changed.notify();
    }
    return clip;
  }

  /** Waits for `work`, but no longer than `ms` or the abort. */
  private async within(work: Promise<unknown>, ms: number, signal: AbortSignal): Promise<void> {
    let cancel: (() => void) | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      work.catch(() => undefined),
      new Promise<void>((resolve) => {
        cancel = this.options.clock.schedule(ms, resolve);
        onAbort = resolve;
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    cancel?.();
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

const TONE_NOTES: readonly { hz: number; ms: number }[] = [
  { hz: 660, ms: 160 },
  { hz: 0, ms: 60 },
  { hz: 440, ms: 220 },
];

/** Two soft descending notes: the sound of "that did not work" when no voice can say it. */
export function toneClip(sampleRate: number): ApologyClip {
  const clip = new ApologyClip('tone', '');
  const frameSamples = samplesForMs(DEFAULT_FRAME_MS, sampleRate);
  let t = 0;
  for (const note of TONE_NOTES) {
    const total = samplesForMs(note.ms, sampleRate);
    for (let start = 0; start < total; start += frameSamples) {
      const samples = new Int16Array(Math.min(frameSamples, total - start));
      for (let i = 0; i < samples.length; i++) {
        const n = start + i;
        // A short fade in and out keeps the notes from clicking.
        const envelope = Math.min(1, n / (sampleRate * 0.01), (total - n) / (sampleRate * 0.01));
        samples[i] = note.hz
          ? Math.round(4000 * envelope * Math.sin((2 * Math.PI * note.hz * n) / sampleRate))
          : 0;
      }
      clip.push({ samples, sampleRate, timestampMs: (t * 1000) / sampleRate });
      t += samples.length;
    }
  }
  clip.end();
  return clip;
}
