import type { ChatHistory } from '../context/history.ts';
import type { Clock } from '../metrics/clock.ts';
import type { Speech } from './speech.ts';
import type { CommittedTurn } from './turn-tracker.ts';

/** A voice turn's commit on its way through the session: what taking it back has to undo. */
export interface CommitRecord {
  turn: CommittedTurn;
  /** Set once the commit has numbered the turn. */
  turnId?: number;
  /** STT audio the commit took for its turn record (what an earlier take-back carried included). */
  sttAudioMs: number;
  /** The user's history item, once appended. */
  userItemId?: number;
  /** The reply, once it is the active speech. */
  speech?: Speech;
  /** Taken back: the commit stops wherever it is, its reply is discarded. */
  withdrawn: boolean;
  /** What an earlier, taken-back commit of the same turn leaves to this one (its turn id, its STT audio). */
  carried?: { turnId?: number; sttAudioMs: number };
}

export interface TurnMergedEvent {
  /** The turn id the taken-back commit had (null: it was taken back before it was numbered). */
  turnId: number | null;
  /** The transcript committed too early; the words that follow join it. */
  transcript: string;
  /** Where the new speech really began (the VAD's onset less its look-back). */
  onsetMs: number;
  /** The reply's audio the user may have heard, ms (0: none played). */
  heardMs: number;
  atMs: number;
}

export interface TurnMergerDeps {
  clock: Clock;
  history: ChatHistory;
  /** Past this much played reply audio the user has heard the agent: the commit stands. */
  maxHeardMs: number;
  /** Off in the no-model mode: the notice answers every turn, a split costs nothing. */
  enabled: boolean;
  onMerged(event: TurnMergedEvent): void;
}

/**
 * Takes a committed voice turn back when the user turns out to have been still speaking: the VAD confirms new
 * speech some 100-200 ms after it begins, and an end-of-turn commit can land in between. Allowed while the reply
 * has not been heard (nothing played at the client, or at most `maxHeardMs`), ran no tool (a tool may have acted
 * on the half sentence) and the user's words are still the history's latest item. The reply is discarded (its
 * LLM and TTS stop at once, nothing of it enters the history), the user's item is removed, and the next commit
 * of the same turn keeps its turn id. The timing rule (how soon after the commit) is the tracker's.
 */
export class TurnMerger {
  private latest: CommitRecord | undefined;
  private carried: CommitRecord['carried'];
  private readonly takenBack = new WeakSet<Speech>();

  constructor(private readonly deps: TurnMergerDeps) {}

  /** A voice commit starts through the session; a continuation of a taken-back turn inherits what it left. */
  track(turn: CommittedTurn): CommitRecord {
    const record: CommitRecord = { turn, sttAudioMs: 0, withdrawn: false };
    if ((turn.resumeMerges ?? 0) > 0 && this.carried) record.carried = this.carried;
    this.carried = undefined;
    this.latest = record;
    return record;
  }

  /** Typed text took the turn: nothing before it can be taken back. */
  forget(): void {
    this.latest = undefined;
    this.carried = undefined;
  }

  /** Whether this speech was discarded by a merge (its words and its turn record are not kept). */
  wasTakenBack(speech: Speech): boolean {
    return this.takenBack.has(speech);
  }

  /** The tracker asks: the user resumed at `onsetMs` right after `turn` was committed. True: taken back. */
  takeBack(turn: CommittedTurn, onsetMs: number): boolean {
    const record = this.latest;
    if (!this.deps.enabled || !record || record.turn !== turn || record.withdrawn) return false;
    const { speech } = record;
    const heardMs = speech ? this.heardMs(speech) : 0;
    if (heardMs > this.deps.maxHeardMs) return false;
    if (speech && (speech.isRunningTool || speech.usage.toolMs !== null)) return false;
    const { history } = this.deps;
    if (record.userItemId !== undefined && !history.removeLatest(record.userItemId)) return false;
    record.withdrawn = true;
    this.latest = undefined;
    if (speech) {
      this.takenBack.add(speech);
      speech.abort('discarded');
    }
    // Once the commit has run, its own counts already include what an earlier take-back left it.
    const ran = record.turnId !== undefined;
    this.carried = {
      turnId: ran ? record.turnId : record.carried?.turnId,
      sttAudioMs: ran ? record.sttAudioMs : (record.carried?.sttAudioMs ?? 0),
    };
    this.deps.onMerged({
      turnId: this.carried.turnId ?? null,
      transcript: turn.transcript,
      onsetMs,
      heardMs,
      atMs: this.deps.clock.now(),
    });
    return true;
  }

  /** Reply audio played at the client so far (an upper bound: from its first played frame to now). */
  private heardMs(speech: Speech): number {
    const first = speech.marks.firstPlayedAt;
    return first === undefined ? 0 : Math.max(0, this.deps.clock.now() - first);
  }
}
