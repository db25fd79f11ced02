/**
 * The per-turn metrics record (see ARCHITECTURE.md "One clock, one metrics schema"). Every duration is in ms
 * on the session clock; a field is null when the turn had no such stage (e.g. no TTS on a tool-only reply).
 */
export interface TurnMetrics {
  sessionId: string;
  turnId: number;
  speechId: number | null;
  /** Session-clock time of the last voiced user audio (VAD-placed). */
  endOfUserSpeechAtMs: number | null;
  eouDelayMs: number | null;
  transcriptionDelayMs: number | null;
  llmTtftMs: number | null;
  llmTokensPerSecond: number | null;
  ttsTtfbMs: number | null;
  /** First agent audio handed to the transport → played at the client. */
  transportMs: number | null;
  voiceToVoiceMs: number | null;
  interruptionStopMs: number | null;
  pipelineOverheadMs: number | null;
  toolMs: number | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  ttsCharacters: number;
  sttAudioMs: number;
  contextTokens: number | null;
  contextMessages: number | null;
  summarizedMessages: number;
  prunedMessages: number;
  summarizeMs: number | null;
  cacheHits: number;
  cacheMisses: number;
  /** The LLM and TTS that produced this reply (the one in use, for a fallback list). */
  llmProvider: string | null;
  ttsProvider: string | null;
  /** Switches to a fallback provider (failure or missed latency budget) during this turn. */
  fallbacks: number;
  /** How the reply ended. */
  outcome: 'completed' | 'interrupted' | 'noReply' | 'error';
  /** Preemptive generation: reused (its output was spoken), discarded (transcript changed) or not used. */
  preemptive: 'reused' | 'discarded' | 'none';
  userTranscript: string;
  agentText: string;
  /**
   * Turn-taking behind the commit: the detector's end-of-turn probability (null: it did not answer in time), the
   * signals it was made of, and the silence the endpointing policy chose to wait. Absent on typed turns.
   */
  turnTaking?: {
    endOfTurnProbability: number | null;
    endpointingDelayMs: number | null;
    signals: Record<string, number>;
  };
}

export const TURN_METRIC_FIELDS: readonly (keyof TurnMetrics)[] = [
  'sessionId',
  'turnId',
  'speechId',
  'endOfUserSpeechAtMs',
  'eouDelayMs',
  'transcriptionDelayMs',
  'llmTtftMs',
  'llmTokensPerSecond',
  'ttsTtfbMs',
  'transportMs',
  'voiceToVoiceMs',
  'interruptionStopMs',
  'pipelineOverheadMs',
  'toolMs',
  'promptTokens',
  'completionTokens',
  'cachedTokens',
  'ttsCharacters',
  'sttAudioMs',
  'contextTokens',
  'contextMessages',
  'summarizedMessages',
  'prunedMessages',
  'summarizeMs',
  'cacheHits',
  'cacheMisses',
  'llmProvider',
  'ttsProvider',
  'fallbacks',
  'outcome',
  'preemptive',
  'userTranscript',
  'agentText',
];
