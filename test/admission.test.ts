import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import {
  CLOUD_SESSION_BYTES,
  defaultMaxSessions,
  LOCAL_DECODER_POOL_BYTES,
  LOCAL_SESSION_BYTES,
  MAX_SESSIONS_PER_THREAD,
} from '../src/server/admission.ts';
import type { LoopLagReport } from '../src/server/loop-lag.ts';
import type { RunningServer, ServerOptions } from '../src/server/server.ts';
import {
  PARSER_BREAKING_OFFER,
  rawRequest,
  startScriptedServer,
  type UpgradeResult,
  until,
  upgrade,
} from './security/server-fixture.ts';

let running: RunningServer | undefined;
const open: WebSocket[] = [];
afterEach(async () => {
  for (const ws of open.splice(0)) ws.terminate();
  await running?.close();
  running = undefined;
});

async function start(options: Partial<ServerOptions>) {
  const started = await startScriptedServer(options);
  running = started.running;
  return started;
}

async function openSession(server: RunningServer, headers: Record<string, string> = {}) {
  const result = await upgrade(server, headers);
  if (result.kind !== 'open') throw new Error(`refused: ${result.status} ${result.body}`);
  open.push(result.ws);
  await until(() => result.messages.some((m) => m.type === 'ready'), '"ready"');
  return result;
}

function refused(result: UpgradeResult) {
  if (result.kind === 'open') {
    open.push(result.ws);
    throw new Error('expected a refusal, the socket opened');
  }
  return result;
}

const offer = (server: RunningServer, headers: Record<string, string> = {}) =>
  rawRequest(server, '/rtc/offer', {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', ...headers },
    body: PARSER_BREAKING_OFFER,
  });

