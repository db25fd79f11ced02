import type { Clock } from '../metrics/clock.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { Transcript } from '../providers/stt/contract.ts';
import type {
  ProsodyFeatures,
  SttTurnSignals,
  TurnDetector,
  TurnDetectorInput,
  TurnSignalValues,
} from '../providers/turn/contract.ts';
import { HeuristicTurnDetector } from '../providers/turn/heuristic.ts';
import { endpointingDelayMs, UserPauseStats } from './endpointing-policy.ts';
import { FinalTranscriptWait } from './final-wait.ts';
import { shouldAwaitHeardSilence } from './heard-silence.ts';
import type { EndpointingOptions } from './options.ts';
import { queryTurnDetector } from './turn-detector-query.ts';

/** A final ending this close before the VAD's end of speech covers the whole stretch. */
const FINAL_COVERS_END_SLACK_MS = 100;
/** One frame: how often a commit waiting for its silence to be heard looks again. */
const HEARD_SILENCE_POLL_MS = 20;

import type { CommittedTurn, TurnTrackerEvents, TurnTrackerInputs } from './turn-tracker-types.ts';

export type { CommittedTurn, TurnTrackerEvents, TurnTrackerInputs } from './turn-tracker-types.ts';

/** A user who starts again this soon after a commit was cut off: that pause counts as one of their holds. */
const CUT_OFF_RESUME_MS = 1000;

/**
 * Decides when the user has finished a turn. After the VAD's end of speech it waits for the final transcript,
 * asks the turn detector how finished the turn sounds, and commits once the silence since the last voiced audio
 * reaches the policy's delay for that probability (endpointing-policy.ts). A commit at `maxDelayMs` is scheduled
 * before the detector is asked, so a slow or failing detector can only shorten the wait. New speech before the
 * commit continues the same turn, and its pause teaches the policy this user's pause lengths.
 */
export class TurnTracker {
  private finals: string[] = [];
  private interim = '';
  private speaking = false;
  private awaitingFinal = false;
  private speechStartAt: number | undefined;
  /** Start of the latest stretch of speech: a final that ends before it belongs to an earlier stretch. */
  private segmentStartAt = 0;
  /** Where the current stretch's final ends, when the STT gave it before the VAD's end of speech. */
  private stretchFinalEndMs: number | undefined;
  private lastVoicedAt = 0;
  private finalAt: number | undefined;
  private cancelCommit: (() => void) | undefined;
  private commitDueAt = 0;
  private readonly finalWait: FinalTranscriptWait;
  /** The current turn's text includes a promoted interim (its final may still come, after the commit). */
  private promoted = false;
  private committedOnInterim = false;
  private detectorAbort: AbortController | undefined;
  private evaluation = 0;
  private decision: { probability?: number; delayMs: number; signals?: TurnSignalValues } | undefined;
  private prosody: ProsodyFeatures | undefined;
  private sttSignals: SttTurnSignals | undefined;
  private lastCommitVoicedAt: number | undefined;
  /** The latest commit, until the next speech: it may be taken back if that speech began right at it. */
  private lastCommit: CommittedTurn | undefined;
  /** Commits taken back into the current turn. */
  private resumeMerges = 0;
  private readonly fallbackDetector = new HeuristicTurnDetector();
  /** This user's in-turn pauses, for dynamic endpointing; lives and dies with the session. */
  readonly userPauses: UserPauseStats;

  constructor(
    private readonly clock: Clock,
    private readonly options: EndpointingOptions,
    private readonly detector: TurnDetector,
    private readonly history: () => readonly ChatMessage[],
    private readonly events: TurnTrackerEvents,
    private readonly inputs: TurnTrackerInputs = {},
  ) {
    this.userPauses = new UserPauseStats({}, options);
    this.finalWait = new FinalTranscriptWait(clock, options.finalTranscriptTimeoutMs, inputs.sttBusy);
  }

  get transcript(): string {
    return this.finals.join(' ');
  }

  /** Final text so far plus the current interim hypothesis. */
  get liveTranscript(): string {
    return [...this.finals, this.interim].filter(Boolean).join(' ');
  }

  get hasPendingTurn(): boolean {
    return this.speechStartAt !== undefined || this.finals.length > 0;
  }

  get isUserSpeaking(): boolean {
    return this.speaking;
  }

