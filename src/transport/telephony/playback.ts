import type { AudioSink } from '../playout.ts';
import type { PlaybackReceipts } from '../receipts.ts';
import type { PhoneWire } from './wire.ts';

interface PendingMark {
  speechId: number;
  /** Audio of the speech sent before this mark, in ms: what has played once it comes back. */
  playedMs: number;
  first: boolean;
}

/**
 * The agent's speech to a phone stream, with the provider's marks as playback receipts. A mark goes out before
 * the first chunk of a speech (it comes back as that chunk starts playing: `started`) and after every chunk (the
 * latest one back means all sent audio has played: `finished`). After `clear` the provider drops its buffer and
 * returns the marks still pending (Twilio) or acknowledges (`cleared`, Vonage): that is when the caller's audio
 * stopped (`stopped`), and the last mark that came back before the clear tells how much was heard.
 */
export class PhonePlayback implements AudioSink {
  private speechId = 0;
  private sentMs = 0;
  private started = false;
  private readonly pending = new Map<string, PendingMark>();
  private readonly heardMs = new Map<number, number>();
  private cleared: { speechId: number; answered: boolean } | undefined;
  private counter = 0;

  constructor(
    private readonly wire: PhoneWire,
    private readonly sendText: (data: string | Buffer) => void,
    private readonly open: () => boolean,
    private readonly receipts: PlaybackReceipts,
  ) {}

  get sampleRate(): number {
    return this.wire.sampleRate;
  }

  isOpen(): boolean {
    return this.open();
  }

  /** Nothing of ours is waiting in the provider's playback buffer (every mark sent has come back). */
  idle(): boolean {
    return this.pending.size === 0;
  }

  /** A new speech starts (the playout's `speech` message). */
  begin(speechId: number): void {
    this.speechId = speechId;
    this.sentMs = 0;
    this.started = false;
  }

  sendAudio(samples: Int16Array): void {
    if (!this.started) {
      this.started = true;
      this.sendMark({ speechId: this.speechId, playedMs: 0, first: true });
    }
    this.sendText(this.wire.media(samples));
    this.sentMs += (samples.length * 1000) / this.wire.sampleRate;
    this.sendMark({ speechId: this.speechId, playedMs: this.sentMs, first: false });
  }

  /** The playout's `clear`: barge-in. */
  clear(speechId: number): void {
    this.sendText(this.wire.clear());
    this.cleared = { speechId, answered: false };
    // Nothing left in the provider's buffer: the audio has already stopped.
    if (![...this.pending.values()].some((m) => m.speechId === speechId)) this.answerClear();
  }

  /** A mark came back from the provider. */
  onMark(name: string): void {
    const mark = this.pending.get(name);
    if (!mark) return; // not ours, or already settled
    this.pending.delete(name);
    if (this.cleared?.speechId === mark.speechId) {
      this.answerClear();
      return;
    }
    this.heardMs.set(mark.speechId, mark.playedMs);
    if (mark.first) this.receive(mark.speechId, 'started', 0);
    else if (![...this.pending.values()].some((m) => m.speechId === mark.speechId))
      this.receive(mark.speechId, 'finished', mark.playedMs);
  }

  /** The provider acknowledged our clear (Vonage `websocket:cleared`). */
  onCleared(): void {
    if (this.cleared) this.answerClear();
  }

  private answerClear(): void {
    const cleared = this.cleared;
    if (!cleared || cleared.answered) return;
    cleared.answered = true;
    for (const [name, mark] of this.pending)
      if (mark.speechId === cleared.speechId) this.pending.delete(name);
    this.receive(cleared.speechId, 'stopped', this.heardMs.get(cleared.speechId) ?? 0);
  }

  private sendMark(mark: PendingMark): void {
    const name = `r${mark.speechId}.${++this.counter}`;
    // A provider that never answers marks must not grow this without bound.
    if (this.pending.size >= 5000) this.pending.delete(this.pending.keys().next().value as string);
    this.pending.set(name, mark);
    this.sendText(this.wire.mark(name));
  }

  private receive(speechId: number, event: 'started' | 'stopped' | 'finished', playedMs: number): void {
    this.receipts.receive({ type: 'playback', speechId, event, playedMs });
  }
}
