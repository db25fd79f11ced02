/**
 * Intelligibility of each local TTS engine: synthesise the 20 fixed sentences, transcribe them with our STT
 * (pocketsphinx, fast search) and report the word error rate. Lower means clearer speech for this recogniser.
 */
import { pathToFileURL } from 'node:url';
import { PIPELINE_SAMPLE_RATE, silence, splitIntoFrames } from '../../src/audio/frame.ts';
import { Resampler } from '../../src/audio/resampler.ts';
import { PocketsphinxSTT } from '../../src/providers/stt/pocketsphinx.ts';
import { corpusWer } from '../../src/providers/stt/wer.ts';
import { TTS_BENCH_SENTENCES } from './sentences.ts';
import { synthesizeAll, TTS_BENCH_ENGINES } from './tts.ts';

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

export async function benchRoundTrip(): Promise<Record<string, unknown>> {
  const stt = new PocketsphinxSTT({ search: 'fast' });
  const rows: Record<string, unknown> = {};
  console.log('\nTTS → STT round trip (20 Harvard sentences, pocketsphinx fast search)');
  console.log('| engine | WER | substitutions | deletions | insertions |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [label, engine] of Object.entries(TTS_BENCH_ENGINES)) {
    const pairs: { reference: string; hypothesis: string }[] = [];
    try {
      for (const sentence of TTS_BENCH_SENTENCES) {
        const audio = await synthesizeAll(engine, sentence);
        const at16k = await Resampler.resampleClip(audio.samples, audio.sampleRate, PIPELINE_SAMPLE_RATE);
        const padded = new Int16Array(at16k.length + 8000);
        padded.set(silence(200), 0);
        padded.set(at16k, 3200);
        pairs.push({ reference: sentence, hypothesis: await transcribe(stt, padded) });
      }
    } catch (error) {
      console.log(`| ${label} | unavailable: ${(error as Error).message} | | | |`);
      continue;
    }
    const result = corpusWer(pairs);
    rows[label] = result;
    console.log(
      `| ${label} | ${(result.wer * 100).toFixed(1)} % | ${result.substitutions} | ${result.deletions} | ${result.insertions} |`,
    );
  }
  stt.dispose();
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchRoundTrip();
