import type { AudioFrame } from '../audio/frame.ts';
import type { Clock } from '../metrics/clock.ts';
import type { TurnMarks } from '../metrics/turn.ts';
import type { TTS, TtsStream, WordTiming } from '../providers/tts/contract.ts';
import type { Notifier } from '../util/emitter.ts';
import { heardText } from './heard.ts';
import type { AudioOutput, PlayoutReceipt } from './io.ts';

export interface BufferedPlayoutDeps {
  speechId: number;
  clock: Clock;
  tts: TTS;
  output: AudioOutput;
  /** The speech's signal: once it aborts, the TTS stream, the playout and any late frame are done with. */
  signal: AbortSignal;
  /** Shared with the speech, which notifies it on authorization and abort; the playout adds audio and resume. */
  changed: Notifier;
  marks: TurnMarks;
  usage: { ttsCharacters: number; ttsCache?: { hits: number; misses: number; savedMs: number } };
  /** A preemptive speech is generated before its turn is confirmed, but nobody hears it until then. */
  isAuthorized(): boolean;
  onFirstPlayed(atMs: number): void;
  /** A sentence's first audio went to the output (once per sentence): its text can be shown as it is heard. */
  onSentencePlaying?(text: string, step: number): void;
  onPlayoutStopped(receipt: PlayoutReceipt): void;
  /** The TTS stream failed (never called after the abort). */
  onError(error: unknown): void;
  onChange(): void;
  /** Everything produced so far has been handed to the output: the user hears nothing more for now. */
  onOutputIdle(): void;
  /**
   * The output closed (the client is gone) or kept refusing audio: the playout has ended for good and the
   * speech should end too (its LLM and TTS serve nobody now).
   */
  onOutputLost?(reason: OutputLostReason): void;
  /** A playout the output stopped by itself with nothing played is retried after this long. Default 20 ms. */
  stalledRetryMs?: number;
  /** …at most this many times in a row; then the output counts as lost. Default 5. */
  maxStalledPlays?: number;
}

export type OutputLostReason = 'closed' | 'stalled';

const DEFAULT_STALLED_RETRY_MS = 20;
const DEFAULT_MAX_STALLED_PLAYS = 5;

interface BufferedFrame {
  frame: AudioFrame;
  segment: number;
}

/**
 * The audio side of one speech: sentences go to one TTS stream, the frames it returns are kept (counted per
 * sentence segment), and playout runs from the position the user has heard up to. Keeping the frames is what
 * lets a tentative interruption pause playout and a false one resume it without losing or repeating audio, and
 * the heard position is what the history records of an interrupted reply.
 */
export class BufferedPlayout {
  private readonly frames: BufferedFrame[] = [];
  private readonly segmentTexts: string[] = [];
  /** Word timings, trimmed lead-in and sample rate per segment, where the TTS gives timings (heard text). */
  private readonly segmentWords: (WordTiming[] | undefined)[] = [];
  private readonly segmentTrimMs: (number | undefined)[] = [];
  private readonly segmentRates: (number | undefined)[] = [];
  /** The last segment whose text was announced as playing (a resumed pause does not announce it again). */
  private announcedSegment = -1;
  private readonly segmentSteps: number[] = [];
  private readonly segmentSamples: number[] = [];
  private tts: TtsStream | undefined;
  private audioConsumer: Promise<void> = Promise.resolve();
  private playController: AbortController | undefined;
  private textEnded = false;
  private audioDone = false;
  private paused = false;
  private playedSamples = 0;
  private staleFrames = 0;
  private hasPlayedAudio = false;
  private playoutEnded = false;
  /** Every frame produced so far has been handed to the output. */
  private outputIdle = true;

  constructor(private readonly deps: BufferedPlayoutDeps) {}

  get isPaused(): boolean {
    return this.paused;
  }
  get hasPlayed(): boolean {
    return this.hasPlayedAudio;
  }
  get isOutputIdle(): boolean {
    return this.outputIdle;
  }
  /** All text was spoken, the TTS delivered all its audio and the playout loop has returned. */
  get isFinished(): boolean {
    return this.textEnded && this.audioDone && this.playoutEnded;
  }
  /** Settles when the TTS stream has ended (an aborted one should end promptly, a misbehaving one may not). */
  get audioSettled(): Promise<void> {
    return this.audioConsumer;
  }
  get hasAudio(): boolean {
    return this.frames.length > 0;
  }
  /** Frames the TTS delivered after the abort: dropped, never played. */
  get droppedStaleFrames(): number {
    return this.staleFrames;
  }
  get playedMs(): number {
    return (this.playedSamples * 1000) / this.deps.tts.sampleRate;
  }

