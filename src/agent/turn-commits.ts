import type { ChatHistory, HistoryItem } from '../context/history.ts';
import type { ContextManager } from '../context/manager.ts';
import type { Clock } from '../metrics/clock.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { ActiveSpeech } from './active-speech.ts';
import type { AgentSessionEvents } from './events.ts';
import type { PreemptiveGeneration } from './preemptive.ts';
import { type ResponseCacheBinding, SessionReplyCache } from './reply-cache.ts';
import type { Speech, SpeechSource } from './speech.ts';
import { type CommitRecord, type TurnMergedEvent, TurnMerger } from './turn-merge.ts';
import type { CommittedTurn } from './turn-tracker.ts';

export interface TurnCommitsDeps {
  clock: Clock;
  context: ContextManager;
  history: ChatHistory;
  preemptive: PreemptiveGeneration;
  /** Barge-in allowed: without it a turn committed while the agent speaks is dropped. */
  interruptionEnabled: boolean;
  /** Past this much played reply audio a commit is no longer taken back (endpointing.resumeMergeMaxHeardMs). */
  resumeMergeMaxHeardMs: number;
  /** The no-model notice: set, it answers every turn instead of an LLM reply. */
  llmUnavailableNotice: string | undefined;
  /** Replies already known (AgentSessionOptions.responseCache). */
  responseCache?: ResponseCacheBinding;
  isClosed(): boolean;
  active(): ActiveSpeech | undefined;
  interruptActive(): void;
  takeSttAudioMs(): number;
  appendHistory(message: ChatMessage): HistoryItem;
  createSpeech(source: SpeechSource): Speech;
  activate(entry: ActiveSpeech): void;
  onCommitted(event: AgentSessionEvents['turnCommitted']): void;
  onMerged(event: TurnMergedEvent): void;
  onChange(): void;
}

/**
 * Turns committed (by voice or typed) become replies, one at a time and in order: each numbered, the previous
 * speech interrupted (unless it holds the floor) and finished before the user's words enter the history, then
 * answered by a prepared reply, a new LLM reply, or the no-model notice. A voice commit may be taken back while
 * the user was still speaking and has not heard its reply (turn-merge.ts).
 */
export class TurnCommits {
  private turnCount = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly merges: TurnMerger;
  private readonly replies: SessionReplyCache | undefined;

  constructor(private readonly deps: TurnCommitsDeps) {
    this.replies = deps.responseCache ? new SessionReplyCache(deps.responseCache) : undefined;
    const replies = this.replies;
    if (replies) deps.preemptive.skipKnown((transcript) => replies.knows(transcript));
    this.merges = new TurnMerger({
      clock: deps.clock,
      history: deps.history,
      maxHeardMs: deps.resumeMergeMaxHeardMs,
      enabled: !deps.llmUnavailableNotice,
      onMerged: deps.onMerged,
    });
  }

  /** A voice commit: the merger may take it back (it is then stopped wherever it has got to). */
  enqueueVoice(turn: CommittedTurn): void {
    this.enqueue(turn, this.merges.track(turn));
  }

  /** A typed turn: never taken back. */
  enqueueText(turn: CommittedTurn): void {
    this.enqueue(turn);
  }

  /** Typed text took the turn: nothing before it can be taken back. */
  forgetMerges(): void {
    this.merges.forget();
  }

  /** The tracker asks: the user resumed at `onsetMs` right after `turn` was committed. True: taken back. */
  takeBack(turn: CommittedTurn, onsetMs: number): boolean {
    return this.merges.takeBack(turn, onsetMs);
  }

  /** Whether this speech was discarded by a merge (its words and its turn record are not kept). */
  wasTakenBack(speech: Speech): boolean {
    return this.merges.wasTakenBack(speech);
  }

  private enqueue(turn: CommittedTurn, record?: CommitRecord): void {
    // Commits run one at a time so the history sees each interrupted reply before the turn that cut it off.
    this.chain = this.chain.then(
      () => this.commit(turn, record),
      () => this.commit(turn, record),
    );
  }

  private async commit(turn: CommittedTurn, record?: CommitRecord): Promise<void> {
    const deps = this.deps;
    if (deps.isClosed() || record?.withdrawn) return;
    // A turn continued after a taken-back commit keeps that commit's number and its STT audio.
    const turnId = record?.carried?.turnId ?? ++this.turnCount;
    const sttAudioMs = deps.takeSttAudioMs() + (record?.carried?.sttAudioMs ?? 0);
    if (record) {
      record.turnId = turnId;
      record.sttAudioMs = sttAudioMs;
    }
    deps.onCommitted({ turnId, transcript: turn.transcript, atMs: turn.committedAt });
    const previous = deps.active();
    // Said while the notice is being said: the notice is this turn's answer too (said once, not twice).
    const answeredByNotice = previous?.isNotice === true && !previous.speech.isDone;
    if (previous) {
      if (!previous.speech.isDone && !deps.interruptionEnabled) return; // the agent holds the floor
      if (!previous.holdsFloor) deps.interruptActive();
      // finish() was attached to this promise first, so the interrupted reply is in the history after this await.
      await previous.speech.finished.catch(() => undefined);
    }
    if (deps.isClosed() || record?.withdrawn) return;
    const notice = deps.llmUnavailableNotice;
    if (notice) {
      deps.appendHistory({ role: 'user', content: turn.transcript });
      if (answeredByNotice || deps.active()) return;
      const speech = deps.createSpeech({ kind: 'text', text: notice });
      deps.activate({
        speech,
        turnId,
        turn,
        preemptive: 'none',
        sttAudioMs,
        holdsFloor: true,
        isNotice: true,
      });
      speech.authorize();
      deps.onChange();
      return;
    }
    // Resolved since start() (only a turn sent during start() waits); with embeddings, a bounded wait for the turn's.
    await deps.context.prepare(turn.transcript);
    if (deps.isClosed() || record?.withdrawn) return;
    // A reply already known answers a turn that stands alone (src/agent/reply-cache.ts).
    const lookup = this.replies ? await this.replies.lookup(turn.transcript) : { response: 'off' as const };
    if (deps.isClosed() || record?.withdrawn) return;
    // Claimed before the user's words enter the history: a prepared reply must have seen the same history.
    let { preemptive, ...prepared } = deps.preemptive.claim(turn.transcript);
    let { speech, context } = prepared;
    if (lookup.hit && speech) {
      speech.abort('discarded');
      [speech, context, preemptive] = [undefined, undefined, 'discarded'];
    }
    const earlier = [...deps.history.messages];
    const userItem = deps.appendHistory({ role: 'user', content: turn.transcript });
    if (record) record.userItemId = userItem.id;
    if (lookup.hit) speech = deps.createSpeech({ kind: 'text', text: lookup.hit.text });
    else if (!speech) {
      const prompt = deps.context.prompt(deps.history.messages);
      speech = deps.createSpeech({ kind: 'llm', messages: prompt.messages });
      context = prompt.stats;
    }
    this.replies?.observe(speech, turn.transcript, lookup, earlier);
    const replyCache = { response: lookup.response, savedMs: lookup.hit?.savedMs ?? 0 };
    deps.activate({ speech, turnId, turn, preemptive, sttAudioMs, context, replyCache });
    if (record) record.speech = speech;
    speech.authorize();
    deps.onChange();
  }
}
