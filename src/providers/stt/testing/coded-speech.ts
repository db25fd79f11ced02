/**
 * Tone-coded "speech" for the fake STT servers: word k of a vocabulary is a stretch of samples held at level
 * k × CODE_STEP, words are separated by silence. A fake server decodes the audio it receives, so a transcript
 * exists only for audio that really arrived, in the right format and at the right rate: a client that drops, repeats
 * or mis-encodes audio gets wrong words, and one that fails to replay after a reconnect loses them.
 */
export const CODE_STEP = 1000;
/** A level must hold this long to count: resampler ringing at the edges of a word is shorter. */
export const MIN_RUN_MS = 40;

export interface CodedWord {
  word: string;
  startMs: number;
  endMs: number;
}

/** Lays words out one after another: `wordMs` of tone, then `gapMs` of silence. */
export function spacedWords(text: string, startMs: number, wordMs = 240, gapMs = 100): CodedWord[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((word, i) => ({
      word,
      startMs: startMs + i * (wordMs + gapMs),
      endMs: startMs + i * (wordMs + gapMs) + wordMs,
    }));
}

/** PCM16 of `durationMs` with each word's stretch held at its code level. Throws for a word not in the vocabulary. */
export function encodeWords(
  vocabulary: readonly string[],
  words: readonly CodedWord[],
  durationMs: number,
  sampleRate = 16_000,
): Int16Array {
  const out = new Int16Array(Math.round((durationMs * sampleRate) / 1000));
  for (const { word, startMs, endMs } of words) {
    const code = vocabulary.indexOf(word) + 1;
    if (code === 0) throw new Error(`"${word}" is not in the vocabulary`);
    if (code * CODE_STEP > 32_000) throw new Error('vocabulary too large for tone coding');
    const from = Math.round((startMs * sampleRate) / 1000);
    const to = Math.min(out.length, Math.round((endMs * sampleRate) / 1000));
    out.fill(code * CODE_STEP, from, to);
  }
  return out;
}

export interface DecodedWord {
  word: string;
  /** Audio time from the start of the decoded stream. */
  startMs: number;
  endMs: number;
}

/** Incremental decoder of tone-coded audio at a given sample rate. */
export class CodedSpeechDecoder {
  private samples = 0;
  private runCode = 0;
  private runStart = 0;
  /** The current run was already reported (a finalisation cut it short). */
  private runReported = false;
  private lastVoicedEnd = 0;
  private voicedSince: number | undefined;

  constructor(
    private readonly vocabulary: readonly string[],
    private readonly sampleRate: number,
    private readonly onWord: (word: DecodedWord) => void,
    private readonly onSpeechStart: (atMs: number) => void = () => {},
  ) {}

  /** Audio time decoded so far. */
  get positionMs(): number {
    return this.ms(this.samples);
  }

  /** Silence since the last voiced audio, in ms (0 while voiced). */
  get silenceMs(): number {
    return this.runCode !== 0 ? 0 : this.positionMs - this.lastVoicedEnd;
  }

  push(samples: Int16Array): void {
    for (let i = 0; i < samples.length; i++) {
      const code = Math.max(0, Math.round(samples[i] / CODE_STEP));
      if (code !== this.runCode) {
        this.endRun();
        this.runCode = code;
        this.runStart = this.samples;
        this.runReported = false;
      }
      this.samples++;
      if (code !== 0 && this.voicedSince === undefined && this.samples - this.runStart >= this.minRun()) {
        this.voicedSince = this.ms(this.runStart);
        this.onSpeechStart(this.voicedSince);
      }
    }
  }

  /** Reports the word being spoken now, if long enough, as if it had ended (Finalize / commit). */
  finish(): void {
    if (this.runCode !== 0 && !this.runReported && this.samples - this.runStart >= this.minRun()) {
      this.runReported = true;
      this.report(this.runStart, this.samples);
    }
  }

  private endRun(): void {
    if (this.runCode === 0) return;
    if (this.samples - this.runStart < this.minRun()) return; // an edge transient, not a word
    this.lastVoicedEnd = this.ms(this.samples);
    if (!this.runReported) this.report(this.runStart, this.samples);
  }

  private report(from: number, to: number): void {
    const word = this.vocabulary[this.runCode - 1] ?? '[unknown]';
    this.lastVoicedEnd = this.ms(to);
    this.onWord({ word, startMs: this.ms(from), endMs: this.ms(to) });
  }

  /** Called by servers after a silence long enough to end an utterance: the next voiced run is a new start. */
  resetSpeechStart(): void {
    this.voicedSince = undefined;
  }

  private minRun(): number {
    return Math.round((MIN_RUN_MS * this.sampleRate) / 1000);
  }

  private ms(samples: number): number {
    return (samples * 1000) / this.sampleRate;
  }
}

/** Decodes a whole clip (the batch transcription fake). */
export function decodeWords(
  vocabulary: readonly string[],
  samples: Int16Array,
  sampleRate: number,
): DecodedWord[] {
  const words: DecodedWord[] = [];
  const decoder = new CodedSpeechDecoder(vocabulary, sampleRate, (w) => words.push(w));
  decoder.push(samples);
  decoder.push(new Int16Array(Math.round((MIN_RUN_MS * 2 * sampleRate) / 1000)));
  return words;
}