  /** Sends one sentence to the TTS as its own segment; `step` ties it to the LLM step it came from. */
  speak(sentence: string, step: number): void {
    const { clock, tts, marks } = this.deps;
    if (!this.tts) {
      const cache = this.deps.usage.ttsCache;
      this.tts = tts.stream({
        signal: this.deps.signal,
        // Segments served by a TTS audio cache (src/cache/cached-tts.ts), for the turn's `cache` metrics.
        onCacheLookup: cache
          ? (hit, savedMs) => {
              if (hit) cache.hits++;
              else cache.misses++;
              cache.savedMs += savedMs;
            }
          : undefined,
      });
      this.audioConsumer = this.consumeAudio(this.tts);
    }
    const now = clock.now();
    marks.firstSentenceAt ??= now;
    marks.ttsFirstTextAt ??= now;
    this.segmentTexts.push(sentence);
    this.segmentSteps.push(step);
    this.segmentSamples.push(0);
    this.deps.usage.ttsCharacters += sentence.length;
    this.tts.pushText(sentence);
    this.tts.flush();
  }

  /** No more sentences: the TTS may finish (with nothing spoken, there is no audio to wait for). */
  endText(): void {
    this.textEnded = true;
    if (this.tts) this.tts.end();
    else this.audioDone = true;
  }

  /** Stops playout at once, keeping the audio so `resume()` continues where the user stopped hearing. */
  pause(): void {
    if (this.paused || this.deps.signal.aborted) return;
    this.paused = true;
    this.playController?.abort();
    this.deps.output.clear();
    this.deps.onChange();
  }

  resume(): void {
    if (!this.paused || this.deps.signal.aborted) return;
    this.paused = false;
    this.deps.changed.notify();
    this.deps.onChange();
  }

  /** The speech was aborted: stop the playout and drop what the output buffered, if it ever got any. */
  stop(): void {
    this.playController?.abort();
    if (this.hasPlayedAudio || this.deps.isAuthorized()) this.deps.output.clear();
  }

  /** What the user heard of one LLM step's text; `complete` when the whole speech played out. */
  heardOf(step: number, complete: boolean): string {
    return heardText({
      texts: this.segmentTexts,
      samples: this.segmentSamples,
      steps: this.segmentSteps,
      step,
      playedSamples: complete ? Number.POSITIVE_INFINITY : this.playedSamples,
      words: this.segmentWords,
      trimmedMs: this.segmentTrimMs,
      sampleRates: this.segmentRates,
    });
  }

  /**
   * Plays whenever the speech is authorized, not paused and has audio to play, until all of it has played or
   * the speech is aborted. Each pause ends one `output.play()`; the next starts from the heard position.
   */
  async run(): Promise<void> {
    const { output, tts, signal, changed } = this.deps;
    const maxStalledPlays = this.deps.maxStalledPlays ?? DEFAULT_MAX_STALLED_PLAYS;
    let stalledPlays = 0;
    try {
      for (;;) {
        while (
          !signal.aborted &&
          (!this.deps.isAuthorized() || this.paused || !this.hasUnplayedOrPending())
        ) {
          if (this.deps.isAuthorized() && !this.paused && this.allAudioPlayed()) return;
          await changed.wait();
        }
        if (signal.aborted) return;
        if (output.isClosed) return this.lose('closed');
        this.playController = new AbortController();
        const playSignal = AbortSignal.any([signal, this.playController.signal]);
        const receipt = await output.play(this.unplayedFrames(playSignal), {
          signal: playSignal,
          speechId: this.deps.speechId,
          onFirstPlayed: (atMs) => {
            if (this.hasPlayedAudio) return;
            this.hasPlayedAudio = true;
            this.deps.marks.firstPlayedAt = atMs;
            this.deps.onFirstPlayed(atMs);
          },
        });
        this.playController = undefined;
        const stopped = receipt.interruptedAtMs !== undefined || playSignal.aborted;
        // A playout that ran to its end played everything it was given; only a stopped one needs the count.
        this.playedSamples = stopped
          ? Math.min(
              this.totalSamples(),
              this.playedSamples + Math.round((receipt.playedMs * tts.sampleRate) / 1000),
            )
          : this.totalSamples();
        if (receipt.interruptedAtMs !== undefined) this.deps.onPlayoutStopped(receipt);
        if (signal.aborted) return;
        if (receipt.outputClosed || output.isClosed) return this.lose('closed');
        // The output stopped by itself without playing anything: playing again at once could repeat that
        // forever without ever yielding to the event loop (the close handler that ends the session would never
        // run). Retry only after a real wait, and give up after a few.
        const stalled = stopped && !playSignal.aborted && receipt.playedMs === 0;
        stalledPlays = stalled ? stalledPlays + 1 : 0;
        if (stalledPlays >= maxStalledPlays) return this.lose('stalled');
        if (stalled) await this.waitForChangeOr(this.deps.stalledRetryMs ?? DEFAULT_STALLED_RETRY_MS);
      }
    } finally {
      this.playoutEnded = true;
      this.deps.onChange();
    }
  }

