import type { TurnMetrics } from '../metrics/schema.ts';
import type { RecordingSide, SessionStart, StoredEvent } from './types.ts';

/** What the session side of a store queues: one entry per call, written later in batches off the audio path. */
export type QueuedWrite =
  | { t: 'begin'; session: SessionStart }
  | { t: 'end'; sessionId: string; endedAt: number }
  | { t: 'turn'; sessionId: string; at: number; turn: TurnMetrics }
  | ({ t: 'event' } & StoredEvent)
  | {
      t: 'audio';
      sessionId: string;
      side: RecordingSide;
      atMs: number;
      samples: Int16Array;
      sampleRate: number;
    };

/**
 * The write half of `ConversationStore`, the same for every backend: each call becomes one queued entry and
 * returns at once; audio is kept only for sessions that record. A backend decides how the queue is written.
 */
export abstract class QueuedStoreWrites {
  private readonly recordingSessions = new Set<string>();

  protected abstract enqueue(write: QueuedWrite): void;

  beginSession(session: SessionStart): void {
    if (session.recording) this.recordingSessions.add(session.id);
    this.enqueue({ t: 'begin', session });
  }

  endSession(sessionId: string, endedAt: number): void {
    this.recordingSessions.delete(sessionId);
    this.enqueue({ t: 'end', sessionId, endedAt });
  }

  addTurn(sessionId: string, turn: TurnMetrics, at: number): void {
    this.enqueue({ t: 'turn', sessionId, at, turn });
  }

  addEvent(event: StoredEvent): void {
    this.enqueue({ t: 'event', ...event });
  }

  addAudio(
    sessionId: string,
    side: RecordingSide,
    atMs: number,
    samples: Int16Array,
    sampleRate: number,
  ): void {
    if (!this.recordingSessions.has(sessionId)) return;
    // A copy: the caller's buffer may be reused for the next frame.
    this.enqueue({ t: 'audio', sessionId, side, atMs, samples: samples.slice(), sampleRate });
  }
}
