import { Resampler } from '../../audio/resampler.ts';
import { AsyncQueue } from '../../util/async-queue.ts';
import { type FallbackOptions, FallbackRotation, type FallbackState } from '../llm/fallback-rotation.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions } from './contract.ts';

/**
 * A TTS over a fallback list (`["elevenlabs:<voice>", "local"]`). A reply's stream goes to the provider in use;
 * when it fails, or its first audio misses the latency budget, the stream moves to the next provider, which is
 * given again every sentence from the one that was being spoken (a sentence cut off is said again, never lost).
 * Audio comes out at the first provider's rate whatever the provider. Each switch is logged and counted; the
 * provider that works stays in use and the first is tried again later. That state belongs to one session: the
 * configured providers make one instance per session (`ProviderSet.createSessionTts`), so an outage seen by one
 * session moves only that one; a TTS given to several sessions would move them all.
 */
export class FallbackTts implements TTS, FallbackState {
  readonly name: string;
  readonly sampleRate: number;
  /** @internal */
  readonly rotation: FallbackRotation;

  constructor(
    readonly providers: readonly TTS[],
    options: FallbackOptions = {},
  ) {
    this.rotation = new FallbackRotation(
      'tts',
      providers.map((p) => p.name),
      options,
    );
    this.name = providers.map((p) => p.name).join(' > ');
    this.sampleRate = providers[0].sampleRate;
  }

  get activeProvider(): string {
    return this.rotation.activeProvider;
  }

  /** The provider in use takes streamed input (a reply's chunking is chosen when it starts). */
  get streamingInput(): boolean {
    const active = this.providers.find((p) => p.name === this.rotation.activeProvider) ?? this.providers[0];
    return active.streamingInput === true;
  }

  get fallbackCount(): number {
    return this.rotation.fallbackCount;
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new FallbackTtsStream(this, options);
  }

  async prewarm(): Promise<void> {
    const results = await Promise.allSettled(this.providers.map((p) => p.prewarm?.()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === results.length) throw failed[0].reason;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.providers.map((p) => p.close?.()));
  }
}

interface Attempt {
  index: number;
  stream: TtsStream;
  controller: AbortController;
  /** The reply's segment number of this attempt's segment 0. */
  offset: number;
  /** Highest reply segment this attempt has produced audio for. */
  lastAudioSegment: number;
  flushed: boolean;
}

class FallbackTtsStream implements TtsStream {
  private readonly output = new AsyncQueue<TtsAudio>();
  private readonly segments: string[] = [];
  private pending = '';
  private ended = false;
  private attempt!: Attempt;
  private cancelBudget: (() => void) | undefined;
  private emittedSamples = 0;

  constructor(
    private readonly tts: FallbackTts,
    private readonly options: TtsStreamOptions,
  ) {
    this.start(tts.rotation.startIndex(), 0);
  }

  pushText(text: string): void {
    this.pending += text;
    this.attempt.stream.pushText(text);
  }

  flush(): void {
    this.segments.push(this.pending);
    this.pending = '';
    this.attempt.stream.flush();
    this.attempt.flushed = true;
    this.armBudget(this.attempt);
  }

  end(): void {
    if (this.pending.trim()) this.flush();
    this.ended = true;
    this.attempt.stream.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.output[Symbol.asyncIterator]();
  }

  private start(index: number, offset: number): void {
    const controller = new AbortController();
    const signal = AbortSignal.any([this.options.signal, controller.signal]);
    const stream = this.tts.providers[index].stream({ signal });
    const attempt: Attempt = { index, stream, controller, offset, lastAudioSegment: -1, flushed: false };
    this.attempt = attempt;
    for (const text of this.segments.slice(offset)) {
      stream.pushText(text);
      stream.flush();
      attempt.flushed = true;
    }
    if (this.pending) stream.pushText(this.pending);
    if (this.ended) stream.end();
    this.armBudget(attempt);
    void this.pump(attempt);
  }

  private armBudget(attempt: Attempt): void {
    const { rotation } = this.tts;
    if (this.cancelBudget || !attempt.flushed || attempt.lastAudioSegment >= 0) return;
    if (!rotation.hasNext(attempt.index)) return;
    this.cancelBudget = rotation.clock.schedule(rotation.budgetMs, () => {
      this.cancelBudget = undefined;
      if (this.attempt === attempt && attempt.lastAudioSegment < 0 && !this.options.signal.aborted) {
        this.switchFrom(attempt, 'budget');
      }
    });
  }

  private disarmBudget(): void {
    this.cancelBudget?.();
    this.cancelBudget = undefined;
  }

  private async pump(attempt: Attempt): Promise<void> {
    const provider = this.tts.providers[attempt.index];
    let resampler: Resampler | undefined;
    try {
      if (provider.sampleRate !== this.tts.sampleRate) {
        resampler = await Resampler.create(provider.sampleRate, this.tts.sampleRate);
      }
      for await (const audio of attempt.stream) {
        if (this.attempt !== attempt || this.options.signal.aborted) return;
        if (attempt.lastAudioSegment < 0) {
          this.disarmBudget();
          this.tts.rotation.succeeded(attempt.index);
        }
        const segment = attempt.offset + audio.segment;
        attempt.lastAudioSegment = Math.max(attempt.lastAudioSegment, segment);
        const samples = resampler ? resampler.process(audio.frame.samples) : audio.frame.samples;
        if (samples.length === 0) continue;
        this.output.push({
          ...audio,
          segment,
          frame: {
            ...audio.frame,
            samples,
            sampleRate: this.tts.sampleRate,
            timestampMs: (this.emittedSamples * 1000) / this.tts.sampleRate,
          },
        });
        this.emittedSamples += samples.length;
      }
      if (this.attempt === attempt) {
        this.disarmBudget();
        this.output.end();
      }
    } catch (error) {
      if (this.attempt !== attempt) return;
      if (this.options.signal.aborted) {
        this.disarmBudget();
        this.output.end();
        return;
      }
      this.switchFrom(attempt, 'error', error);
    } finally {
      resampler?.destroy();
    }
  }

  private switchFrom(attempt: Attempt, reason: 'error' | 'budget', error?: unknown): void {
    this.disarmBudget();
    const { rotation } = this.tts;
    if (!rotation.hasNext(attempt.index)) {
      this.output.fail(error ?? new Error(`${rotation.names[attempt.index]} produced no audio`));
      return;
    }
    rotation.fellBack(attempt.index, attempt.index + 1, reason, error);
    attempt.controller.abort(new Error(`tts fallback: ${reason}`));
    // The sentence being spoken when it failed may be cut: it is said again from its start.
    const resumeAt = attempt.lastAudioSegment >= 0 ? attempt.lastAudioSegment : attempt.offset;
    this.start(attempt.index + 1, resumeAt);
  }
}
