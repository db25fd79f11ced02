/**
 * The repeated-questions pass of `npm run bench`: callers ask the same few stand-alone questions again and again
 * (cloud-like simulated latencies, the real Silero VAD and endpointing, the WebSocket client playing LibriVox audio
 * in real time). The server runs the TTS audio cache and the response cache; the first time a question is asked
 * it misses (LLM + TTS), later it is answered from the cache. Reported: hit rate, voice-to-voice p50 on hits
 * against misses, and how far a hit lands past the endpointing wait (target: within EOU wait + 50 ms).
 */
import { type Summary, summarize } from '../../src/metrics/stats.ts';
import { describeProfile, type PassOptions, run, scenario, withServer } from './passes.ts';
import { cloudProfile } from './profiles.ts';
import type { TurnRecord } from './protocol.ts';
import { table } from './report.ts';
import { type ServerLoad, serverLoad } from './results.ts';

/** What callers of a shop's line ask; none refers to an earlier turn, so each may be answered from the cache. */
export const FAQ_QUESTIONS = [
  'What are your opening hours?',
  'Where can I park my car?',
  'How do I reset my password?',
  'Do you deliver on weekends?',
  'How can I get a refund?',
];

/** The target: a response-cache hit is heard within the endpointing wait plus this. */
export const HIT_TARGET_MS = 50;

export interface RepeatedPass {
  name: 'repeated';
  description: string;
  sessions: number;
  turns: number;
  /** Turns by what the response cache did (`hit`, `miss`, `skipped`, `off`). */
  response: Record<string, number>;
  /** Hits / (hits + misses). */
  hitRate: number | null;
  ttsHits: number;
  ttsMisses: number;
  voiceToVoiceHitMs: Summary;
  voiceToVoiceMissMs: Summary;
  eouDelayHitMs: Summary;
  /** voiceToVoiceMs − eouDelayMs on hits: what the user waits past the endpointing wait. */
  hitPastEouMs: Summary;
  /** The same on misses (preemptive generation already hides part of the LLM's latency in the wait). */
  missPastEouMs: Summary;
  savedMsOnHits: Summary;
  server: ServerLoad;
  wallMs: number;
}

type CacheField = { ttsHits: number; ttsMisses: number; response: string; savedMs: number };
type CachedRecord = TurnRecord & { cache?: CacheField };

export async function repeatedPass(o: PassOptions): Promise<RepeatedPass> {
  const profile = cloudProfile();
  return withServer({ stack: 'simulated', profile, questions: FAQ_QUESTIONS }, async (server) => {
    const description = `${server.description}; ${describeProfile(profile)}; TTS audio cache + response cache`;
    const turns = o.turns * 2;
    o.log(`repeated: ${o.sessions} sessions × ${turns} turns over ${FAQ_QUESTIONS.length} questions`);
    const clientRun = await run(scenario(server, o.sessions, { turns }, 2000), server);
    const records = clientRun.result.records as CachedRecord[];
    const byResponse = (kind: string) => records.filter((r) => r.cache?.response === kind);
    const hits = byResponse('hit');
    const misses = byResponse('miss');
    const response: Record<string, number> = {};
    for (const r of records)
      response[r.cache?.response ?? 'none'] = (response[r.cache?.response ?? 'none'] ?? 0) + 1;
    const past = (r: CachedRecord) =>
      r.voiceToVoiceMs === null || r.eouDelayMs === null ? null : r.voiceToVoiceMs - r.eouDelayMs;
    return {
      name: 'repeated',
      description,
      sessions: o.sessions,
      turns: records.length,
      response,
      hitRate: hits.length + misses.length ? hits.length / (hits.length + misses.length) : null,
      ttsHits: records.reduce((n, r) => n + (r.cache?.ttsHits ?? 0), 0),
      ttsMisses: records.reduce((n, r) => n + (r.cache?.ttsMisses ?? 0), 0),
      voiceToVoiceHitMs: summarize(hits.map((r) => r.voiceToVoiceMs)),
      voiceToVoiceMissMs: summarize(misses.map((r) => r.voiceToVoiceMs)),
      eouDelayHitMs: summarize(hits.map((r) => r.eouDelayMs)),
      hitPastEouMs: summarize(hits.map(past)),
      missPastEouMs: summarize(misses.map(past)),
      savedMsOnHits: summarize(hits.map((r) => r.cache?.savedMs)),
      server: serverLoad(clientRun),
      wallMs: Math.round(clientRun.result.wallMs),
    };
  });
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v));

export function repeatedTable(p: RepeatedPass): string {
  const row = (label: string, s: Summary) => [label, s.count, fmt(s.p50), fmt(s.p95)];
  return table(
    ['turns', 'count', 'p50 ms', 'p95 ms'],
    [
      row('voiceToVoiceMs, response-cache hits', p.voiceToVoiceHitMs),
      row('voiceToVoiceMs, misses', p.voiceToVoiceMissMs),
      row('eouDelayMs, hits', p.eouDelayHitMs),
      row('voiceToVoiceMs − eouDelayMs, hits', p.hitPastEouMs),
      row('voiceToVoiceMs − eouDelayMs, misses', p.missPastEouMs),
      row('provider time saved per hit', p.savedMsOnHits),
    ],
  );
}

export function repeatedNotes(p: RepeatedPass): string {
  const rate = p.hitRate === null ? '—' : `${Math.round(p.hitRate * 100)} %`;
  const tts = p.ttsHits + p.ttsMisses ? Math.round((p.ttsHits / (p.ttsHits + p.ttsMisses)) * 100) : 0;
  return (
    `${p.description}\n${p.sessions} sessions, ${p.turns} turns: response cache ${JSON.stringify(p.response)}, ` +
    `hit rate ${rate}; TTS segments from the audio cache ${tts} % (${p.ttsHits}/${p.ttsHits + p.ttsMisses}); ` +
    `server CPU ${p.server.cpuPercent ?? '—'} %`
  );
}

/** The pass's target row: a hit heard within the endpointing wait + 50 ms (p50). */
export function repeatedTarget(p: RepeatedPass): { target: string; measured: string; met: boolean | null } {
  const past = p.hitPastEouMs.p50;
  return {
    target: `response-cache hit: voiceToVoice ≤ EOU wait + ${HIT_TARGET_MS} ms (p50)`,
    measured: past === null ? '—' : `EOU + ${Math.round(past)} ms`,
    met: past === null ? null : past <= HIT_TARGET_MS,
  };
}

export function repeatedMarkdown(p: RepeatedPass | { error: string } | undefined): string {
  if (!p) return '';
  if ('error' in p) return `\n## Repeated questions (caches)\n\nfailed: ${p.error}\n`;
  const t = repeatedTarget(p);
  return (
    `\n## Repeated questions (caches)\n\n${repeatedTable(p)}\n\n${repeatedNotes(p)}\n\n` +
    `Target: ${t.target}: ${t.measured} (${t.met === null ? '—' : t.met ? 'met' : 'not met'})\n`
  );
}
