import type { TurnMetrics } from './schema.ts';

/** Session-clock timestamps of one turn, filled in as its stages happen. */
export interface TurnMarks {
  endOfUserSpeechAt?: number;
  finalTranscriptAt?: number;
  committedAt?: number;
  llmRequestAt?: number;
  llmFirstTokenAt?: number;
  llmLastTokenAt?: number;
  firstSentenceAt?: number;
  ttsFirstTextAt?: number;
  /** The engine's first frame of the reply, quiet or not. */
  ttsFirstAudioAt?: number;
  /** Arrival of the frame holding the reply's first audible sample (after the lead-in trim). */
  ttsFirstAudibleAt?: number;
  /** Where that sample sits in its frame (quiet kept in front of it), in ms of audio. */
  firstAudibleOffsetMs?: number;
  firstFrameSentAt?: number;
  /** The client played the first reply frame (the playout receipt). */
  firstPlayedAt?: number;
  /** The interrupting speech's start as the VAD placed it, less the look-back it reports (`lookBackMs`). */
  interruptionOnsetAt?: number;
  interruptionStoppedAt?: number;
}

export interface TurnUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  ttsCharacters: number;
  sttAudioMs: number;
  toolMs: number | null;
}

export interface TurnRecordInput {
  sessionId: string;
  turnId: number;
  speechId: number | null;
  marks: TurnMarks;
  usage: TurnUsage;
  outcome: TurnMetrics['outcome'];
  preemptive: TurnMetrics['preemptive'];
  userTranscript: string;
  agentText: string;
  context?: Partial<
    Pick<
      TurnMetrics,
      | 'contextTokens'
      | 'contextMessages'
      | 'summarizedMessages'
      | 'prunedMessages'
      | 'summarizeMs'
      | 'retrievalMs'
      | 'retrievedPassages'
      | 'retrievedTokens'
      | 'memoryItems'
      | 'memoryTokens'
    >
  >;
  cache?: Partial<TurnMetrics['cache']>;
  providers?: Partial<Pick<TurnMetrics, 'llmProvider' | 'ttsProvider' | 'fallbacks'>>;
}

const diff = (to: number | undefined, from: number | undefined): number | null =>
  to === undefined || from === undefined ? null : round(to - from);
const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * Builds a turn's record from its marks. pipelineOverheadMs is the time after the end of turn that the user
 * waited on Repartee itself: voice-to-voice minus the end-of-turn wait and minus the stretches after commit when
 * a provider was the one working (LLM up to the first speakable sentence, TTS to its first audible sample,
 * transport to the ear, and the quiet pre-roll in front of the sound). Clamped at 0 against rounding. With preemptive generation, provider work done before commit is not on the critical path.
 */
export function buildTurnMetrics(input: TurnRecordInput): TurnMetrics {
  const m = input.marks;
  const eou = m.endOfUserSpeechAt;
  // Heard at the ear: the first played frame plus the quiet that was still in front of its sound.
  const audibleOffset = m.firstAudibleOffsetMs ?? 0;
  const firstHeardAt = m.firstPlayedAt === undefined ? undefined : m.firstPlayedAt + audibleOffset;
  const voiceToVoiceMs = diff(firstHeardAt, eou);
  let pipelineOverheadMs: number | null = null;
  if (voiceToVoiceMs !== null && m.committedAt !== undefined && eou !== undefined) {
    const after = (t: number | undefined) =>
      t === undefined ? undefined : Math.max(t, m.committedAt as number);
    const waited = (to: number | undefined, from: number | undefined) =>
      Math.max(0, diff(after(to), after(from)) ?? 0);
    const providers =
      waited(m.firstSentenceAt, m.llmRequestAt) +
      waited(m.ttsFirstAudibleAt ?? m.ttsFirstAudioAt, m.ttsFirstTextAt) +
      waited(m.firstPlayedAt, m.firstFrameSentAt) +
      audibleOffset;
    pipelineOverheadMs = Math.max(0, round(voiceToVoiceMs - (m.committedAt - eou) - providers));
  }
  const generationMs = diff(m.llmLastTokenAt, m.llmFirstTokenAt);
  return {
    sessionId: input.sessionId,
    turnId: input.turnId,
    speechId: input.speechId,
    endOfUserSpeechAtMs: eou === undefined ? null : round(eou),
    eouDelayMs: diff(m.committedAt, eou),
    transcriptionDelayMs: diff(m.finalTranscriptAt, eou),
    llmTtftMs: diff(m.llmFirstTokenAt, m.llmRequestAt),
    llmTokensPerSecond:
      generationMs && generationMs > 0 && input.usage.completionTokens > 1
        ? round(((input.usage.completionTokens - 1) * 1000) / generationMs)
        : null,
    ttsTtfbMs: diff(m.ttsFirstAudioAt, m.ttsFirstTextAt),
    ttsTtfaMs: diff(m.ttsFirstAudibleAt ?? m.ttsFirstAudioAt, m.ttsFirstTextAt),
    transportMs: diff(m.firstPlayedAt, m.firstFrameSentAt),
    voiceToVoiceMs,
    interruptionStopMs: diff(m.interruptionStoppedAt, m.interruptionOnsetAt),
    pipelineOverheadMs,
    toolMs: input.usage.toolMs === null ? null : round(input.usage.toolMs),
    promptTokens: input.usage.promptTokens,
    completionTokens: input.usage.completionTokens,
    cachedTokens: input.usage.cachedTokens,
    ttsCharacters: input.usage.ttsCharacters,
    sttAudioMs: round(input.usage.sttAudioMs),
    contextTokens: input.context?.contextTokens ?? null,
    contextMessages: input.context?.contextMessages ?? null,
    summarizedMessages: input.context?.summarizedMessages ?? 0,
    prunedMessages: input.context?.prunedMessages ?? 0,
    summarizeMs: input.context?.summarizeMs ?? null,
    retrievalMs: input.context?.retrievalMs ?? null,
    retrievedPassages: input.context?.retrievedPassages ?? 0,
    retrievedTokens: input.context?.retrievedTokens ?? 0,
    memoryItems: input.context?.memoryItems ?? 0,
    memoryTokens: input.context?.memoryTokens ?? 0,
    ...cacheFields(input.cache),
    llmProvider: input.providers?.llmProvider ?? null,
    ttsProvider: input.providers?.ttsProvider ?? null,
    fallbacks: input.providers?.fallbacks ?? 0,
    outcome: input.outcome,
    preemptive: input.preemptive,
    userTranscript: input.userTranscript,
    agentText: input.agentText,
  };
}

/** The turn's `cache` record and the totals over every cache (a response lookup counts as one). */
function cacheFields(
  cache: TurnRecordInput['cache'],
): Pick<TurnMetrics, 'cacheHits' | 'cacheMisses' | 'cache'> {
  const record: TurnMetrics['cache'] = {
    ttsHits: cache?.ttsHits ?? 0,
    ttsMisses: cache?.ttsMisses ?? 0,
    response: cache?.response ?? 'off',
    savedMs: round(cache?.savedMs ?? 0),
  };
  return {
    cacheHits: record.ttsHits + (record.response === 'hit' ? 1 : 0),
    cacheMisses: record.ttsMisses + (record.response === 'miss' ? 1 : 0),
    cache: record,
  };
}
