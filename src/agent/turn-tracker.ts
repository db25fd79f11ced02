import type { Clock } from '../metrics/clock.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { Transcript } from '../providers/stt/contract.ts';
import type { TurnDetector } from '../providers/turn/contract.ts';
import type { EndpointingOptions } from './options.ts';

export interface CommittedTurn {
  transcript: string;
  speechStartAt: number;
  endOfSpeechAt: number;
  finalTranscriptAt: number;
  committedAt: number;
}

export interface TurnTrackerEvents {
  /** The transcript is final and the user is silent: a reply may be prepared (not played). */
  onCandidate(transcript: string): void;
  onCommit(turn: CommittedTurn): void;
  /** Speech ended and no words came of it. */
  onNoise(): void;
}

/**
 * Decides when the user has finished a turn. After the VAD's end of speech it waits for the final transcript,
 * asks the turn detector how finished the words sound, and commits after the min or max endpointing delay,
 * counted from the last voiced audio. New speech before then continues the same turn.
 */
export class TurnTracker {
  private finals: string[] = [];
  private interim = '';
  private speaking = false;
  private awaitingFinal = false;
  private speechStartAt: number | undefined;
  private lastVoicedAt = 0;
  private finalAt: number | undefined;
  private cancelCommit: (() => void) | undefined;
  private cancelFinalTimeout: (() => void) | undefined;
  private evaluation = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: EndpointingOptions,
    private readonly detector: TurnDetector,
    private readonly history: () => readonly ChatMessage[],
    private readonly events: TurnTrackerEvents,
  ) {}

  get transcript(): string {
    return this.finals.join(' ');
  }

  /** Final text so far plus the current interim hypothesis. */
  get liveTranscript(): string {
    return [...this.finals, this.interim].filter(Boolean).join(' ');
  }

  get isUserSpeaking(): boolean {
    return this.speaking;
  }

  speechStarted(atMs: number): void {
    this.speaking = true;
    this.speechStartAt ??= atMs;
    this.cancelPending();
  }

  speechEnded(atMs: number): void {
    this.speaking = false;
    this.lastVoicedAt = atMs;
    this.awaitingFinal = true;
    this.cancelFinalTimeout?.();
    const waitMs = Math.max(0, atMs + this.options.finalTranscriptTimeoutMs - this.clock.now());
    this.cancelFinalTimeout = this.clock.schedule(waitMs, () => {
      this.cancelFinalTimeout = undefined;
      if (!this.awaitingFinal) return;
      // The STT never settled: fall back on its last hypothesis rather than drop what the user said.
      this.awaitingFinal = false;
      if (this.interim) this.acceptFinal(this.interim);
      this.evaluate();
    });
  }

  interimReceived(transcript: Transcript): void {
    this.interim = transcript.text.trim();
  }

  finalReceived(transcript: Transcript): void {
    const text = transcript.text.trim();
    this.interim = '';
    if (text) this.acceptFinal(text);
    if (!this.speaking) {
      this.awaitingFinal = false;
      this.cancelFinalTimeout?.();
      this.evaluate();
    }
  }

  /** Forgets the current turn (noise, a backchannel, or a turn taken over by typed text). */
  reset(): void {
    this.cancelPending();
    this.cancelFinalTimeout?.();
    this.finals = [];
    this.interim = '';
    this.awaitingFinal = false;
    this.speechStartAt = undefined;
    this.finalAt = undefined;
  }

  close(): void {
    this.reset();
  }

  private acceptFinal(text: string): void {
    this.finals.push(text);
    this.finalAt = this.clock.now();
  }

  private evaluate(): void {
    if (this.speaking || this.awaitingFinal) return;
    const transcript = this.transcript;
    if (!transcript) {
      if (this.speechStartAt !== undefined) {
        this.reset();
        this.events.onNoise();
      }
      return;
    }
    this.events.onCandidate(transcript);
    const evaluation = ++this.evaluation;
    const decide = (probability: number) => {
      if (evaluation !== this.evaluation || this.speaking) return;
      const { minDelayMs, maxDelayMs, turnCompleteThreshold } = this.options;
      const delay = probability >= turnCompleteThreshold ? minDelayMs : maxDelayMs;
      const waitMs = Math.max(0, this.lastVoicedAt + delay - this.clock.now());
      this.cancelCommit?.();
      this.cancelCommit = this.clock.schedule(waitMs, () => this.commit(evaluation));
    };
    let probability: number | Promise<number>;
    try {
      probability = this.detector.endOfTurnProbability({ transcript, history: this.history() });
    } catch {
      probability = 1; // a failing detector must not hold the turn forever: fall back on the min delay
    }
    if (typeof probability === 'number') decide(probability);
    else probability.then(decide, () => decide(1));
  }

  private commit(evaluation: number): void {
    this.cancelCommit = undefined;
    if (evaluation !== this.evaluation || this.speaking) return;
    const turn: CommittedTurn = {
      transcript: this.transcript,
      speechStartAt: this.speechStartAt ?? this.lastVoicedAt,
      endOfSpeechAt: this.lastVoicedAt,
      finalTranscriptAt: this.finalAt ?? this.clock.now(),
      committedAt: this.clock.now(),
    };
    this.reset();
    this.events.onCommit(turn);
  }

  private cancelPending(): void {
    this.evaluation++;
    this.cancelCommit?.();
    this.cancelCommit = undefined;
  }
}
