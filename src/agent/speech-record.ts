import type { TurnContextMetrics } from '../context/manager.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import { buildTurnMetrics, type TurnRecordInput } from '../metrics/turn.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { Speech, SpeechResult } from './speech.ts';
import type { CommittedTurn } from './turn-tracker.ts';

/**
 * The history entries of a finished speech: what the user heard of each LLM step, and the tool calls that ran
 * with their results (a call is never recorded without its result).
 */
export function historyEntriesOf(result: SpeechResult): ChatMessage[] {
  const interrupted = result.outcome === 'interrupted';
  const failed = result.outcome === 'error';
  const entries: ChatMessage[] = [];
  result.steps.forEach((step, i) => {
    const answered = step.results.map((r) => r.call);
    const heard = result.heard[i];
    if (answered.length > 0) {
      entries.push({ role: 'assistant', content: heard, toolCalls: answered });
      for (const { call, result: toolResult } of step.results) {
        entries.push({ role: 'tool', toolCallId: call.id, content: toolResult.content });
      }
    } else if (heard) {
      // A failure cuts a reply as a barge-in does: the content is what was heard, marked as cut short.
      const cut =
        (interrupted && (heard !== step.text.trim() || i === result.steps.length - 1)) ||
        (failed && heard !== step.text.trim());
      entries.push({ role: 'assistant', content: heard, ...(cut ? { interrupted: true } : {}) });
    }
  });
  // The apology is what the agent said last, so the next reply knows the user was asked to repeat themselves.
  const apology = result.apology;
  if (apology?.heard) {
    const cut = apology.heard !== apology.text.trim();
    entries.push({ role: 'assistant', content: apology.heard, ...(cut ? { interrupted: true } : {}) });
  }
  return entries;
}

/** Everything the user heard of a speech, the apology after a failure included. */
export function heardTextOf(result: SpeechResult): string {
  return [...result.heard, result.apology?.heard ?? ''].filter(Boolean).join(' ');
}

export interface TurnRecordContext {
  sessionId: string;
  turnId: number;
  turn: CommittedTurn;
  speech: Speech;
  preemptive: TurnMetrics['preemptive'];
  sttAudioMs: number;
  context: TurnContextMetrics;
  providers?: TurnRecordInput['providers'];
  replyCache?: { response: TurnMetrics['cache']['response']; savedMs: number };
  language?: string;
}

/** The turn's metrics record, once its reply has ended. */
export function turnMetricsOf(
  context: TurnRecordContext,
  result: SpeechResult,
  heardText: string,
): TurnMetrics {
  const { turn, speech } = context;
  const outcome: TurnMetrics['outcome'] = result.outcome === 'discarded' ? 'interrupted' : result.outcome;
  const record = buildTurnMetrics({
    sessionId: context.sessionId,
    turnId: context.turnId,
    speechId: speech.id,
    marks: {
      ...speech.marks,
      endOfUserSpeechAt: turn.endOfSpeechAt,
      finalTranscriptAt: turn.finalTranscriptAt,
      committedAt: turn.committedAt,
    },
    usage: { ...speech.usage, sttAudioMs: context.sttAudioMs },
    outcome,
    preemptive: context.preemptive,
    userTranscript: turn.transcript,
    agentText: heardText,
    context: context.context,
    providers: context.providers,
    cache: {
      ttsHits: speech.usage.ttsCache.hits,
      ttsMisses: speech.usage.ttsCache.misses,
      response: context.replyCache?.response ?? 'off',
      savedMs: speech.usage.ttsCache.savedMs + (context.replyCache?.savedMs ?? 0),
    },
  });
  if (context.language) record.language = context.language;
  if (turn.endpointingDelayMs !== undefined) {
    record.turnTaking = {
      endOfTurnProbability: turn.endOfTurnProbability ?? null,
      endpointingDelayMs: turn.endpointingDelayMs,
      signals: turn.turnSignals ?? {},
      resumeMerges: turn.resumeMerges ?? 0,
    };
  }
  return record;
}

const normalizeWords = (text: string): string[] =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9'\s-]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** Words of a transcript, and whether they are only an acknowledgement ("mm-hmm") that must not interrupt. */
export function classifyUtterance(
  text: string,
  backchannels: readonly string[],
): { words: number; backchannel: boolean } {
  const words = normalizeWords(text);
  const phrase = words.join(' ');
  return { words: words.length, backchannel: words.length > 0 && backchannels.includes(phrase) };
}
