/**
 * What the suite watches while a scenario runs: /health polled on a fixed beat (its worst answer time, and any
 * failure), and the server's RSS at its peak. Polling runs until `stop()`; each answer is awaited before the
 * next, so a frozen server shows as one long answer, not a pile of requests.
 */
import type { ServeProcess } from '../../serve-process.ts';

export interface WatchResult {
  polls: number;
  maxHealthMs: number;
  /** Answers slower than the bound, and failures, with when they happened (ms since the watch began). */
  slow: { atMs: number; latencyMs: number; error?: string }[];
  failures: number;
  peakRssBytes: number;
}

export function watchServer(server: ServeProcess, options: { everyMs?: number; boundMs: number }) {
  const everyMs = options.everyMs ?? 100;
  const t0 = performance.now();
  const result: WatchResult = { polls: 0, maxHealthMs: 0, slow: [], failures: 0, peakRssBytes: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const answer = await server.health(3000);
      result.polls++;
      result.maxHealthMs = Math.max(result.maxHealthMs, answer.latencyMs);
      if (!answer.ok) result.failures++;
      if (!answer.ok || answer.latencyMs > options.boundMs) {
        if (result.slow.length < 20)
          result.slow.push({
            atMs: Math.round(started - t0),
            latencyMs: Math.round(answer.latencyMs),
            error: answer.error,
          });
      }
      if (server.alive) result.peakRssBytes = Math.max(result.peakRssBytes, server.rssBytes());
      const wait = everyMs - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    result,
    /** Current peak RSS (for guards that stop a scenario before it exhausts the machine). */
    peakRssBytes: () => result.peakRssBytes,
    async stop(): Promise<WatchResult> {
      running = false;
      await loop;
      return result;
    },
  };
}

/** Polls `probe` until it is true or `timeoutMs` passes; resolves with whether it became true. */
export async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
