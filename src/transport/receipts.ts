import type { Clock } from '../metrics/clock.ts';
import type { PlaybackEvent, PlaybackMessage } from './protocol.ts';

/** A playback receipt as the server saw it: stamped with the session clock on arrival. */
export interface Receipt {
  speechId: number;
  event: PlaybackEvent;
  atMs: number;
  playedMs: number | undefined;
}

type Listener = (receipt: Receipt) => void;

/**
 * The client's playback receipts for one connection. The playout that is waiting for a receipt subscribes;
 * receipts nobody waits for (a late `finished`, a receipt for a speech already settled) are dropped, never
 * applied to a later playout.
 */
export class PlaybackReceipts {
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly clock: Clock,
    /** Whether the client sends receipts: the playout then times what was heard from them. */
    public enabled = false,
  ) {}

  receive(message: PlaybackMessage): void {
    const receipt: Receipt = {
      speechId: message.speechId,
      event: message.event,
      atMs: this.clock.now(),
      playedMs: message.playedMs,
    };
    for (const listener of [...this.listeners]) listener(receipt);
  }

  /** Calls `listener` with every receipt for `speechId` until the returned function is called. */
  subscribe(speechId: number, listener: Listener): () => void {
    const filtered: Listener = (receipt) => {
      if (receipt.speechId === speechId) listener(receipt);
    };
    this.listeners.add(filtered);
    return () => this.listeners.delete(filtered);
  }
}
