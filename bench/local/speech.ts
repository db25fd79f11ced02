/**
 * Real recorded speech with transcripts, from Debian packages, split for choosing STT settings: `dev` is what
 * choices are made on, `heldback` is only reported. Every clip is resampled to 16 kHz mono.
 *
 * - pocketsphinx-testdata: five LibriVox clips (one female reader), goforward.raw, five "cards" clips
 *   (a male speaker reading playing cards);
 * - alsa-utils: the eight channel-name announcements (/usr/share/sounds/alsa, 48 kHz, another voice).
 * The split keeps each source on both sides where it can, so neither split is one speaker only.
 */
import { readFile } from 'node:fs/promises';
import { Resampler } from '../../src/audio/resampler.ts';
import { readRawPcm16File, readWavFile } from '../../src/audio/wav.ts';

export interface SpeechClip {
  id: string;
  source: 'librivox' | 'alsa' | 'cards' | 'goforward';
  reference: string;
  /** 16 kHz mono PCM16. */
  samples: Int16Array;
}

export type Split = 'dev' | 'heldback';

const DATA = '/usr/share/pocketsphinx/test/data';
const ALSA = '/usr/share/sounds/alsa';
const RATE = 16_000;

/** Which clip belongs to which split; written once, before any figure was looked at. */
const SPLIT: Record<string, Split> = {
  'librivox-0870': 'dev',
  'librivox-0880': 'dev',
  'librivox-0930': 'dev',
  'librivox-0890': 'heldback',
  'librivox-0920': 'heldback',
  'alsa-Front_Left': 'dev',
  'alsa-Front_Right': 'dev',
  'alsa-Rear_Left': 'dev',
  'alsa-Side_Right': 'dev',
  'alsa-Front_Center': 'heldback',
  'alsa-Rear_Center': 'heldback',
  'alsa-Rear_Right': 'heldback',
  'alsa-Side_Left': 'heldback',
  'cards-001': 'dev',
  'cards-003': 'dev',
  'cards-002': 'heldback',
  'cards-004': 'heldback',
  'cards-005': 'heldback',
  goforward: 'dev',
};

async function at16k(path: string): Promise<Int16Array> {
  const wav = await readWavFile(path);
  return wav.sampleRate === RATE ? wav.samples : Resampler.resampleClip(wav.samples, wav.sampleRate, RATE);
}

function parseTranscripts(text: string): { id: string; reference: string }[] {
  return text
    .split('\n')
    .map((line) => /^(.*)\((.+)\)\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ id: m[2].trim(), reference: m[1].replace(/<\/?s>/g, '').trim() }));
}

let cache: SpeechClip[] | undefined;

/** Every clip (cached for the process). */
export async function allSpeechClips(): Promise<SpeechClip[]> {
  if (cache) return cache;
  const clips: SpeechClip[] = [];
  for (const { id, reference } of parseTranscripts(await readFile(`${DATA}/librivox/transcription`, 'utf8')))
    clips.push({
      id: `librivox-${id.slice(-4)}`,
      source: 'librivox',
      reference,
      samples: await at16k(`${DATA}/librivox/${id}.wav`),
    });
  for (const { id, reference } of parseTranscripts(
    await readFile(`${DATA}/cards/cards.transcription`, 'utf8'),
  ))
    clips.push({
      id: `cards-${id}`,
      source: 'cards',
      reference,
      samples: await at16k(`${DATA}/cards/${id}.wav`),
    });
  clips.push({
    id: 'goforward',
    source: 'goforward',
    reference: 'go forward ten meters',
    samples: (await readRawPcm16File(`${DATA}/goforward.raw`, RATE)).samples,
  });
  for (const name of Object.keys(SPLIT)
    .filter((k) => k.startsWith('alsa-'))
    .map((k) => k.slice(5)))
    clips.push({
      id: `alsa-${name}`,
      source: 'alsa',
      reference: name.replace('_', ' ').toLowerCase(),
      samples: await at16k(`${ALSA}/${name}.wav`),
    });
  cache = clips;
  return clips;
}

export async function speechClips(split: Split): Promise<SpeechClip[]> {
  return (await allSpeechClips()).filter((clip) => splitOf(clip.id) === split);
}

function splitOf(id: string): Split {
  const split = SPLIT[id];
  if (!split) throw new Error(`speech clip ${id} has no split`);
  return split;
}
