// Playback receipts (docs/protocol.md): what the listener heard, reported as it happens. The server stamps a
// receipt when it arrives, so each one is sent at the moment its sound reaches the speakers: `atMs`
// (performance.now() of when the page rendered or detected it) plus the output latency `engine.earDelayMs()`.

export function createReceipts({ engine, debug, send }) {
  const at = (message, atMs) => {
    const delayMs = atMs + engine.earDelayMs() - performance.now();
    if (delayMs < 1) send(message);
    else setTimeout(() => send(message), delayMs);
  };
  return {
    started(speechId, atMs = performance.now()) {
      debug.started(speechId, atMs);
      at({ type: 'playback', speechId, event: 'started' }, atMs);
    },
    stopped(speechId, playedMs, atMs = performance.now()) {
      debug.stopped(speechId, atMs, playedMs);
      at({ type: 'playback', speechId, event: 'stopped', playedMs: Math.round(playedMs) }, atMs);
    },
    /** `playedMs` may be left out when the client cannot know it; the server then counts what it sent. */
    finished(speechId, playedMs, atMs = performance.now()) {
      debug.finished(speechId, atMs, playedMs ?? null);
      const message = { type: 'playback', speechId, event: 'finished' };
      if (playedMs !== undefined) message.playedMs = Math.round(playedMs);
      at(message, atMs);
    },
  };
}