  /**
   * The VAD's speech start. `lookBackMs`: how far before `atMs` the speech may really have begun (the VAD scores
   * a soft onset as speech only some tens of ms in); the real onset decides whether a commit is taken back.
   */
  speechStarted(atMs: number, lookBackMs = 0): void {
    this.resumeCommittedTurn(atMs - Math.max(0, lookBackMs));
    if (this.speechStartAt !== undefined && !this.speaking) {
      this.userPauses.record(atMs - this.lastVoicedAt); // a pause inside the turn: the user went on
    } else if (
      this.lastCommitVoicedAt !== undefined &&
      atMs - this.lastCommitVoicedAt < this.options.maxDelayMs + CUT_OFF_RESUME_MS
    ) {
      const pause = atMs - this.lastCommitVoicedAt;
      if (pause > this.options.minDelayMs) this.userPauses.record(pause); // cut off: they had more to say
    }
    this.lastCommitVoicedAt = undefined;
    this.speaking = true;
    this.speechStartAt ??= atMs;
    this.segmentStartAt = atMs;
    this.stretchFinalEndMs = undefined;
    this.prosody = undefined;
    this.sttSignals = undefined;
    this.cancelPending();
    this.committedOnInterim = false;
    // The fallback below promotes an interim only in silence; speechEnded schedules it again.
    this.finalWait.disarm();
  }

  speechEnded(atMs: number): void {
    this.speaking = false;
    this.lastVoicedAt = atMs;
    this.finalWait.disarm();
    // The final of this stretch came already, reaching to (within a frame or so of) the last voiced audio, and
    // nothing was heard after it: there is no final to wait for.
    const finalEnd = this.stretchFinalEndMs;
    if (finalEnd !== undefined && finalEnd >= atMs - FINAL_COVERS_END_SLACK_MS && !this.interim) {
      this.awaitingFinal = false;
      this.evaluate();
      return;
    }
    this.awaitingFinal = true;
    this.finalWait.arm(atMs, () => {
      if (!this.awaitingFinal || this.speaking) return;
      // The STT never settled: fall back on its last hypothesis rather than drop what the user said.
      this.awaitingFinal = false;
      if (this.interim) {
        this.acceptFinal(this.interim);
        this.events.onInterimPromoted?.(this.interim);
        this.promoted = true;
      }
      this.interim = '';
      this.evaluate();
    });
  }

  /** Prosody of the audio up to the latest end of speech (the session measures it from its frames). */
  prosodyMeasured(features: ProsodyFeatures): void {
    this.prosody = features;
  }

  /** A cloud STT's own end-of-utterance signal: an input to the detector, never a commit by itself. */
  sttTurnSignal(signals: SttTurnSignals): void {
    this.sttSignals = { ...this.sttSignals, ...signals };
    // It may come after the detector was asked: ask again with it, keeping the commit already armed.
    if (!this.speaking && !this.awaitingFinal && this.cancelCommit && this.transcript) this.decide();
  }

  interimReceived(transcript: Transcript): void {
    this.interim = transcript.text.trim();
  }

  finalReceived(transcript: Transcript): void {
    if (this.lateFinalOfCommittedTurn(transcript)) return;
    const text = transcript.text.trim();
    this.interim = '';
    if (text) this.acceptFinal(text);
    if (this.speaking) {
      // The STT settled before the VAD declared the end of speech (it waits out its silence): a reply to these
      // words may start now, held until the commit and thrown away if the user goes on. Not for the final of an
      // earlier stretch: the current one's words are still to come.
      const ofCurrent = !(transcript.endMs > 0) || transcript.endMs > this.segmentStartAt;
      if (text && ofCurrent) {
        if (transcript.endMs > 0) this.stretchFinalEndMs = transcript.endMs;
        this.events.onCandidate(this.transcript);
      }
      return;
    }
    // A late final of an earlier stretch does not settle the latest one (its words are still on the way).
    const ofLatest = !(transcript.endMs > 0) || transcript.endMs > this.segmentStartAt;
    if (!ofLatest && this.awaitingFinal) return;
    this.awaitingFinal = false;
    this.finalWait.disarm();
    this.evaluate();
  }

  /** Forgets the current turn (noise, a backchannel, or a turn taken over by typed text). */
  reset(): void {
    this.lastCommit = undefined;
    this.resumeMerges = 0;
    this.cancelPending();
    this.finalWait.disarm();
    this.promoted = false;
    this.finals = [];
    this.interim = '';
    this.awaitingFinal = false;
    this.speechStartAt = undefined;
    this.finalAt = undefined;
    this.prosody = undefined;
    this.sttSignals = undefined;
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
    this.cancelPending();
    // The safety net first: whatever the detector does, the turn commits at the max delay.
    this.decision = { delayMs: this.options.maxDelayMs };
    this.scheduleCommit(this.evaluation, this.options.maxDelayMs);
    this.decide();
  }