describe('admission', { timeout: 120_000 }, () => {
  it('derives the default cap from the measured cost per session and the memory, within one thread', () => {
    const gib = 1024 ** 3;
    const local = { perSessionBytes: LOCAL_SESSION_BYTES, reservedBytes: LOCAL_DECODER_POOL_BYTES };
    // 24 GiB: half of it, less the decoder pool, holds far more than one thread serves well.
    expect(defaultMaxSessions({ ...local, memoryBytes: 24 * gib })).toBe(MAX_SESSIONS_PER_THREAD);
    // A 2 GiB container: (1 GiB - 960 MiB) / 8 MiB.
    expect(defaultMaxSessions({ ...local, memoryBytes: 2 * gib })).toBe(8);
    expect(defaultMaxSessions({ ...local, memoryBytes: 1 * gib })).toBe(1);
    expect(defaultMaxSessions({ perSessionBytes: CLOUD_SESSION_BYTES, memoryBytes: 1 * gib })).toBe(128);
  });

  it('refuses sessions past maxSessions with 503 and Retry-After on /ws and /rtc/offer, before any session exists', async () => {
    const { running: server, created } = await start({ admission: { maxSessions: 2, retryAfterSeconds: 7 } });
    const first = await openSession(server);
    await openSession(server);
    expect(created()).toBe(2);

    const third = refused(await upgrade(server));
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('7');
    expect(third.body).toMatch(/limit of 2 sessions/);
    const rtc = await offer(server);
    expect(rtc.status).toBe(503);
    expect(rtc.headers['retry-after']).toBe('7');
    expect(created()).toBe(2);
    const health = JSON.parse((await rawRequest(server, '/health')).body);
    expect(health).toMatchObject({ sessions: 2, maxSessions: 2 });

    // A place comes back when its session ends.
    first.ws.close();
    let next: UpgradeResult | undefined;
    await until(async () => {
      next = await upgrade(server);
      if (next.kind === 'open') return true;
      expect(next.status).toBe(503);
      return false;
    }, 'a free place after a close');
    if (next?.kind === 'open') open.push(next.ws);

    const scrape = (await rawRequest(server, '/metrics')).body;
    expect(scrape).toMatch(/^repartee_refused_total\{reason="capacity"\} [1-9]\d*$/m);
    expect(scrape).toMatch(/^repartee_sessions_max 2$/m);
  });

  it('gives the place back when a WebRTC offer fails, so failures never use up the server', async () => {
    const { running: server } = await start({ admission: { maxSessions: 1 } });
    for (let i = 0; i < 5; i++) expect((await offer(server)).status).toBe(400); // each one admitted, then failed
    await openSession(server);
  });

  it('caps sessions per client address, the one a trusted proxy names; loopback only when asked', async () => {
    const { running: server } = await start({
      admission: { maxSessions: 50, maxSessionsPerClient: 2, trustedProxies: ['127.0.0.1'] },
    });
    const alice = { 'x-forwarded-for': '203.0.113.7' };
    await openSession(server, alice);
    await openSession(server, { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' }); // last hop is the client
    const third = refused(await upgrade(server, alice));
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBeDefined();
    expect(third.body).toMatch(/too many sessions from your address/);
    expect((await offer(server, alice)).status).toBe(429);
    // Someone else behind the same proxy is not affected.
    await openSession(server, { 'x-forwarded-for': '203.0.113.8' });
    // Loopback clients (local programs) count only towards maxSessions by default.
    for (let i = 0; i < 3; i++) await openSession(server);
    const scrape = (await rawRequest(server, '/metrics')).body;
    expect(scrape).toMatch(/^repartee_refused_total\{reason="client"\} 2$/m);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const { running: server } = await start({
      admission: { maxSessions: 50, maxSessionsPerClient: 1, limitLoopbackClients: true },
    });
    await openSession(server, { 'x-forwarded-for': '203.0.113.7' });
    // A client cannot escape its cap by claiming to be someone else.
    const second = refused(await upgrade(server, { 'x-forwarded-for': '203.0.113.99' }));
    expect(second.status).toBe(429);
  });
});

describe('event-loop lag', () => {
  it('is exported, logged with what was running, and makes /health degraded until the loop recovers', async () => {
    const reports: LoopLagReport[] = [];
    const { running: server } = await start({
      loopLag: { probeIntervalMs: 20, logAboveMs: 100, degradedAboveMs: 300, degradedHoldMs: 3_000 },
      onEventLoopLag: (report) => reports.push(report),
    });
    await openSession(server);
    const health = async () => JSON.parse((await rawRequest(server, '/health')).body);
    // A loaded machine may lag on its own: start from a healthy state.
    await until(async () => (await health()).status === 'ok', 'ok before the block', 30_000);

    const blockMs = 800;
    const blockedUntil = performance.now() + blockMs;
    while (performance.now() < blockedUntil) {
      // Deliberately blocks the one thread every session shares.
    }
    await until(async () => (await health()).status === 'degraded', 'degraded after the block');
    const degraded = await health();
    expect(degraded.eventLoopLagMs).toBeGreaterThanOrEqual(blockMs - 100);
    expect(degraded.reason).toMatch(/event-loop lag above 300 ms/);
    const big = reports.find((r) => r.lagMs >= blockMs - 100);
    expect(big, JSON.stringify(reports)).toBeDefined();
    expect(big?.running).toMatchObject({ sessions: 1, states: expect.any(Object) });

    const scrape = (await rawRequest(server, '/metrics')).body;
    expect(scrape).toMatch(/^repartee_event_loop_lag_seconds_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    expect(scrape).toMatch(/^repartee_event_loop_lag_seconds_bucket\{le="0.5"\} \d+$/m);
    const recentMax = Number(/^repartee_event_loop_lag_recent_max_seconds (\S+)$/m.exec(scrape)?.[1]);
    expect(recentMax).toBeGreaterThanOrEqual((blockMs - 100) / 1000);

    // With the loop free again, the status recovers once the hold window has passed.
    await until(async () => (await health()).status === 'ok', 'ok again', 30_000);
    expect((await rawRequest(server, '/metrics')).body).toMatch(/^repartee_degraded 0$/m);
  }, 120_000);
});
