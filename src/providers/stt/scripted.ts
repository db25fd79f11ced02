import type { AudioFrame } from '../../audio/frame.ts';
import { frameDurationMs } from '../../audio/frame.ts';
import type { Clock } from '../../metrics/clock.ts';
import type { STT, SttListener, SttStream } from './contract.ts';

export interface ScriptedWord {
  word: string;
  startMs: number;
  endMs: number;
}

export interface ScriptedSttOptions {
  clock: Clock;
  /** Words on the session clock. */
  words: ScriptedWord[];
  /** Time from `flush()` (end of speech) to the final transcript. */
  finalDelayMs?: number;
  /** Time from a word's end in the audio to its interim hypothesis. */
  interimDelayMs?: number;
  /** Emit a final on its own after this much audio past the last heard word, even without flush (0 = never). */
  autoFinalAfterMs?: number;
}

/** A test STT with per-word timing and a controllable final-transcript delay. */
export class ScriptedStt implements STT {
  readonly name = 'scripted';
  constructor(private readonly options: ScriptedSttOptions) {}

  stream(listener: SttListener): SttStream {
    const { clock, words, finalDelayMs = 50, interimDelayMs = 0, autoFinalAfterMs = 0 } = this.options;
    let heardUpTo = 0; // index of the first word not yet heard
    let finalizedUpTo = 0; // index of the first word not yet in a final
    let audioEndMs = 0;
    let closed = false;
    const cancels = new Set<() => void>();
    const later = (ms: number, fn: () => void) => {
      const cancel = clock.schedule(ms, () => {
        cancels.delete(cancel);
        if (!closed) fn();
      });
      cancels.add(cancel);
    };
    const textOf = (from: number, to: number) =>
      words
        .slice(from, to)
        .map((w) => w.word)
        .join(' ');
    const finalize = () => {
      const to = heardUpTo;
      if (to <= finalizedUpTo) return;
      const from = finalizedUpTo;
      finalizedUpTo = to;
      listener.onFinal({ text: textOf(from, to), startMs: words[from].startMs, endMs: words[to - 1].endMs });
    };
    return {
      push(frame: AudioFrame) {
        if (closed) return;
        audioEndMs = frame.timestampMs + frameDurationMs(frame);
        let advanced = false;
        while (heardUpTo < words.length && words[heardUpTo].endMs <= audioEndMs) {
          heardUpTo++;
          advanced = true;
        }
        if (advanced && heardUpTo > finalizedUpTo) {
          const from = finalizedUpTo;
          const to = heardUpTo;
          later(interimDelayMs, () => {
            if (finalizedUpTo > from) return;
            listener.onInterim({
              text: textOf(from, to),
              startMs: words[from].startMs,
              endMs: words[to - 1].endMs,
            });
          });
        }
        if (
          autoFinalAfterMs > 0 &&
          heardUpTo > finalizedUpTo &&
          audioEndMs - words[heardUpTo - 1].endMs >= autoFinalAfterMs
        ) {
          finalize();
        }
      },
      flush() {
        if (closed) return;
        later(finalDelayMs, finalize);
      },
      close() {
        closed = true;
        for (const cancel of cancels) cancel();
        cancels.clear();
      },
    };
  }
}

/** Spreads a sentence's words evenly over [startMs, endMs]. */
export function wordsBetween(text: string, startMs: number, endMs: number): ScriptedWord[] {
  const tokens = text.split(/\s+/).filter(Boolean);
  const step = (endMs - startMs) / tokens.length;
  return tokens.map((word, i) => ({ word, startMs: startMs + i * step, endMs: startMs + (i + 1) * step }));
}
