/**
 * Recognition of conversational turns, measured on real speech (bench/local/speech.ts), dev split to choose,
 * held-back split only reported:
 *
 * 1. Padding: each turn is the clip's speech span (energy reference, as a VAD places it) with `lead` ms before and
 *    `trail` ms after, cut from the clip inside quiet room noise. Swept on dev; the pick is then run on held-back.
 * 2. Cepstral mean (CMN): pocketsphinx normalises features by a running mean estimate that lives in the decoder
 *    and carries from one utterance to the next. Decoders are pooled, so a turn may start from the estimate another
 *    speaker left. Conditions per turn: `model init` (the estimate reset to the model's -cmninit), `after another
 *    speaker` (the decoder last heard codec2's 8 kHz radio speakers), `after this speaker` (it last heard another
 *    turn of the same speaker, i.e. the estimate saved from the same conversation and restored).
 *
 * Decodes on the calling thread with the project's own binding, fast search (the default).
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { concatSamples } from '../../src/audio/frame.ts';
import { Resampler } from '../../src/audio/resampler.ts';
import { readWavFile } from '../../src/audio/wav.ts';
import {
  createDecoder,
  type Decoder,
  defaultModelPaths,
} from '../../src/providers/stt/pocketsphinx-native.ts';
import { corpusWer } from '../../src/providers/stt/wer.ts';
import { energySpan, quietNoise } from '../../src/providers/vad/reference.ts';
import { getCmn, modelCmnInit, setCmn } from './ps-probe.ts';
import { type SpeechClip, type Split, speechClips } from './speech.ts';

const RATE = 16_000;
const ROOM_MS = 1_500;
const FAST_ARGS = ['-fwdflat', 'no', '-bestpath', 'no'];
const CODEC2 = ['hts1a', 'morig', 'big_dog'].map((name) => `/usr/share/codec2/wav/${name}.wav`);

const pct = (wer: number) => `${(wer * 100).toFixed(1)} %`;

async function decode(decoder: Decoder, samples: Int16Array): Promise<string> {
  for (let i = 0; i < samples.length; i += 1_600) await decoder.process(samples.subarray(i, i + 1_600));
  return decoder.finish();
}

/** The turn as a VAD would hand it over: the speech span with `leadMs` before and `trailMs` after. */
function turnAudio(clip: SpeechClip, leadMs: number, trailMs: number): Int16Array {
  const span = energySpan(clip.samples);
  const room = concatSamples([quietNoise(ROOM_MS, 3), clip.samples, quietNoise(ROOM_MS, 5)]);
  const at = (ms: number) => Math.max(0, Math.min(room.length, Math.round((ms * RATE) / 1000)));
  return room.subarray(at(ROOM_MS + span.startMs - leadMs), at(ROOM_MS + span.endMs + trailMs));
}

async function werOf(
  decoder: Decoder,
  clips: SpeechClip[],
  prepare: (clip: SpeechClip) => Promise<void>,
  audio: (clip: SpeechClip) => Int16Array,
): Promise<number> {
  const pairs: { reference: string; hypothesis: string }[] = [];
  for (const clip of clips) {
    await prepare(clip);
    pairs.push({ reference: clip.reference, hypothesis: await decode(decoder, audio(clip)) });
  }
  return corpusWer(pairs).wer;
}

export interface PaddingRow {
  split: Split;
  leadMs: number;
  trailMs: number;
  wer: number;
}

export async function benchConversation(options: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const paths = defaultModelPaths();
  const decoder = await createDecoder(
    ['-hmm', paths.hmm, '-lm', paths.lm, '-dict', paths.dict, ...FAST_ARGS],
    false,
  );
  const init = modelCmnInit(await readFile(`${paths.hmm}/feat.params`, 'utf8'));
  const reset = async () => setCmn(decoder, init);
  const dev = await speechClips('dev');
  const held = await speechClips('heldback');

  // 1. Padding sweep on dev (CMN reset before every turn, so only the padding differs).
  const leads = options.quick ? [0, 250, 1000] : [0, 100, 250, 500, 1000];
  const trails = options.quick ? [0, 250] : [0, 100, 250, 500];
  const padding: PaddingRow[] = [];
  for (const leadMs of leads)
    for (const trailMs of trails)
      padding.push({
        split: 'dev',
        leadMs,
        trailMs,
        wer: await werOf(decoder, dev, reset, (c) => turnAudio(c, leadMs, trailMs)),
      });
  const best = [...padding].sort((a, b) => a.wer - b.wer || a.leadMs + a.trailMs - (b.leadMs + b.trailMs))[0];
  for (const { leadMs, trailMs } of [best, ...padding.filter((r) => r.leadMs === 1000 && r.trailMs === 250)])
    padding.push({
      split: 'heldback',
      leadMs,
      trailMs,
      wer: await werOf(decoder, held, reset, (c) => turnAudio(c, leadMs, trailMs)),
    });
  console.log('\nPadding around each turn (fast search, CMN reset per turn): WER');
  console.log('| split | lead ms | trail ms | WER |');
  console.log('| --- | --- | --- | --- |');
  for (const r of padding)
    console.log(
      `| ${r.split} | ${r.leadMs} | ${r.trailMs} | ${pct(r.wer)}${r === best ? ' (dev pick)' : ''} |`,
    );

  // 2. CMN conditions, at the dev pick's padding.
  const other: Int16Array[] = [];
  for (const path of CODEC2) {
    const wav = await readWavFile(path);
    other.push(await Resampler.resampleClip(wav.samples, wav.sampleRate, RATE));
  }
  const audio = (c: SpeechClip) => turnAudio(c, best.leadMs, best.trailMs);
  const afterOther = async () => {
    await reset();
    for (const samples of other) await decode(decoder, samples);
  };
  const cmn: Record<string, unknown>[] = [];
  for (const [split, clips] of [
    ['dev', dev],
    ['heldback', held],
  ] as const) {
    // The same speaker's previous turn: the clip before it from the same source (cyclically).
    const afterSame = async (clip: SpeechClip) => {
      const same = clips.filter((c) => c.source === clip.source);
      const previous = same[(same.indexOf(clip) + same.length - 1) % same.length];
      await afterOther();
      if (previous !== clip) await decode(decoder, audio(previous));
    };
    cmn.push({
      split,
      modelInit: await werOf(decoder, clips, reset, audio),
      afterAnotherSpeaker: await werOf(decoder, clips, afterOther, audio),
      afterThisSpeaker: await werOf(decoder, clips, afterSame, audio),
    });
  }
  await reset();
  const drift = getCmn(decoder)[0];
  await decoder.free();
  console.log('\nCepstral-mean estimate at the start of a turn (fast search, dev-picked padding): WER');
  console.log('| split | model init | after another speaker | after this speaker |');
  console.log('| --- | --- | --- | --- |');
  for (const r of cmn)
    console.log(
      `| ${r.split} | ${pct(r.modelInit as number)} | ${pct(r.afterAnotherSpeaker as number)} | ${pct(r.afterThisSpeaker as number)} |`,
    );
  return { padding, paddingPick: best, cmn, cmnInitC0: drift };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await benchConversation({ quick: process.argv.includes('--quick') });
