import type { Clock } from '../metrics/clock.ts';
import type { LLM } from '../providers/llm/contract.ts';
import type { STT } from '../providers/stt/contract.ts';
import type { TTS } from '../providers/tts/contract.ts';
import type { TurnDetector } from '../providers/turn/contract.ts';
import type { VAD } from '../providers/vad/contract.ts';
import type { Tool } from '../tools/tool.ts';
import type { SentenceChunkerOptions } from './chunker.ts';

export interface EndpointingOptions {
  /** Silence after the last voiced audio before a turn the detector deems finished is committed. */
  minDelayMs: number;
  /** Silence before committing a turn the detector deems unfinished ("I'd like to order a..."). */
  maxDelayMs: number;
  /** End-of-turn probability at or above which `minDelayMs` applies. */
  turnCompleteThreshold: number;
  /** How long to wait for the STT's final transcript after speech ends before giving the turn up. */
  finalTranscriptTimeoutMs: number;
}

export interface InterruptionOptions {
  enabled: boolean;
  /** Words of transcript needed to confirm an interruption (0: any speech confirms it). */
  minWords: number;
  /** After speech that produced no transcript, resume the paused reply once this much silence has passed. */
  falseInterruptionTimeoutMs: number;
  /** Resume after a false interruption; off means the paused reply is abandoned. */
  resumeFalseInterruption: boolean;
  /** Short acknowledgements that never interrupt the agent. */
  backchannels: readonly string[];
}

export interface AgentSessionOptions {
  vad: VAD;
  stt: STT;
  llm: LLM;
  tts: TTS;
  turnDetector?: TurnDetector;
  tools?: readonly Tool[];
  instructions?: string;
  clock?: Clock;
  sessionId?: string;
  language?: string;
  endpointing?: Partial<EndpointingOptions>;
  interruption?: Partial<InterruptionOptions>;
  /** Start the LLM on the final transcript before the end of turn is confirmed. */
  preemptiveGeneration?: boolean;
  /** LLM rounds (each may call tools) within one reply. */
  maxToolSteps?: number;
  /** Hard limit for one tool call. */
  toolTimeoutMs?: number;
  chunker?: SentenceChunkerOptions;
}

export const DEFAULT_ENDPOINTING: EndpointingOptions = {
  minDelayMs: 400,
  maxDelayMs: 2500,
  turnCompleteThreshold: 0.5,
  finalTranscriptTimeoutMs: 2000,
};

export const DEFAULT_INTERRUPTION: InterruptionOptions = {
  enabled: true,
  minWords: 1,
  falseInterruptionTimeoutMs: 1000,
  resumeFalseInterruption: true,
  backchannels: [
    'mm-hmm',
    'mhm',
    'mm',
    'hmm',
    'uh-huh',
    'uh huh',
    'yeah',
    'yep',
    'right',
    'okay',
    'ok',
    'i see',
    'sure',
  ],
};
