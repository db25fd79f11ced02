import { z } from 'zod';
import type { WordTiming } from './contract.ts';

/** Character alignment of one audio chunk; times are relative to the start of that chunk's audio. */
export const AlignmentSchema = z.object({
  chars: z.array(z.string()),
  charStartTimesMs: z.array(z.number()),
  charDurationsMs: z.array(z.number()),
});
export type Alignment = z.infer<typeof AlignmentSchema>;

const isSpace = (c: string) => /^\s*$/.test(c);
const countVisible = (text: string) => text.replace(/\s+/g, '').length;

/**
 * ElevenLabs streams one audio sequence for all the text of a connection, with each chunk's character alignment.
 * Counting aligned (non-space) characters against the text of each flushed segment tells which segment a chunk
 * belongs to, and the characters group into word timings relative to the start of that segment's audio.
 */
export class AlignmentTracker {
  private readonly segmentEnds: number[] = [];
  private pendingChars = 0;
  private aligned = 0;
  private word: WordTiming | undefined;
  private wordSegment = -1;

  /** Text sent but not yet flushed (audio may start before the flush). */
  addText(text: string): void {
    this.pendingChars += countVisible(text);
  }

  /** The text since the last flush is one segment. */
  endSegment(): void {
    const previous = this.segmentEnds.at(-1) ?? 0;
    this.segmentEnds.push(previous + this.pendingChars);
    this.pendingChars = 0;
  }

  /** Whether flushed text still waits for its audio (known only through alignment). */
  get awaitingAudio(): boolean {
    return this.aligned < (this.segmentEnds.at(-1) ?? 0);
  }

  /** The segment the next audio belongs to: where the aligned characters have got to. */
  get currentSegment(): number {
    const index = this.segmentEnds.findIndex((end) => end > this.aligned);
    return index < 0 ? this.segmentEnds.length : index;
  }

  /**
   * Takes a chunk's alignment; `offsetMs` is where the chunk's audio starts within its segment. Returns the
   * chunk's segment and the words it completed.
   */
  chunk(alignment: Alignment | undefined, offsetMs: number): { segment: number; words: WordTiming[] } {
    const segment = this.currentSegment;
    const words: WordTiming[] = [];
    if (!alignment) return { segment, words };
    if (this.word && this.wordSegment !== segment) this.closeWord(words);
    const n = Math.min(
      alignment.chars.length,
      alignment.charStartTimesMs.length,
      alignment.charDurationsMs.length,
    );
    for (let i = 0; i < n; i++) {
      const c = alignment.chars[i];
      if (isSpace(c)) {
        this.closeWord(words);
        continue;
      }
      const startMs = offsetMs + alignment.charStartTimesMs[i];
      const endMs = startMs + alignment.charDurationsMs[i];
      if (this.word) {
        this.word.word += c;
        this.word.endMs = endMs;
      } else {
        this.word = { word: c, startMs, endMs };
        this.wordSegment = segment;
      }
      this.aligned++;
      // The last character of a segment ends its last word even without a following space.
      if (this.segmentEnds.includes(this.aligned)) this.closeWord(words);
    }
    return { segment, words };
  }

  private closeWord(into: WordTiming[]): void {
    if (this.word) into.push(this.word);
    this.word = undefined;
  }
}
