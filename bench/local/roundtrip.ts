/**
 * Intelligibility of each local TTS engine and voice: synthesise the sentences of a split (bench/local/sentences:
 * dev to choose on, held-back only reported), transcribe them with pocketsphinx and report the word error rate.
 * Lower means clearer speech for this recogniser. The default voice is the one with the lowest dev WER.
 */
import { pathToFileURL } from 'node:url';
import { concatSamples, PIPELINE_SAMPLE_RATE, splitIntoFrames } from '../../src/audio/frame.ts';
import { Resampler } from '../../src/audio/resampler.ts';
import { type PocketsphinxSearch, PocketsphinxSTT } from '../../src/providers/stt/pocketsphinx.ts';
import { corpusWer, type WerResult } from '../../src/providers/stt/wer.ts';
import { quietNoise } from '../../src/providers/vad/reference.ts';
import { DEV_SENTENCES } from './sentences/dev.ts';
import { HELDBACK_SENTENCES } from './sentences/heldback.ts';
import type { Split } from './speech.ts';
import { synthesizeAll, TTS_BENCH_ENGINES } from './tts.ts';

export const SENTENCES: Record<Split, readonly string[]> = {
  dev: DEV_SENTENCES,
  heldback: HELDBACK_SENTENCES,
};

async function transcribe(stt: PocketsphinxSTT, samples: Int16Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = stt.stream({
      onInterim: () => {},
      onFinal: (t) => {
        stream.close();
        resolve(t.text);
      },
      onError: reject,
    });
    for (const frame of splitIntoFrames(samples, PIPELINE_SAMPLE_RATE)) stream.push(frame);
    stream.flush();
  });
}

export interface RoundTripRow {
  engine: string;
  split: Split;
  wer?: WerResult;
  error?: string;
}

/** Every engine on every split; `quick` takes every third sentence. */
export async function benchRoundTrip(
  options: { quick?: boolean; search?: PocketsphinxSearch; engines?: string[] } = {},
): Promise<Record<string, unknown>> {
  const search = options.search ?? 'fast';
  const stt = new PocketsphinxSTT({ search });
  const rows: RoundTripRow[] = [];
  const engines = options.engines ?? Object.keys(TTS_BENCH_ENGINES);
  for (const label of engines) {
    for (const split of ['dev', 'heldback'] as const) {
      const sentences = SENTENCES[split].filter((_, i) => !options.quick || i % 3 === 0);
      const pairs: { reference: string; hypothesis: string }[] = [];
      try {
        for (const sentence of sentences) {
          const audio = await synthesizeAll(TTS_BENCH_ENGINES[label], sentence);
          const at16k = await Resampler.resampleClip(audio.samples, audio.sampleRate, PIPELINE_SAMPLE_RATE);
          const padded = concatSamples([quietNoise(200, 3), at16k, quietNoise(300, 5)]);
          pairs.push({ reference: sentence, hypothesis: await transcribe(stt, padded) });
        }
        rows.push({ engine: label, split, wer: corpusWer(pairs) });
      } catch (error) {
        rows.push({ engine: label, split, error: (error as Error).message });
      }
    }
  }
  stt.dispose();
  const chosen = chooseVoice(rows);
  console.log(`\nTTS → STT round trip (own sentences, pocketsphinx ${search} search)`);
  console.log('| engine | dev WER | held-back WER | dev S/D/I of words |');
  console.log('| --- | --- | --- | --- |');
  for (const label of engines) {
    const of = (split: Split) => rows.find((r) => r.engine === label && r.split === split);
    const dev = of('dev');
    const held = of('heldback');
    const pct = (r?: RoundTripRow) => (r?.wer ? `${(r.wer.wer * 100).toFixed(1)} %` : `- (${r?.error})`);
    const detail = dev?.wer
      ? `${dev.wer.substitutions}/${dev.wer.deletions}/${dev.wer.insertions} of ${dev.wer.referenceWords}`
      : '';
    console.log(
      `| ${label}${label === chosen ? ' (dev pick)' : ''} | ${pct(dev)} | ${pct(held)} | ${detail} |`,
    );
  }
  return { search, quick: Boolean(options.quick), chosen, rows };
}

/** The engine with the lowest dev WER. */
export function chooseVoice(rows: readonly RoundTripRow[]): string | undefined {
  const dev = rows.filter((r) => r.split === 'dev' && r.wer);
  dev.sort((a, b) => (a.wer?.wer ?? 1) - (b.wer?.wer ?? 1));
  return dev[0]?.engine;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await benchRoundTrip({ quick: process.argv.includes('--quick') });
