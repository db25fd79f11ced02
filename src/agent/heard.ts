import type { WordTiming } from '../providers/tts/contract.ts';

export interface HeardTextInput {
  /** Text of each TTS segment, in order. */
  texts: readonly string[];
  /** Audio samples each segment produced. */
  samples: readonly number[];
  /** LLM step each segment came from. */
  steps: readonly number[];
  step: number;
  /** Samples of the whole speech that reached the user. */
  playedSamples: number;
  /**
   * Word timings of each segment, where the engine gave them (ms from the start of the segment's audio as the
   * engine made it), the quiet lead-in the trimmer removed from it, and its sample rate: a segment cut in its
   * middle is then heard up to its last word that ended before playout stopped, rather than the text's share.
   */
  words?: readonly (readonly WordTiming[] | undefined)[];
  trimmedMs?: readonly (number | undefined)[];
  sampleRates?: readonly (number | undefined)[];
}

/**
 * What the user heard of one step's text: whole segments that played out, then the spoken fraction of the
 * segment playout stopped in, cut back to the last whole word (a half-heard word was not heard).
 */
export function heardText(input: HeardTextInput): string {
  const { texts, samples, steps, step, playedSamples } = input;
  const parts: string[] = [];
  let offset = 0;
  for (let i = 0; i < texts.length; i++) {
    const start = offset;
    offset += samples[i];
    if (steps[i] !== step) continue;
    // A segment that produced no audio (its TTS failed) was heard only if audio after it was.
    if (playedSamples >= offset && (samples[i] > 0 || playedSamples > start)) {
      parts.push(texts[i]);
      continue;
    }
    const timed = input.words?.[i];
    const rate = input.sampleRates?.[i];
    if (playedSamples > start && samples[i] > 0 && timed?.length && rate) {
      // Engine time of the last sample heard: what was played of the segment, plus the lead-in trimmed off it.
      const heardMs = ((playedSamples - start) * 1000) / rate + (input.trimmedMs?.[i] ?? 0);
      const whole = timed.filter((w) => w.endMs <= heardMs).length;
      const words = texts[i].trim().split(/\s+/).slice(0, whole).join(' ');
      if (words) parts.push(words);
      break;
    }
    if (playedSamples > start && samples[i] > 0) {
      const fraction = (playedSamples - start) / samples[i];
      const cut = Math.floor(texts[i].length * fraction);
      const partial = texts[i].slice(0, cut);
      const lastSpace = texts[i][cut] === ' ' ? cut : partial.lastIndexOf(' ');
      const words = lastSpace > 0 ? partial.slice(0, lastSpace).trim() : '';
      if (words) parts.push(words);
    }
    break;
  }
  return parts.join(' ');
}
