/**
 * A turn commits on silence the session has actually heard. The commit timer runs on the session clock, but the
 * audio behind it can lag: frames arrive late from a client or a busy feeder, and an asynchronous VAD scores a
 * backlog on a loaded machine. Committing at the timer would answer into a pause the user had already spoken
 * through; waiting for the audio keeps the decision on the user's timeline, within bounds so a client that stops
 * sending audio (push-to-talk, a muted microphone) is still answered.
 */

export interface AudioProgress {
  /** Session-clock end of the latest audio received from the user. */
  receivedUntilMs: number;
  /** Session-clock time up to which the VAD has judged that audio (see `VadStream.settledUntilMs`). */
  settledUntilMs: number;
}

export interface HeardSilenceBounds {
  /** Longest wait past the due time for audio that has not arrived (late frames, or a client that stopped). */
  lateAudioGraceMs: number;
  /** Longest wait past the due time for the VAD to judge audio that has arrived. */
  vadBacklogCapMs: number;
}

export const DEFAULT_HEARD_SILENCE_BOUNDS: HeardSilenceBounds = {
  lateAudioGraceMs: 300,
  vadBacklogCapMs: 3000,
};

/**
 * Whether a commit due at `dueAtMs` (the last voiced audio plus the chosen delay) should wait for more audio to be
 * heard. Without progress (a VAD that judges synchronously) it never waits.
 */
export function shouldAwaitHeardSilence(
  progress: AudioProgress | undefined,
  dueAtMs: number,
  nowMs: number,
  bounds: HeardSilenceBounds = DEFAULT_HEARD_SILENCE_BOUNDS,
): boolean {
  if (!progress || progress.settledUntilMs >= dueAtMs) return false;
  const lateByMs = nowMs - dueAtMs;
  if (progress.receivedUntilMs >= dueAtMs) return lateByMs < bounds.vadBacklogCapMs;
  return lateByMs < bounds.lateAudioGraceMs;
}