  /** Asks the detector about the current transcript and moves the armed commit to the policy's delay. */
  private decide(): void {
    const transcript = this.transcript;
    const evaluation = this.evaluation;
    this.detectorAbort?.abort();
    const abort = new AbortController();
    this.detectorAbort = abort;
    const input: TurnDetectorInput = {
      transcript,
      history: this.history(),
      signal: abort.signal,
      language: this.inputs.currentLanguage?.() ?? this.inputs.language,
      prosody: this.prosody,
      stt: this.sttSignals,
    };
    const decide = (probability: number, signals?: TurnSignalValues) => {
      if (evaluation !== this.evaluation || this.speaking) return;
      const policy =
        this.options.turnCompleteThreshold === undefined
          ? this.options
          : { ...this.options, confidentAbove: this.options.turnCompleteThreshold };
      const delayMs = endpointingDelayMs(probability, policy, this.userPauses.summary());
      this.decision = { probability, delayMs, signals };
      this.scheduleCommit(evaluation, delayMs);
    };
    queryTurnDetector(this.detector, this.fallbackDetector, input, decide, (error) => {
      if (evaluation === this.evaluation) this.events.onDetectorError?.(error);
    });
  }

  /** (Re)schedules the commit at `delayMs` after the last voiced audio; never later than the max delay. */
  private scheduleCommit(evaluation: number, delayMs: number): void {
    const bounded = Math.min(delayMs, this.options.maxDelayMs);
    this.commitDueAt = this.lastVoicedAt + bounded;
    const waitMs = Math.max(0, this.commitDueAt - this.clock.now());
    this.cancelCommit?.();
    this.cancelCommit = this.clock.schedule(waitMs, () => this.commit(evaluation));
  }

  private commit(evaluation: number): void {
    this.cancelCommit = undefined;
    if (evaluation !== this.evaluation || this.speaking) return;
    if (shouldAwaitHeardSilence(this.inputs.audioProgress?.(), this.commitDueAt, this.clock.now())) {
      this.cancelCommit = this.clock.schedule(HEARD_SILENCE_POLL_MS, () => this.commit(evaluation));
      return;
    }
    this.detectorAbort?.abort();
    this.detectorAbort = undefined;
    const turn: CommittedTurn = {
      transcript: this.transcript,
      speechStartAt: this.speechStartAt ?? this.lastVoicedAt,
      endOfSpeechAt: this.lastVoicedAt,
      finalTranscriptAt: this.finalAt ?? this.clock.now(),
      committedAt: this.clock.now(),
      endOfTurnProbability: this.decision?.probability,
      endpointingDelayMs: this.decision?.delayMs,
      turnSignals: this.decision?.signals,
      ...(this.resumeMerges > 0 ? { resumeMerges: this.resumeMerges } : {}),
    };
    this.lastCommitVoicedAt = this.lastVoicedAt;
    const onInterim = this.promoted;
    this.reset();
    this.lastCommit = turn;
    this.committedOnInterim = onInterim;
    this.events.onCommit(turn);
  }

  /**
   * New speech whose real onset is before, or within the grace after, the latest commit: when the session takes
   * that commit back (nobody has heard its reply yet), the turn it committed continues, as if the commit had
   * waited for the VAD to confirm the speech. One user sentence, one turn, one reply.
   */
  private resumeCommittedTurn(onsetMs: number): void {
    const turn = this.lastCommit;
    this.lastCommit = undefined;
    if (!turn || this.speechStartAt !== undefined || this.speaking) return;
    if (onsetMs > turn.committedAt + this.options.resumeMergeGraceMs) return;
    let taken = false;
    try {
      taken = this.events.onResumeAfterCommit?.(turn, onsetMs) === true;
    } catch {
      taken = false; // a listener's fault leaves the commit standing
    }
    if (!taken) return;
    this.finals = [turn.transcript];
    this.speechStartAt = turn.speechStartAt;
    this.lastVoicedAt = turn.endOfSpeechAt;
    this.finalAt = turn.finalTranscriptAt;
    this.resumeMerges = (turn.resumeMerges ?? 0) + 1;
    // The pause is learnt once, below, as a pause the user spoke through (not also as a cut-off).
    this.lastCommitVoicedAt = undefined;
  }

  /**
   * The final of a turn that was committed on its interim (the STT was too slow). It is not a new turn: while
   * nobody has heard the reply, the turn is taken back and committed again with the settled words; otherwise
   * the turn stands as answered.
   */
  private lateFinalOfCommittedTurn(transcript: Transcript): boolean {
    const turn = this.lastCommit;
    if (!this.committedOnInterim || !turn || this.speaking || this.speechStartAt !== undefined) return false;
    if (transcript.endMs > 0 && transcript.startMs > turn.endOfSpeechAt) return false;
    this.committedOnInterim = false;
    const text = transcript.text.trim();
    if (!text || text === turn.transcript) return true;
    this.resumeCommittedTurn(turn.committedAt);
    if (this.speechStartAt === undefined) return true; // not taken back: the reply was already heard
    this.finals = [text];
    this.finalAt = this.clock.now();
    this.evaluate();
    return true;
  }

  private cancelPending(): void {
    this.evaluation++;
    this.cancelCommit?.();
    this.cancelCommit = undefined;
    this.detectorAbort?.abort();
    this.detectorAbort = undefined;
  }
}
