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
}

/**
 * What the user heard of one step's text: whole segments that played out, then the spoken fraction of the
 * segment playout stopped in, cut back to the last whole word (a half-heard word was not heard).
 */
export function heardText({ texts, samples, steps, step, playedSamples }: HeardTextInput): string {
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
