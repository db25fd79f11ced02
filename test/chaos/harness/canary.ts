/**
 * The canary: one well-behaved conversation streaming real LibriVox speech in real time over the WebSocket
 * protocol with playback receipts, in its own client process (the bench's client, bench/e2e/client.ts), so the
 * misbehaving clients' work in the test process cannot slow its microphone or its player.
 */
import type { ServerStats } from '../../../bench/e2e/ipc.ts';
import { runClient } from '../../../bench/e2e/processes.ts';
import { summarize } from '../../../src/metrics/stats.ts';
import type { ServeProcess } from '../../serve-process.ts';

export interface CanaryResult {
  turns: number;
  /** Server-side voice-to-voice of each answered turn (first audio played at the client − end of speech). */
  voiceToVoiceMs: number[];
  p50Ms: number | null;
  p95Ms: number | null;
  /** Turns with no completed reply: timed out, or answered with an error or nothing. */
  missed: number;
  /** Why, for each missed turn (and then the canary's turn records, to see what happened instead). */
  missedWhy: string[];
  errors: Record<string, number>;
  /** Median of each stage over the answered turns, ms: where the canary's time went. */
  stagesP50Ms: Record<string, number | null>;
}

const STAGES = ['eouDelayMs', 'transcriptionDelayMs', 'llmTtftMs', 'ttsTtfbMs', 'transportMs'] as const;

export interface CanaryOptions {
  turns: number;
  /** A turn with no reply within this is missed. */
  turnTimeoutMs?: number;
  /** Pause between a reply's end and the next clip. */
  thinkMs?: number;
  /** First clip of the LibriVox list (turns take the next ones). */
  clipOffset?: number;
}

/** The bench client samples server stats; here they come from outside the process (/health and /proc). */
function statsSource(server: ServeProcess) {
  return {
    url: server.url,
    pid: server.pid,
    description: 'repartee serve',
    close: async () => {},
    stats: async (): Promise<ServerStats> => {
      const health = await server.health();
      return {
        rssBytes: server.alive ? server.rssBytes() : 0,
        heapUsedBytes: Number.NaN,
        cpuMs: Number.NaN,
        eventLoopP50Ms: Number.NaN,
        eventLoopP99Ms: Number.NaN,
        eventLoopMaxMs: Number.NaN,
        sessions: health.sessions ?? -1,
        sessionFailures: 0,
      };
    },
  };
}

export async function runCanary(server: ServeProcess, options: CanaryOptions): Promise<CanaryResult> {
  const turnTimeoutMs = options.turnTimeoutMs ?? 20_000;
  const { result } = await runClient(
    {
      url: server.url,
      sessions: 1,
      staggerMs: 0,
      connectConcurrency: 1,
      connectTimeoutMs: 20_000,
      script: {
        mode: 'turns',
        turns: options.turns,
        warmupTurns: 0,
        thinkMs: options.thinkMs ?? 300,
        bargeInAfterMs: 600,
        turnTimeoutMs,
      },
    },
    statsSource(server),
    // The longest clip is 7.1 s; each turn fits in clip + timeout + pause.
    { timeoutMs: 30_000 + options.turns * (8_000 + turnTimeoutMs), sampleEveryMs: 5_000 },
  );
  const missedWhy: string[] = [];
  if (result.sessionsConnected === 0)
    missedWhy.push(`canary could not connect: ${result.connectFailures.join('; ')}`);
  result.turns.forEach((turn, i) => {
    if (turn.timedOut)
      missedWhy.push(
        `turn ${i} (clip ${turn.clip}): no reply record within ${turnTimeoutMs} ms of the clip's end ` +
          `(first reply audio ${turn.clientVoiceToVoiceMs === undefined ? 'never came' : `came ${Math.round(turn.clientVoiceToVoiceMs)} ms after the speech`})`,
      );
  });
  const missingTurns = Math.max(0, options.turns - result.turns.length);
  for (let i = 0; i < missingTurns; i++) missedWhy.push('turn never played (canary session ended early)');
  // A clip that got its reply is answered, even if a fragment of it (a pause mid-sentence) made a turn of its
  // own that ended with no reply; the records below show such fragments when something was missed.
  const missed = missedWhy.length;
  if (missed)
    missedWhy.push(
      `canary records: ${
        result.records
          .map((r) => {
            const at = (r as { receivedAt?: number }).receivedAt;
            const clipEnd = result.turns[0]?.clipEndAt;
            const when =
              at !== undefined && clipEnd !== undefined ? ` at +${Math.round(at - clipEnd)} ms` : '';
            return `#${r.turnId} ${r.outcome}${when} v2v ${r.voiceToVoiceMs === null ? '—' : Math.round(r.voiceToVoiceMs)} "${r.userTranscript}"`;
          })
          .join(', ') || 'none'
      } (times from the first clip's end)`,
    );
  const answered = result.records.filter((r) => r.outcome === 'completed' && r.voiceToVoiceMs !== null);
  const v2v = answered.map((r) => r.voiceToVoiceMs as number);
  const stats = v2v.length ? summarize(v2v) : undefined;
  return {
    turns: options.turns,
    voiceToVoiceMs: v2v,
    p50Ms: stats ? stats.p50 : null,
    p95Ms: stats ? stats.p95 : null,
    missed,
    missedWhy,
    errors: result.errors,
    stagesP50Ms: Object.fromEntries(
      STAGES.map((stage) => [stage, summarize(answered.map((r) => r[stage])).p50]),
    ),
  };
}
