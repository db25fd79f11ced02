import type { Clock } from '../metrics/clock.ts';
import type { PlayoutReceipt } from './io.ts';
import type { InterruptionOptions } from './options.ts';
import type { Speech } from './speech.ts';
import { classifyUtterance } from './speech-record.ts';

export interface InterruptionHooks {
  onEvent(speechId: number, kind: 'paused' | 'resumed' | 'confirmed'): void;
  /** The paused speech resumed after a backchannel: the words were not a turn. */
  onBackchannel(): void;
  isUserSpeaking(): boolean;
  onChange(): void;
}

interface Pending {
  speech: Speech;
  onsetAt: number;
  stoppedAt?: number;
  cancelResume?: () => void;
}

/**
 * Decides whether user speech over the agent is an interruption. Playout pauses at the speech onset; words
 * confirm the interruption (the reply is aborted), a lone backchannel or silence without words resumes it.
 */
export class InterruptionArbiter {
  private pending: Pending | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly options: InterruptionOptions,
    private readonly hooks: InterruptionHooks,
  ) {}

  get isPending(): boolean {
    return this.pending !== undefined;
  }

  userSpeechStarted(atMs: number, speaking: Speech | undefined): void {
    if (this.pending) {
      this.pending.cancelResume?.();
      this.pending.cancelResume = undefined;
      return;
    }
    if (!this.options.enabled || !speaking || speaking.isDone) return;
    // Stop the audio now; whether the user is really taking the turn is decided by the words that follow.
    this.pending = { speech: speaking, onsetAt: atMs };
    speaking.pause();
    this.hooks.onEvent(speaking.id, 'paused');
    if (this.options.minWords === 0) this.confirm();
  }

  userSpeechEnded(): void {
    const pending = this.pending;
    if (!pending) return;
    pending.cancelResume?.();
    pending.cancelResume = this.clock.schedule(this.options.falseInterruptionTimeoutMs, () => {
      if (this.pending !== pending || this.hooks.isUserSpeaking()) return;
      this.pending = undefined;
      if (this.options.resumeFalseInterruption) this.resume(pending);
      else pending.speech.abort('interrupted');
      this.hooks.onChange();
    });
  }

  /** Routes a transcript heard while paused; true when it was a backchannel and is consumed here. */
  transcriptReceived(text: string, final: boolean): boolean {
    const pending = this.pending;
    if (!pending) return false;
    const { words, backchannel } = classifyUtterance(text, this.options.backchannels);
    if (words === 0) return false;
    if (backchannel) {
      if (final) {
        this.pending = undefined;
        pending.cancelResume?.();
        this.hooks.onBackchannel();
        this.resume(pending);
        this.hooks.onChange();
      }
      return true;
    }
    if (words >= this.options.minWords) this.confirm();
    return false;
  }

  playoutStopped(speech: Speech, receipt: PlayoutReceipt): void {
    if (this.pending?.speech === speech) this.pending.stoppedAt ??= receipt.interruptedAtMs;
    // A client's "stopped" receipt may arrive after the words already confirmed the interruption.
    else if (speech.marks.interruptionOnsetAt !== undefined)
      speech.marks.interruptionStoppedAt ??= receipt.interruptedAtMs;
  }

  /** Forgets a pending interruption (the speech ended or is being replaced). */
  clear(speech?: Speech): void {
    if (speech && this.pending?.speech !== speech) return;
    this.pending?.cancelResume?.();
    this.pending = undefined;
  }

  private confirm(): void {
    const pending = this.pending;
    if (!pending) return;
    this.clear();
    const { speech } = pending;
    if (speech.hasPlayed) {
      speech.marks.interruptionOnsetAt = pending.onsetAt;
      speech.marks.interruptionStoppedAt = pending.stoppedAt;
    }
    speech.abort('interrupted');
    this.hooks.onEvent(speech.id, 'confirmed');
    this.hooks.onChange();
  }

  private resume(pending: Pending): void {
    pending.speech.resume();
    this.hooks.onEvent(pending.speech.id, 'resumed');
  }
}
