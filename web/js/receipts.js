// Playback receipts (docs/protocol.md): what the listener heard, reported as it happens. A sample rendered by
// the audio graph reaches the speakers `engine.earDelayMs()` later, so each receipt waits that long.

export function createReceipts({ engine, debug, send }) {
  const later = (message) => {
    const delayMs = engine.earDelayMs();
    if (delayMs < 1) send(message);
    else setTimeout(() => send(message), delayMs);
  };
  return {
    started(speechId) {
      debug.started(speechId, performance.now());
      later({ type: 'playback', speechId, event: 'started' });
    },
    stopped(speechId, playedMs) {
      debug.stopped(speechId, performance.now(), playedMs);
      later({ type: 'playback', speechId, event: 'stopped', playedMs: Math.round(playedMs) });
    },
    /** `playedMs` may be left out when the client cannot know it; the server then counts what it sent. */
    finished(speechId, playedMs) {
      debug.finished(speechId, performance.now(), playedMs ?? null);
      const message = { type: 'playback', speechId, event: 'finished' };
      if (playedMs !== undefined) message.playedMs = Math.round(playedMs);
      later(message);
    },
  };
}
