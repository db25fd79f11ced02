import { fallbackStateOf } from '../providers/llm/fallback-rotation.ts';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions, WordTiming } from '../providers/tts/contract.ts';
import { AsyncQueue } from '../util/async-queue.ts';
import { digestOf, normalizeSpokenText } from './normalize.ts';
import type { CachedSegment, TtsAudioStore } from './tts-store.ts';

export interface CachedTtsOptions {
  store: TtsAudioStore;
  /**
   * What else decides the sound besides the provider's name: the spec strings (voice, model), engine options.
   * Part of every key.
   */
  identity?: string;
  /** Time source for the saved-time figure. Default performance.now. */
  now?: () => number;
}

/**
 * A TTS audio cache around any TTS: each flushed segment (a sentence) is looked up by provider in use, identity
 * (voice, model, options), sample rate and normalised text; a hit streams the stored frames at once (same frame
 * sizes, same word timings), a miss is synthesized by the wrapped TTS on a stream of its own and stored when it
 * completes (never when it was cut off, nor when a fallback list switched provider in the middle of it).
 *
 * The wrapper takes whole segments: `streamingInput` is false, so a streaming-input engine (ElevenLabs' socket)
 * gets a sentence at a time while the cache is on. Interruption is the caller's signal, as for any TTS: a
 * cached segment stops at the next frame, and the segment being synthesized is aborted. Misses are synthesized one
 * after the other, in order, as the wrapped engine would on one stream (no extra load under concurrency).
 */
export class CachedTts implements TTS {
  readonly name: string;
  readonly sampleRate: number;
  readonly streamingInput = false;

  constructor(
    readonly inner: TTS,
    private readonly options: CachedTtsOptions,
  ) {
    this.name = inner.name;
    this.sampleRate = inner.sampleRate;
  }

  /** A fallback list's state, passed through (the session's metrics read it). */
  get activeProvider(): string | undefined {
    return fallbackStateOf(this.inner)?.activeProvider;
  }

  get fallbackCount(): number | undefined {
    return fallbackStateOf(this.inner)?.fallbackCount;
  }

  get store(): TtsAudioStore {
    return this.options.store;
  }

  /** The provider whose voice a segment synthesized now would have. */
  currentProvider(): string {
    return fallbackStateOf(this.inner)?.activeProvider ?? this.inner.name;
  }

  keyOf(provider: string, normalizedText: string): string {
    return digestOf(['tts', 1, provider, this.options.identity ?? '', this.sampleRate, normalizedText]);
  }

  now(): number {
    return (this.options.now ?? performance.now.bind(performance))();
  }

  stream(options: TtsStreamOptions): TtsStream {
    return new CachedTtsStream(this, options);
  }

  /**
   * Synthesizes, one after the other, the segments not cached yet (fixed phrases said at start: greetings,
   * status lines, apologies). Resolves with how many were synthesized and how many were already there.
   */
  async presynthesize(
    segments: readonly string[],
    signal: AbortSignal,
  ): Promise<{ synthesized: number; cached: number }> {
    let synthesized = 0;
    let cached = 0;
    for (const text of new Set(segments.map(normalizeSpokenText).filter(Boolean))) {
      if (signal.aborted) break;
      const stream = this.stream({
        signal,
        onCacheLookup: (hit) => {
          if (hit) cached++;
          else synthesized++;
        },
      });
      stream.pushText(text);
      stream.flush();
      stream.end();
      for await (const _ of stream) if (signal.aborted) break;
    }
    return { synthesized, cached };
  }

