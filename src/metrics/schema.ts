/**
 * The per-turn metrics record (see ARCHITECTURE.md "One clock, one metrics schema"). Every duration is in ms
 * on the session clock; a field is null when the turn had no such stage (e.g. no TTS on a tool-only reply).
 *
 * Where each interval starts and ends (the marks are in src/metrics/turn.ts `TurnMarks`):
 * - "end of user speech" is the end of the last voiced audio of the turn as the VAD places it (frame time), not
 *   when the VAD noticed the silence.
 * - "first audible sample" is the first sample of the reply whose 5 ms RMS reaches -40 dBFS: the TTS stream's
 *   quiet lead-in is trimmed (src/providers/tts/leading-silence.ts) and whatever quiet is left in front of the
 *   sound (the 5 ms pre-roll) is counted, never hidden.
 */
export interface TurnMetrics {
  sessionId: string;
  turnId: number;
  speechId: number | null;
  /** Session-clock time of the last voiced user audio (VAD-placed). */
  endOfUserSpeechAtMs: number | null;
  /** Starts at the end of user speech; ends when the turn is committed (the endpointing wait). */
  eouDelayMs: number | null;
  /** Starts at the end of user speech; ends when the STT's final transcript of the turn arrived. */
  transcriptionDelayMs: number | null;
  /** Starts when the first LLM request of the reply is sent; ends at its first token (text or tool call). */
  llmTtftMs: number | null;
  /** Completion tokens after the first / time from the first to the last token. */
  llmTokensPerSecond: number | null;
  /** Starts when the first text goes to the TTS; ends when the engine's first audio frame (quiet or not) arrives. */
  ttsTtfbMs: number | null;
  /**
   * Starts when the first text goes to the TTS; ends when the frame holding the first audible sample arrives
   * from it. The engine's leading silence counts here (it is what a listener waits through), so on an engine
   * that pads its audio ttsTtfaMs = ttsTtfbMs + the time the engine took to produce its quiet lead-in.
   */
  ttsTtfaMs: number | null;
  /** Starts when the first reply frame is handed to the transport; ends when the client played it. */
  transportMs: number | null;
  /**
   * Starts at the end of user speech; ends at the first audible agent sample heard at the client: the playout
   * receipt's first played time plus the offset of the first audible sample in what was played.
   */
  voiceToVoiceMs: number | null;
  /**
   * Starts at the user's speech start as the VAD places it, moved earlier by the VAD's look-back (the speech pad
   * it reports: a soft onset scores as speech only tens of ms in); ends when the agent's audio stopped at the
   * client (the playout receipt's interruption time).
   */
  interruptionStopMs: number | null;
  /**
   * voiceToVoiceMs minus the endpointing wait and minus the stretches after the commit when a provider was the
   * one working: LLM request to first speakable text, TTS first text to first audible sample, transport. Never
   * negative; with preemptive generation, provider work done before the commit is not on the critical path.
   */
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
  /** Time the docs-index search took for this turn's prompt (null without a docs index). */
  retrievalMs: number | null;
  /** Passages from the user's documents in this turn's prompt, and the tokens they added. */
  retrievedPassages: number;
  retrievedTokens: number;
  /** Items remembered from the user's earlier conversations in this turn's prompt, and the tokens they added. */
  memoryItems: number;
  memoryTokens: number;
  /** Cache lookups of this turn that hit, all caches together (TTS segments + the response): see `cache`. */
  cacheHits: number;
  cacheMisses: number;
  /**
   * The caches' part in this turn (src/cache/): TTS segments served from the audio cache and synthesized, whether
   * the reply came from the response cache (`skipped`: not eligible, e.g. it refers to earlier turns; `off`: no
   * response cache), and the provider time the hits saved, as measured when their entries were made (LLM first
   * token and TTS first audio).
   */
  cache: TurnCacheMetrics;
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
   * The session language the reply was given in (ISO 639-1), set by the session (agent/language-switch.ts); it
   * may change mid-call. Optional, like `turnTaking`: a record built outside a session has none.
   */
  language?: string;
  /**
   * Turn-taking behind the commit: the detector's end-of-turn probability (null: it did not answer in time), the
   * signals it was made of, and the silence the endpointing policy chose to wait. Absent on typed turns.
   */
  turnTaking?: {
    endOfTurnProbability: number | null;
    endpointingDelayMs: number | null;
    signals: Record<string, number>;
    /**
     * Commits of this turn taken back because the user resumed before hearing the reply (0: none). Each is a
     * split of one sentence into two turns that the session undid.
     */
    resumeMerges?: number;
  };
}

export interface TurnCacheMetrics {
  ttsHits: number;
  ttsMisses: number;
  response: 'hit' | 'miss' | 'skipped' | 'off';
  savedMs: number;
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
  'ttsTtfaMs',
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
  'retrievalMs',
  'retrievedPassages',
  'retrievedTokens',
  'memoryItems',
  'memoryTokens',
  'cacheHits',
  'cacheMisses',
  'cache',
  'llmProvider',
  'ttsProvider',
  'fallbacks',
  'outcome',
  'preemptive',
  'userTranscript',
  'agentText',
];
