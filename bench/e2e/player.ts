/**
 * A zero-latency player for the agent's speech: each chunk plays the moment it arrives (after whatever is still
 * playing), so playback is paced by arrival. It answers with the playback receipts of docs/protocol.md, each
 * counting the playout since the latest `speech` message: `started` on its first audio, `stopped` on `clear`,
 * and `finished` whenever its buffer runs dry (the client cannot know no more audio is coming; the server takes
 * the one that comes after its last audio).
 */
export interface PlaybackReceipt {
  type: 'playback';
  speechId: number;
  event: 'started' | 'stopped' | 'finished';
  playedMs?: number;
}

export interface ReceiptPlayerOptions {
  now: () => number;
  send: (receipt: PlaybackReceipt) => void;
}

export class ReceiptPlayer {
  outputSampleRate = 16_000;
  /** Audio that arrived after a `clear` and before the next `speech`: the server should send none. */
  droppedAfterClearMs = 0;
  private speechId: number | undefined;
  private accepting = false;
  private playoutStarted = false;
  /** Audio arrived since the last `finished`: the next dry buffer gets a receipt. */
  private unreported = false;
  /** Client time at which everything received so far has been played. */
  private playhead = 0;
  /** Audio of the current playout received (and so, for this player, played or queued), in ms. */
  private receivedMs = 0;
  private readonly listeners = new Set<(event: PlayerEvent) => void>();

  constructor(private readonly options: ReceiptPlayerOptions) {}

  get currentSpeechId(): number | undefined {
    return this.speechId;
  }

  /** ms of the current playout heard so far. */
  playedMs(now = this.options.now()): number {
    return Math.max(0, this.receivedMs - Math.max(0, this.playhead - now));
  }

  onEvent(listener: (event: PlayerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `speech`: the audio that follows belongs to this speech (a new one, or a paused one resuming). */
  speech(speechId: number): void {
    this.speechId = speechId;
    this.receivedMs = 0;
    this.unreported = false;
    this.accepting = true;
    this.playoutStarted = false;
  }

  audio(byteLength: number): void {
    const now = this.options.now();
    const durationMs = (byteLength / 2 / this.outputSampleRate) * 1000;
    if (!this.accepting || this.speechId === undefined) {
      this.droppedAfterClearMs += durationMs;
      return;
    }
    if (this.playhead < now) this.playhead = now;
    if (!this.playoutStarted) {
      this.playoutStarted = true;
      this.options.send({ type: 'playback', speechId: this.speechId, event: 'started' });
      this.emit({ type: 'started', speechId: this.speechId, atMs: now });
    }
    this.playhead += durationMs;
    this.receivedMs += durationMs;
    this.unreported = true;
  }

  /** `clear`: drop what is buffered now and say how much was heard. */
  clear(speechId?: number): void {
    const id = speechId ?? this.speechId;
    if (id === undefined || id !== this.speechId) return;
    const now = this.options.now();
    const playedMs = this.playedMs(now);
    this.accepting = false;
    this.unreported = false;
    this.receivedMs = playedMs;
    this.playhead = now;
    this.options.send({ type: 'playback', speechId: id, event: 'stopped', playedMs: Math.round(playedMs) });
    this.emit({ type: 'stopped', speechId: id, atMs: now });
  }

  /** Called on the client's frame timer: notices a buffer that ran dry. */
  tick(now: number): void {
    if (!this.accepting || !this.unreported || this.speechId === undefined || now < this.playhead) return;
    this.unreported = false;
    this.options.send({
      type: 'playback',
      speechId: this.speechId,
      event: 'finished',
      playedMs: Math.round(this.receivedMs),
    });
    this.emit({ type: 'finished', speechId: this.speechId, atMs: now });
  }

  private emit(event: PlayerEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

export interface PlayerEvent {
  type: 'started' | 'stopped' | 'finished';
  speechId: number;
  atMs: number;
}
