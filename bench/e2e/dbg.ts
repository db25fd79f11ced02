import { runClient, startServerProcess } from './processes.ts';
import { fastProfile } from './profiles.ts';

const n = Number(process.argv[2] ?? 25);
const server = await startServerProcess({ stack: 'simulated', profile: fastProfile() });
const r = await runClient(
  {
    url: server.url,
    sessions: n,
    staggerMs: 6000,
    connectConcurrency: 16,
    connectTimeoutMs: 10000,
    script: {
      mode: 'turns',
      turns: 2,
      warmupTurns: 0,
      thinkMs: 500,
      bargeInAfterMs: 600,
      turnTimeoutMs: 20000,
    },
  },
  server,
  {
    timeoutMs: 120000,
    sampleEveryMs: 1000,
    onSample: (at, s) =>
      console.log(
        at.toFixed(0),
        s.eventLoopP50Ms.toFixed(1),
        s.eventLoopP99Ms.toFixed(1),
        s.eventLoopMaxMs.toFixed(1),
        (s.rssBytes / 1048576).toFixed(0),
        s.cpuMs.toFixed(0),
        s.sessions,
      ),
  },
);
console.log(r.result.records.map((x) => x.voiceToVoiceMs).join(' '));
await server.close();
