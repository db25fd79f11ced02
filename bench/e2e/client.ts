/**
 * The bench client process (forked by bench/e2e.ts; never in the server's process, so its CPU does not hide
 * the server's). It opens the sessions, drives them all from one 10 ms frame timer, runs their scripts and
 * sends back what it collected over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BenchSession } from './client-session.ts';
import { loadClips } from './clips.ts';
import { sliceFrames } from './frames.ts';
import type { ClientProcessMessage, ClientScenario } from './ipc.ts';

const PUMP_INTERVAL_MS = 10;
const LOOP_RESOLUTION_MS = 5;

async function runScenario(
  scenario: ClientScenario,
  report: (message: ClientProcessMessage) => void,
): Promise<void> {
  const source = sliceFrames(await loadClips());
  const sessions = Array.from({ length: scenario.sessions }, (_, i) => new BenchSession(i, source));
  const live = new Set<BenchSession>();
  const pump = setInterval(() => {
    const now = performance.now();
    for (const session of live) session.pump(now);
  }, PUMP_INTERVAL_MS);
  const connectFailures: string[] = [];
  const queue = [...sessions];
  const url = `${scenario.url.replace(/^http/, 'ws')}/ws`;
  await Promise.all(
    Array.from({ length: Math.max(1, scenario.connectConcurrency) }, async () => {
      for (let session = queue.shift(); session; session = queue.shift()) {
        try {
          await session.connect(url, scenario.connectTimeoutMs);
          live.add(session);
        } catch (error) {
          connectFailures.push(`session ${session.index}: ${(error as Error).message}`);
        }
      }
    }),
  );
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  void report({ type: 'running' });
  const connected = sessions.filter((s) => live.has(s));
  const untilMs = scenario.durationMs === undefined ? undefined : t0 + scenario.durationMs;
  await Promise.all(
    connected.map((session, i) =>
      session.run({
        ...scenario.script,
        clipOffset: session.index,
        startDelayMs: (i * scenario.staggerMs) / Math.max(1, connected.length),
        untilMs,
      }),
    ),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  clearInterval(pump);
  for (const session of sessions) session.close();
  const errors: Record<string, number> = {};
  for (const session of connected)
    for (const [key, n] of session.errors) errors[key] = (errors[key] ?? 0) + n;
  await report({
    type: 'result',
    result: {
      sessionsConnected: connected.length,
      connectFailures,
      records: connected.flatMap((s) => s.countedRecords()),
      turns: connected.flatMap((s) => s.turns.slice(scenario.script.warmupTurns)),
      errors,
      droppedAfterClearMs: connected.reduce((sum, s) => sum + s.droppedAfterClearMs, 0),
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs,
      // The histogram holds whole timer intervals; how late the timer fired is what matters.
      eventLoopP99Ms: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
    },
  });
}

if (process.send) {
  // Resolves once the message is handed to the IPC channel: disconnecting earlier can lose a large result.
  const send = (message: ClientProcessMessage) =>
    new Promise<void>((resolve) => {
      if (!process.send) return resolve();
      process.send(message, undefined, {}, () => resolve());
    });
  process.once('message', (message: { type: 'run'; scenario: ClientScenario }) => {
    runScenario(message.scenario, send)
      .catch((error: Error) => send({ type: 'failed', message: error.stack ?? error.message }))
      .finally(() => process.disconnect());
  });
}