  prewarm(): Promise<void> {
    return this.inner.prewarm?.() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

type Source =
  | { kind: 'hit'; segment: CachedSegment }
  | { kind: 'miss'; text: string; key: string; normalized: string; provider: string };

interface LiveSegment {
  stream: TtsStream;
  key: string;
  text: string;
  provider: string;
  startedAt: number;
}

class CachedTtsStream implements TtsStream {
  private pending = '';
  private readonly items = new AsyncQueue<Promise<Source | undefined>>();
  private readonly output = new AsyncQueue<TtsAudio>();
  /** Stops the segment being synthesized when this stream ends early. */
  private readonly live = new AbortController();
  private emittedSamples = 0;

  constructor(
    private readonly owner: CachedTts,
    private readonly options: TtsStreamOptions,
  ) {
    void this.pump();
  }

  pushText(text: string): void {
    this.pending += text;
  }

  flush(): void {
    const text = this.pending;
    this.pending = '';
    // Looked up now; a miss is synthesized in order (startLive).
    const source = this.resolve(text);
    source.catch(() => undefined);
    this.items.push(source);
  }

  end(): void {
    if (this.pending.trim()) this.flush();
    this.items.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.output[Symbol.asyncIterator]();
  }

  private async resolve(text: string): Promise<Source | undefined> {
    const normalized = normalizeSpokenText(text);
    if (!normalized) return undefined;
    const { owner } = this;
    const provider = owner.currentProvider();
    const key = owner.keyOf(provider, normalized);
    const segment = await owner.store.get(key);
    if (segment && segment.sampleRate === owner.sampleRate) return { kind: 'hit', segment };
    return { kind: 'miss', text, key, normalized, provider };
  }

  /** A miss is synthesized when its turn comes, right after the segment before it, as the engine alone would. */
  private startLive(miss: Extract<Source, { kind: 'miss' }>): LiveSegment {
    const signal = AbortSignal.any([this.options.signal, this.live.signal]);
    const stream = this.owner.inner.stream({ signal });
    stream.pushText(miss.text);
    stream.flush();
    stream.end();
    return {
      stream,
      key: miss.key,
      text: miss.normalized,
      provider: miss.provider,
      startedAt: this.owner.now(),
    };
  }

  private async pump(): Promise<void> {
    const { signal, onCacheLookup } = this.options;
    let index = 0;
    try {
      for await (const pending of this.items) {
        const segmentIndex = index++;
        const source = await pending;
        if (signal.aborted) break;
        if (!source) continue;
        if (source.kind === 'hit') {
          onCacheLookup?.(true, source.segment.ttfbMs);
          this.replay(source.segment, segmentIndex, signal);
          continue;
        }
        onCacheLookup?.(false, 0);
        await this.synthesize(this.startLive(source), segmentIndex, signal);
      }
      this.output.end();
    } catch (error) {
      if (signal.aborted) this.output.end();
      else this.output.fail(error);
    } finally {
      this.live.abort(new Error('tts cache stream ended'));
    }
  }

  private replay(segment: CachedSegment, index: number, signal: AbortSignal): void {
    segment.frames.forEach((samples, i) => {
      if (signal.aborted) return;
      // A copy: whoever plays it may not change what the next hit plays.
      this.emit(samples.slice(), index, i === 0 ? segment.words : undefined);
    });
  }

  private async synthesize(source: LiveSegment, index: number, signal: AbortSignal) {
    const { owner } = this;
    const frames: Int16Array[] = [];
    let words: WordTiming[] | undefined;
    let ttfbMs: number | undefined;
    let first = true;
    for await (const audio of source.stream) {
      if (signal.aborted) return;
      ttfbMs ??= owner.now() - source.startedAt;
      if (first && audio.words) words = audio.words;
      first = false;
      if (audio.frame.sampleRate !== owner.sampleRate) {
        throw new Error(
          `${owner.name} gave ${audio.frame.sampleRate} Hz audio, expected ${owner.sampleRate}`,
        );
      }
      frames.push(audio.frame.samples.slice());
      this.emit(audio.frame.samples, index, audio.words, audio);
    }
    if (signal.aborted || frames.length === 0 || ttfbMs === undefined) return;
    // A fallback list that switched provider during the segment: its audio is not the key's voice.
    if (owner.currentProvider() !== source.provider) return;
    owner.store.put(source.key, {
      text: source.text,
      sampleRate: owner.sampleRate,
      frames,
      ...(words ? { words } : {}),
      ttfbMs: Math.round(ttfbMs),
    });
  }

  private emit(samples: Int16Array, segment: number, words?: WordTiming[], from?: TtsAudio): void {
    const sampleRate = this.owner.sampleRate;
    this.output.push({
      ...(from ?? {}),
      segment,
      ...(words ? { words } : {}),
      frame: { samples, sampleRate, timestampMs: (this.emittedSamples * 1000) / sampleRate },
    });
    this.emittedSamples += samples.length;
  }
}