  private lose(reason: OutputLostReason): void {
    this.deps.onOutputLost?.(reason);
  }

  /** A change of the speech (abort, pause, new audio) or `ms` on the clock, whichever comes first. */
  private async waitForChangeOr(ms: number): Promise<void> {
    const timer = new AbortController();
    try {
      await Promise.race([
        this.deps.changed.wait(),
        this.deps.clock.sleep(ms, timer.signal).catch(() => undefined),
      ]);
    } finally {
      timer.abort(); // the sleep's timer must not outlive the wait
    }
  }

  private async consumeAudio(stream: TtsStream): Promise<void> {
    const { signal, changed } = this.deps;
    try {
      for await (const audio of stream) {
        if (signal.aborted) {
          this.staleFrames++;
          continue;
        }
        const { marks } = this.deps;
        const now = this.deps.clock.now();
        // The engine's first frame (before a trimmed quiet lead-in) and the first frame with sound in it.
        marks.ttsFirstAudioAt ??= audio.trim?.firstFrameAtMs ?? now;
        if (marks.ttsFirstAudibleAt === undefined) {
          marks.ttsFirstAudibleAt = now;
          marks.firstAudibleOffsetMs = audio.trim?.audibleOffsetMs ?? 0;
        }
        this.frames.push({ frame: { ...audio.frame, speechId: this.deps.speechId }, segment: audio.segment });
        if (audio.segment < this.segmentSamples.length) {
          this.segmentSamples[audio.segment] += audio.frame.samples.length;
          this.segmentRates[audio.segment] ??= audio.frame.sampleRate;
          if (audio.trim) this.segmentTrimMs[audio.segment] = audio.trim.trimmedMs;
          if (audio.words?.length) {
            this.segmentWords[audio.segment] = [...(this.segmentWords[audio.segment] ?? []), ...audio.words];
          }
        }
        changed.notify();
      }
    } catch (error) {
      if (!signal.aborted) this.deps.onError(error);
    } finally {
      this.audioDone = true;
      changed.notify();
    }
  }

  private hasUnplayedOrPending(): boolean {
    return this.playedSamples < this.totalSamples() || !this.audioDone;
  }

  private allAudioPlayed(): boolean {
    return this.audioDone && this.textEnded && this.playedSamples >= this.totalSamples();
  }

  private totalSamples(): number {
    let total = 0;
    for (const n of this.segmentSamples) total += n;
    return total;
  }

  /** Frames from the played position on, waiting for more until the audio is complete. */
  private async *unplayedFrames(signal: AbortSignal): AsyncGenerator<AudioFrame> {
    let skip = this.playedSamples;
    let index = 0;
    for (;;) {
      if (signal.aborted) return;
      if (index < this.frames.length) {
        const { frame } = this.frames[index++];
        if (frame.speechId !== this.deps.speechId) continue;
        if (skip >= frame.samples.length) {
          skip -= frame.samples.length;
          continue;
        }
        const out = skip > 0 ? { ...frame, samples: frame.samples.subarray(skip) } : frame;
        const { segment } = this.frames[index - 1];
        if (segment > this.announcedSegment && segment < this.segmentTexts.length) {
          this.announcedSegment = segment;
          this.deps.onSentencePlaying?.(this.segmentTexts[segment], this.segmentSteps[segment]);
        }
        skip = 0;
        this.outputIdle = false;
        this.deps.marks.firstFrameSentAt ??= this.deps.clock.now();
        yield out;
      } else {
        this.markOutputIdle();
        if (this.audioDone) return;
        await this.deps.changed.wait();
      }
    }
  }

  private markOutputIdle(): void {
    if (this.outputIdle) return;
    this.outputIdle = true;
    this.deps.onOutputIdle();
  }
}
