/**
 * The bench server process (forked by bench/e2e.ts): Repartee's own HTTP/WebSocket server on 127.0.0.1 with a
 * free port, on either the embedded local stack or simulated cloud-like providers behind the real Silero VAD.
 * It reports its address, then answers `stats` requests (RSS, CPU, event-loop delay) over IPC until `close`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createCaches } from '../../src/config/cache.ts';
import { ConfigSchema, type ReparteeConfig } from '../../src/config/config.ts';
import { createProviders, type ProviderSet } from '../../src/config/providers.ts';
import { createConfiguredSession } from '../../src/config/session.ts';
import { SimulatedLlm } from '../../src/providers/llm/simulated.ts';
import { SimulatedStt } from '../../src/providers/stt/simulated.ts';
import { SimulatedTts } from '../../src/providers/tts/simulated.ts';
import { createSileroVad } from '../../src/providers/vad/silero.ts';
import { Observability } from '../../src/server/dashboard-setup.ts';
import { startServer } from '../../src/server/server.ts';
import { loadClips } from './clips.ts';
import { type ServerProcessMessage, ServerSpec, type SimulatedProfile } from './ipc.ts';
import { benchVendors, vendorStack } from './vendors.ts';

const LOOP_RESOLUTION_MS = 10;
/** The histogram holds whole timer intervals; what matters is how late the timer fired. */
const lateMs = (intervalNs: number) => Math.max(0, intervalNs / 1e6 - LOOP_RESOLUTION_MS);

async function simulatedProviders(
  profile: SimulatedProfile,
  questions?: readonly string[],
  config?: ReparteeConfig,
): Promise<ProviderSet> {
  const clips = await loadClips();
  let seed = 0;
  // REPARTEE_BENCH_PROVIDERS: the named cloud clients on their vendors' fakes instead of the simulated ones.
  const vendors = benchVendors();
  const utterances = clips.map((c, i) => ({
    samples: c.samples,
    text: questions?.[i % questions.length] ?? c.text,
  }));
  const stack = vendors.length ? await vendorStack(vendors, profile, utterances) : undefined;
  return {
    vad: createSileroVad(),
    // The repeated-questions pass caches in memory only: every run starts cold.
    ...(questions && config ? { caches: createCaches(config, {}, ['simulated']) } : {}),
    stt:
      stack?.stt ??
      new SimulatedStt({
        utterances,
        finalDelay: profile.sttFinal,
        interimDelayMs: profile.sttInterimDelayMs,
      }),
    tts:
      stack?.createTts?.() ??
      new SimulatedTts({ ttfb: profile.ttsTtfb, realTimeFactor: profile.ttsRealTimeFactor }),
    ...(stack?.createTts ? { createSessionTts: stack.createTts } : {}),
    llmSpec: stack ? `simulated:${profile.name} with ${stack.description}` : `simulated:${profile.name}`,
    createSessionLlm:
      stack?.createLlm ??
      (async () =>
        new SimulatedLlm({
          ttft: profile.llmTtft,
          tokensPerSecond: profile.llmTokensPerSecond,
          replies: profile.replies,
          seed: ++seed,
        })),
    close: async () => {
      await stack?.close();
    },
  };
}

/** The caches on, memory only; questions asked in any turn are learned (they stand alone by construction). */
const CACHED = { cache: { tts: { dir: '' }, response: { enabled: true, storeFrom: 'anyTurn' } } };

/** `on`: the default SQLite store in a temporary file; `record`: with both sides recorded; else none. */
function benchStore(mode: string | undefined): Observability | undefined {
  if (mode !== 'on' && mode !== 'record') return undefined;
  // bench:store --postgres: the PostgreSQL store (a database the bench made on its own server).
  const url = process.env.REPARTEE_BENCH_STORE_URL;
  if (url) return new Observability(ConfigSchema.parse({ store: { url, recordAudio: mode === 'record' } }));
  const path = join(mkdtempSync(join(tmpdir(), 'repartee-bench-store-')), 'conversations.db');
  return new Observability(ConfigSchema.parse({ store: { path, recordAudio: mode === 'record' } }));
}

async function main(spec: ServerSpec, send: (message: ServerProcessMessage) => void): Promise<void> {
  // The product's defaults (endpointing, interruptions, preemptive generation) apply to both stacks.
  const config = ConfigSchema.parse(
    spec.stack === 'local'
      ? // Named explicitly: an API key in the environment must not turn the local pass into a cloud one.
        {
          vad: 'silero',
          stt: 'local',
          tts: 'local',
          llm: spec.llm,
          llmThreads: 1,
          llmMaxTokens: spec.llmMaxTokens,
        }
      : spec.questions
        ? CACHED
        : {},
  );
  const providers =
    spec.stack === 'local'
      ? await createProviders(config)
      : await simulatedProviders(spec.profile, spec.questions, config);
  let sessionFailures = 0;
  const observability = benchStore(process.env.REPARTEE_BENCH_STORE);
  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    createSession: () => createConfiguredSession(config, providers),
    // bench:store: the SQLite store (and recordings) on or off, to measure what it costs the audio path.
    ...(observability ? { dashboard: observability.serverHooks } : {}),
    onSessionError: () => sessionFailures++,
    // The capacity bench finds the limit itself: no admission cap in its way.
    admission: { maxSessions: 100_000 },
  });
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  send({
    type: 'listening',
    url: running.url,
    description:
      spec.stack === 'local'
        ? `local stack: ${config.vad} VAD, ${config.stt} STT, ${config.tts} TTS, ${providers.llmSpec}`
        : `simulated ${spec.profile.name}: Silero VAD, ${providers.llmSpec}`,
  });
  process.on('message', async (message: { type: 'stats'; gc?: boolean } | { type: 'close' }) => {
    if (message.type === 'stats') {
      // A soak asks for a full collection first, so the heap it reports is what is still referenced.
      if (message.gc) (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      send({
        type: 'stats',
        stats: {
          rssBytes: memory.rss,
          heapUsedBytes: memory.heapUsed,
          cpuMs: (cpu.user + cpu.system) / 1000,
          eventLoopP50Ms: lateMs(loop.percentile(50)),
          eventLoopP99Ms: lateMs(loop.percentile(99)),
          eventLoopMaxMs: lateMs(loop.max),
          sessions: running.sessions(),
          sessionFailures,
        },
      });
      loop.reset();
    } else if (message.type === 'close') {
      await running.close();
      await observability?.close();
      await providers.close();
      process.exit(0);
    }
  });
}

if (process.send) {
  const send = (message: ServerProcessMessage) => process.send?.(message);
  try {
    await main(ServerSpec.parse(JSON.parse(process.argv[2] ?? '')), send);
  } catch (error) {
    send({ type: 'failed', message: (error as Error).stack ?? String(error) });
    process.exit(1);
  }
}
