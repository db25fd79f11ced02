import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatSamples, PIPELINE_SAMPLE_RATE } from '../../../src/audio/frame.ts';
import { Resampler } from '../../../src/audio/resampler.ts';
import { readWavFile } from '../../../src/audio/wav.ts';
import { FliteSynthesizer, type FliteVoice } from '../../../src/providers/tts/flite.ts';
import { energySpan, quietNoise } from '../../../src/providers/vad/reference.ts';
import type { LabelledTurn, Split } from '../dataset.ts';
import { seededRandom } from '../dataset-source.ts';

/**
 * Level 2 input: labelled audio turns at 16 kHz. Every clip is one user turn; `endMs` is where its last voiced
 * audio ends (the real END), and any commit before it is a cut-off. Room noise (about -60 dBFS) fills the pauses,
 * the lead-in and the tail, as a real microphone never sends digital zero.
 */
export interface AudioTurn {
  id: string;
  kind: 'librivox-natural' | 'librivox-inserted' | 'synth';
  category: string;
  samples: Int16Array;
  /** End of the last voiced audio, ms from the start of `samples`. */
  endMs: number;
  /** The labelled holds (inserted or synthesized pauses), ms from the start; natural pauses are not listed. */
  holds: { startMs: number; endMs: number }[];
  text: string;
  agentPrompt?: string;
}

export const LIBRIVOX_DIR = '/usr/share/pocketsphinx/test/data/librivox';
const LEAD_IN_MS = 400;
const INSERTIONS_PER_CLIP = 4;
/** The clips of each split: the held-back split hears sentences (and a reader's moments) the dev split never does. */
const LIBRIVOX_SPLIT: Record<Split, string[]> = {
  dev: ['0870', '0880', '0890'],
  heldout: ['0920', '0930'],
};
const VOICES: readonly FliteVoice[] = ['slt', 'rms', 'awb', 'kal16'];

const msToSamples = (ms: number) => Math.round((ms * PIPELINE_SAMPLE_RATE) / 1000);
const samplesToMs = (n: number) => (n * 1000) / PIPELINE_SAMPLE_RATE;

function readTranscripts(): Map<string, string> {
  const out = new Map<string, string>();
  // Lines look like "<s> words </s> (file-id)"; read with the wavs so the pair can never drift apart.
  const text = readFileSync(join(LIBRIVOX_DIR, 'transcription'), 'utf8');
  for (const line of text.split('\n')) {
    const match = /<s>(.*)<\/s>\s*\((.+)\)/.exec(line);
    if (match) out.set(match[2].trim(), match[1].trim());
  }
  return out;
}

/**
 * Word boundaries from the audio: the quietest 10 ms block inside each dip of the energy envelope that is at
 * least 30 ms long and below 12 % of the loudest block. Between words, not inside them, in read speech.
 */
export function wordBoundariesMs(samples: Int16Array, span: { startMs: number; endMs: number }): number[] {
  const block = 160;
  const rms: number[] = [];
  for (let i = 0; i + block <= samples.length; i += block) {
    let sum = 0;
    for (let j = 0; j < block; j++) sum += samples[i + j] ** 2;
    rms.push(Math.sqrt(sum / block));
  }
  const floor = Math.max(...rms) * 0.12;
  const first = Math.ceil(span.startMs / 10) + 20;
  const last = Math.floor(span.endMs / 10) - 20;
  const out: number[] = [];
  for (let i = first; i < last; i++) {
    if (rms[i] >= floor) continue;
    let j = i;
    while (j < last && rms[j] < floor) j++;
    if (j - i >= 3) {
      let best = i;
      for (let k = i; k < j; k++) if (rms[k] < rms[best]) best = k;
      out.push(best * 10 + 5);
    }
    i = j;
  }
  return out;
}

/** `samples` with room noise of `gaps[i].ms` inserted at `gaps[i].atMs`, and the new span of each gap. */
function insertGaps(samples: Int16Array, gaps: { atMs: number; ms: number }[], seed: number) {
  const parts: Int16Array[] = [];
  const holds: { startMs: number; endMs: number }[] = [];
  let cursor = 0;
  let shift = 0;
  for (const [i, gap] of [...gaps].sort((a, b) => a.atMs - b.atMs).entries()) {
    const at = msToSamples(gap.atMs);
    parts.push(samples.subarray(cursor, at), quietNoise(gap.ms, seed + i));
    holds.push({ startMs: gap.atMs + shift, endMs: gap.atMs + shift + gap.ms });
    shift += gap.ms;
    cursor = at;
  }
  parts.push(samples.subarray(cursor));
  return { samples: concatSamples(parts), holds, shiftMs: shift };
}

