/** What the bench's processes tell each other over IPC: the server's spec and stats, the client's scenario. */
import { z } from 'zod';
import type { LatencySpec } from '../../src/providers/simulated-latency.ts';
import type { ClientTurn, SessionScript } from './client-session.ts';
import type { TurnRecord } from './protocol.ts';

const Latency: z.ZodType<LatencySpec> = z.union([
  z.number().min(0),
  z.object({ minMs: z.number().min(0), maxMs: z.number().min(0) }),
]);

export const SimulatedProfile = z.object({
  name: z.string(),
  sttFinal: Latency,
  sttInterimDelayMs: z.number().min(0),
  llmTtft: Latency,
  llmTokensPerSecond: z.number().positive(),
  ttsTtfb: Latency,
  ttsRealTimeFactor: z.number().min(0),
  replies: z.array(z.string().min(1)).min(1),
});
export type SimulatedProfile = z.infer<typeof SimulatedProfile>;

export const ServerSpec = z.discriminatedUnion('stack', [
  z.object({ stack: z.literal('local'), llm: z.string(), llmMaxTokens: z.number().int().positive() }),
  z.object({
    stack: z.literal('simulated'),
    profile: SimulatedProfile,
    /**
     * The repeated-questions pass: the simulated STT hears clip i as questions[i % n] (stand-alone questions, as
     * callers ask them) and the server runs the TTS audio cache and the response cache.
     */
    questions: z.array(z.string().min(1)).min(1).optional(),
  }),
]);
export type ServerSpec = z.infer<typeof ServerSpec>;

export interface ServerStats {
  rssBytes: number;
  heapUsedBytes: number;
  cpuMs: number;
  /** How late the server's event loop ran a timer (ms beyond its due time), over the last interval. */
  eventLoopP50Ms: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  sessions: number;
  sessionFailures: number;
}

export type ServerProcessMessage =
  | { type: 'listening'; url: string; description: string }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'failed'; message: string };

export interface ClientScenario {
  url: string;
  sessions: number;
  /** Session starts are spread evenly over this window, so turns do not all land at once. */
  staggerMs: number;
  connectConcurrency: number;
  connectTimeoutMs: number;
  script: Omit<SessionScript, 'clipOffset' | 'startDelayMs' | 'untilMs'>;
  /** Keep taking turns for this long (a soak) instead of `script.turns`. */
  durationMs?: number;
}

export interface ClientResult {
  sessionsConnected: number;
  connectFailures: string[];
  records: TurnRecord[];
  turns: ClientTurn[];
  errors: Record<string, number>;
  droppedAfterClearMs: number;
  cpuMs: number;
  wallMs: number;
  eventLoopP99Ms: number;
}

export type ClientProcessMessage =
  | { type: 'running' }
  | { type: 'result'; result: ClientResult }
  | { type: 'failed'; message: string };
