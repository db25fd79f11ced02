import { AsyncQueue } from '../../util/async-queue.ts';
import type { TtsAudio, TtsStream } from './contract.ts';

/**
 * The text side of a TTS stream that synthesises whole segments: pushed text gathers until `flush()` queues it
 * as one segment (an empty one included, so segment numbers match the caller's flush count), `end()` queues the
 * rest; the subclass reads `segments` and writes `output`.
 */
export abstract class SegmentQueueStream implements TtsStream {
  private pending = '';
  protected readonly segments = new AsyncQueue<string>();
  protected readonly output = new AsyncQueue<TtsAudio>();

  /** `blankTail`: whether text left at `end()` that is only white space still makes a segment. */
  constructor(private readonly blankTail: 'segment' | 'drop') {}

  pushText(text: string): void {
    this.pending += text;
  }

  flush(): void {
    this.segments.push(this.pending);
    this.pending = '';
  }

  end(): void {
    if (this.blankTail === 'segment' ? this.pending : this.pending.trim()) this.flush();
    this.segments.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
    return this.output[Symbol.asyncIterator]();
  }
}
