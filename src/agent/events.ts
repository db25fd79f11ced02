import type { HistoryItem } from '../context/history.ts';
import type { SummaryEvent } from '../context/manager.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { ToolCall } from '../providers/llm/contract.ts';
import type { ToolProgress } from '../tools/tool.ts';
import type { LanguageChange } from './language.ts';
import type { SpeechOutcome } from './speech.ts';
import type { ToolResult } from './tool-runner.ts';
import type { TurnMergedEvent } from './turn-merge.ts';

export type AgentState = 'idle' | 'listening' | 'userSpeaking' | 'thinking' | 'speaking';

export interface AgentSessionEvents extends Record<string, unknown> {
  state: { state: AgentState; previous: AgentState; atMs: number };
  /** Live user transcript: interim hypotheses and finals. */
  transcript: { text: string; final: boolean; atMs: number };
  turnCommitted: { turnId: number; transcript: string; atMs: number };
  /**
   * A committed turn was taken back: the user had resumed before (or right after) the commit and had not heard
   * its reply. The reply was discarded, the user's history item removed (its `conversationItem` id is gone);
   * the turn continues and its next `turnCommitted` carries the same turn id and the whole transcript.
   */
  turnMerged: TurnMergedEvent;
  speechStarted: { speechId: number; turnId: number | null; atMs: number };
  /** The agent's words as they are spoken: one event per sentence (or chunk) when its audio starts playing. */
  agentText: { speechId: number; text: string; atMs: number };
  speechEnded: {
    speechId: number;
    outcome: SpeechOutcome;
    heardText: string;
    droppedStaleFrames: number;
    atMs: number;
  };
  /** Playout paused for possible user speech, resumed after a false interruption, or interrupted for real. */
  interruption: { speechId: number; kind: 'paused' | 'resumed' | 'confirmed'; atMs: number };
  toolCall: { speechId: number; call: ToolCall };
  toolResult: { speechId: number; call: ToolCall; result: ToolResult; durationMs: number };
  /** A running tool reported progress (MCP progress notifications). */
  toolProgress: { speechId: number; call: ToolCall; progress: ToolProgress; atMs: number };
  /**
   * The apology after a failed LLM or TTS started to be heard (`via`: synthesized at start, live, or the tone
   * when no voice could say it). The failure itself went out as an `error` event when it was known.
   */
  apology: { speechId: number; via: 'cached' | 'tts' | 'tone'; atMs: number };
  /** The session language changed (agent/language.ts): the voice, the LLM's instruction and the phrases follow. */
  languageChanged: LanguageChange & { atMs: number };
  conversationItem: HistoryItem;
  metrics: TurnMetrics;
  /** A new context summary: later prompts carry it in place of the older turns it covers. */
  summary: SummaryEvent;
  error: {
    /** `turn`: the end-of-turn detector failed (the word list decided that turn instead). */
    source: 'vad' | 'stt' | 'llm' | 'tts' | 'tool' | 'output' | 'listener' | 'session' | 'context' | 'turn';
    error: Error;
  };
}