export async function librivoxTurns(split: Split): Promise<AudioTurn[]> {
  const transcripts = readTranscripts();
  const files = readdirSync(LIBRIVOX_DIR).filter((f) => f.endsWith('.wav'));
  const out: AudioTurn[] = [];
  for (const key of LIBRIVOX_SPLIT[split]) {
    const file = files.find((f) => f.includes(`-${key}.wav`));
    if (!file)
      throw new Error(`LibriVox clip ${key} missing from ${LIBRIVOX_DIR} (install pocketsphinx-testdata)`);
    const wav = await readWavFile(join(LIBRIVOX_DIR, file));
    const speech = await Resampler.resampleClip(wav.samples, wav.sampleRate, PIPELINE_SAMPLE_RATE);
    const samples = concatSamples([quietNoise(LEAD_IN_MS, 3), speech]);
    const span = energySpan(samples);
    const text = transcripts.get(file.replace(/\.wav$/, '')) ?? '';
    out.push({
      id: `${split}-lv-${key}`,
      kind: 'librivox-natural',
      category: 'librivox',
      samples,
      endMs: span.endMs,
      holds: [],
      text,
    });
    // One inserted pause per variant, at boundaries spread over the sentence, 500-1200 ms long.
    const boundaries = wordBoundariesMs(samples, span);
    const random = seededRandom(Number(key) * 7919);
    const step = Math.max(1, Math.floor(boundaries.length / INSERTIONS_PER_CLIP));
    const picks = boundaries.filter((_, i) => i % step === step >> 1).slice(0, INSERTIONS_PER_CLIP);
    picks.forEach((atMs, i) => {
      const ms = Math.round((500 + 700 * random()) / 10) * 10;
      const inserted = insertGaps(samples, [{ atMs, ms }], Number(key) + i);
      out.push({
        id: `${split}-lv-${key}-ins${i + 1}`,
        kind: 'librivox-inserted',
        category: 'librivox',
        samples: inserted.samples,
        endMs: span.endMs + inserted.shiftMs,
        holds: inserted.holds,
        text,
      });
    });
  }
  return out;
}

/** Flite's own leading and trailing silence is trimmed so the labelled pause is the pause the listener hears. */
async function speak(synth: FliteSynthesizer, text: string): Promise<Int16Array> {
  const chunks: Int16Array[] = [];
  for await (const chunk of synth.synthesize(text, new AbortController().signal)) chunks.push(chunk);
  const audio = concatSamples(chunks);
  const span = energySpan(audio);
  return audio.subarray(msToSamples(Math.max(0, span.startMs - 20)), msToSamples(span.endMs + 20));
}

/** A spread of the split's turns: every category, those with pauses first, at most `perCategory` each. */
export function pickTurns(turns: readonly LabelledTurn[], perCategory: number): LabelledTurn[] {
  const byCategory = new Map<string, LabelledTurn[]>();
  for (const turn of turns) byCategory.set(turn.category, [...(byCategory.get(turn.category) ?? []), turn]);
  const out: LabelledTurn[] = [];
  for (const list of byCategory.values()) {
    const withPauses = list.filter((t) => t.pauses.length > 0);
    const without = list.filter((t) => t.pauses.length === 0);
    const step = Math.max(1, Math.floor(withPauses.length / perCategory));
    const chosen = withPauses.filter((_, i) => i % step === 0).slice(0, perCategory);
    if (chosen.length < perCategory) chosen.push(...without.slice(0, perCategory - chosen.length));
    out.push(...chosen);
  }
  return out;
}

export async function synthTurns(turns: readonly LabelledTurn[]): Promise<AudioTurn[]> {
  const synths = new Map(VOICES.map((voice) => [voice, new FliteSynthesizer({ voice })]));
  const out: AudioTurn[] = [];
  for (const [index, turn] of turns.entries()) {
    const voice = VOICES[index % VOICES.length];
    const synth = synths.get(voice) as FliteSynthesizer;
    const parts: Int16Array[] = [quietNoise(LEAD_IN_MS, index)];
    const holds: { startMs: number; endMs: number }[] = [];
    let atMs = LEAD_IN_MS;
    for (const [i, segment] of turn.segments.entries()) {
      const audio = await speak(synth, segment);
      parts.push(audio);
      atMs += samplesToMs(audio.length);
      const pause = turn.pauses[i];
      if (pause !== undefined) {
        parts.push(quietNoise(pause, index * 31 + i));
        holds.push({ startMs: atMs, endMs: atMs + pause });
        atMs += pause;
      }
    }
    out.push({
      id: `${turn.id}-${voice}`,
      kind: 'synth',
      category: turn.category,
      samples: concatSamples(parts),
      endMs: atMs,
      holds,
      text: turn.segments.join(' '),
      agentPrompt: turn.agentPrompt,
    });
  }
  return out;
}
