import { rmsDbfs } from '../../audio/level.ts';
import type { AudioEntry } from './cloud-stream.ts';

/**
 * Holds quiet audio back until an utterance starts: frames below `thresholdDbfs` are kept only for the last
 * `preRollMs`, and released together with the first louder frame. OpenAI transcribes whatever is committed or
 * uploaded, so this keeps the silence between turns off the wire (latency, cost, and hallucinated words on
 * silence). A null threshold lets everything through.
 */
export class SilenceGate {
  private held: AudioEntry[] = [];
  private open = false;

  constructor(
    private readonly thresholdDbfs: number | null,
    private readonly preRollMs: number,
  ) {}

  /** Whether an utterance has started since the last reset. */
  get isOpen(): boolean {
    return this.open || this.thresholdDbfs === null;
  }

  /** Returns the frames to send now and those dropped for good. */
  offer(entry: AudioEntry): { send: AudioEntry[]; dropped: AudioEntry[] } {
    if (this.isOpen) return { send: [entry], dropped: [] };
    if (rmsDbfs(entry.samples) < (this.thresholdDbfs as number)) {
      this.held.push(entry);
      const dropped: AudioEntry[] = [];
      while (this.held.length > 1 && this.held[0].endMs <= entry.endMs - this.preRollMs)
        dropped.push(this.held.shift() as AudioEntry);
      return { send: [], dropped };
    }
    this.open = true;
    const send = [...this.held, entry];
    this.held = [];
    return { send, dropped: [] };
  }

  /** An utterance ended: close the gate again. Returns what was held (never sent). */
  reset(): AudioEntry[] {
    this.open = false;
    return this.held.splice(0);
  }
}
