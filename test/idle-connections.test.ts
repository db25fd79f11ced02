import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeSocket,
  type OpenedSession,
  openSession,
  ServeProcess,
  TEST_MODEL,
  waitFor,
} from './serve-process.ts';

/**
 * Issue 12: every idle WebSocket held its own pocketsphinx decoder from the moment it connected (~96 MB of RSS
 * each; 57 idle sockets took 6 GB). Decoders now belong to speech, not to connections. Here 300 clients connect
 * to the real `repartee serve` (local stack, as a user starts it, default admission) and stay idle: the server
 * must stay under 2 GB of RSS, or refuse connections past its cap with a clear reason; /health keeps answering;
 * and after they leave, the sessions end and the memory comes back.
 */

const CONNECTIONS = Number(process.env.REPARTEE_IDLE_CONNECTIONS ?? 300);
const RSS_BOUND_BYTES = 2 * 1024 ** 3;
/** Clients connecting at once: a crowd arriving, without the test client itself becoming the bottleneck. */
const BATCH = 20;
const MB = 1024 * 1024;

let server: ServeProcess;

beforeAll(async () => {
  server = await ServeProcess.start({
    args: ['--llm', `llama:${TEST_MODEL}`],
    // REPARTEE_IDLE_MAX_SESSIONS=1000 lifts the admission cap, to measure all 300 held.
    env: {
      REPARTEE_LLM_THREADS: '1',
      ...(process.env.REPARTEE_IDLE_MAX_SESSIONS
        ? { REPARTEE_MAX_SESSIONS: process.env.REPARTEE_IDLE_MAX_SESSIONS }
        : {}),
    },
  });
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

describe(`${CONNECTIONS} idle WebSocket connections (local stack, real server)`, () => {
  it('stay under 2 GB of server RSS or are refused past the cap with a reason, and the memory comes back', async () => {
    await waitFor('a first /health', async () => (await server.health()).ok);
    // Warm-up: the first session loads what every session shares (a decoder kept warm, the VAD model, JIT).
    const first = await openSession(server.wsUrl);
    await closeSocket(first.socket);
    await waitFor('the warm-up session to end', async () => (await server.health()).sessions === 0);
    await new Promise((r) => setTimeout(r, 2_000));
    const baselineRss = server.rssBytes();
    const open: OpenedSession[] = [];
    const refusals: string[] = [];
    let peakRss = baselineRss;
    let slowestHealthMs = 0;
    for (let i = 0; i < CONNECTIONS; i += BATCH) {
      const batch = await Promise.allSettled(
        Array.from({ length: Math.min(BATCH, CONNECTIONS - i) }, () => openSession(server.wsUrl)),
      );
      for (const result of batch) {
        if (result.status === 'fulfilled') open.push(result.value);
        else refusals.push((result.reason as Error).message);
      }
      peakRss = Math.max(peakRss, server.rssBytes());
      const health = await server.health();
      expect(health.ok, `/health after ${i + BATCH} connections: ${health.error}`).toBe(true);
      slowestHealthMs = Math.max(slowestHealthMs, health.latencyMs);
    }
    // Idle for a moment with everyone connected: nothing grows on its own.
    await new Promise((r) => setTimeout(r, 2_000));
    const heldRss = server.rssBytes();
    peakRss = Math.max(peakRss, heldRss);
    const sessions = (await server.health()).sessions ?? -1;
    console.log(
      `${open.length} idle sessions held, ${refusals.length} refused; server RSS ${Math.round(baselineRss / MB)} MB ` +
        `before, ${Math.round(heldRss / MB)} MB held (peak ${Math.round(peakRss / MB)} MB), ` +
        `${((heldRss - baselineRss) / MB / Math.max(1, open.length)).toFixed(2)} MB per idle session; ` +
        `slowest /health ${Math.round(slowestHealthMs)} ms`,
    );
    if (refusals.length) console.log(`first refusal: ${refusals[0]}`);

    expect(server.alive).toBe(true);
    expect(peakRss).toBeLessThan(RSS_BOUND_BYTES);
    expect(open.length + refusals.length).toBe(CONNECTIONS);
    expect(sessions).toBe(open.length);
    // A refusal is the admission cap saying so (503 + Retry-After), never a dropped or timed-out connection.
    for (const reason of refusals) expect(reason).toMatch(/refused: HTTP (503|429)/);

    await Promise.all(open.map(({ socket }) => closeSocket(socket)));
    await waitFor('every session to end', async () => (await server.health()).sessions === 0);
    // The native heap is trimmed a moment after the last close; V8 keeps some of its grown heap. Compare with
    // the warmed server.
    let afterRss = server.rssBytes();
    await waitFor(
      'RSS to come back near the baseline',
      () => {
        afterRss = server.rssBytes();
        return afterRss < baselineRss * 1.25;
      },
      30_000,
    ).catch(() => undefined);
    console.log(`after close: ${Math.round(afterRss / MB)} MB (baseline ${Math.round(baselineRss / MB)} MB)`);
    expect(afterRss).toBeLessThan(baselineRss * 1.25);
  }, 600_000);
});
