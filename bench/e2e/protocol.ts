/**
 * The server → client JSON messages of docs/protocol.md, as the bench client reads them. The server is another
 * process: what it sends is checked, and anything unexpected is counted rather than trusted.
 */
import { z } from 'zod';

const ms = z.number().nullable();

/** The fields of a turn record the bench reads (src/metrics/schema.ts); others pass through. */
export const TurnRecord = z.looseObject({
  sessionId: z.string(),
  turnId: z.number(),
  speechId: z.number().nullable(),
  eouDelayMs: ms,
  transcriptionDelayMs: ms,
  llmTtftMs: ms,
  ttsTtfbMs: ms,
  /** First text to the first audible sample (absent from servers before issue 15). */
  ttsTtfaMs: ms.default(null),
  transportMs: ms,
  voiceToVoiceMs: ms,
  interruptionStopMs: ms,
  pipelineOverheadMs: ms,
  outcome: z.enum(['completed', 'interrupted', 'noReply', 'error']),
  userTranscript: z.string(),
});
export type TurnRecord = z.infer<typeof TurnRecord>;

export const ServerMessage = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('ready'),
    sessionId: z.string(),
    inputSampleRate: z.number(),
    outputSampleRate: z.number(),
  }),
  z.looseObject({ type: z.literal('state'), state: z.string() }),
  z.looseObject({ type: z.literal('transcript'), text: z.string(), final: z.boolean() }),
  z.looseObject({ type: z.literal('conversationItem') }),
  z.looseObject({ type: z.literal('speech'), speechId: z.number() }),
  z.looseObject({ type: z.literal('clear'), speechId: z.number().optional() }),
  z.looseObject({ type: z.literal('speechEnded'), speechId: z.number(), outcome: z.string() }),
  z.looseObject({ type: z.literal('metrics'), metrics: TurnRecord }),
  z.looseObject({ type: z.literal('error'), message: z.string(), source: z.string().optional() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** The latency metrics the bench reports, in the order it prints them. */
export const LATENCY_METRICS = [
  'eouDelayMs',
  'transcriptionDelayMs',
  'llmTtftMs',
  'ttsTtfbMs',
  'ttsTtfaMs',
  'transportMs',
  'voiceToVoiceMs',
  'interruptionStopMs',
  'pipelineOverheadMs',
] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];
