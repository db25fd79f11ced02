/**
 * The speech the bench client plays: the LibriVox clips of Debian's pocketsphinx-testdata (16 kHz mono, read
 * English) with their transcripts. Server and client load the same files, so the simulated STT can recognise
 * exactly what the client sends.
 */
import { readFile } from 'node:fs/promises';
import { PIPELINE_SAMPLE_RATE } from '../../src/audio/frame.ts';
import { readWavFile } from '../../src/audio/wav.ts';

export const LIBRIVOX_DIR = '/usr/share/pocketsphinx/test/data/librivox';

export interface Clip {
  id: string;
  text: string;
  samples: Int16Array;
  durationMs: number;
}

export async function loadClips(dir = LIBRIVOX_DIR): Promise<Clip[]> {
  let transcription: string;
  try {
    transcription = await readFile(`${dir}/transcription`, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read the LibriVox test clips in ${dir} (${(error as Error).message}); ` +
        "run scripts/setup.sh, which installs Debian's pocketsphinx-testdata",
    );
  }
  const clips: Clip[] = [];
  for (const line of transcription.split('\n')) {
    const match = /^(.*)\((.+)\)\s*$/.exec(line);
    if (!match) continue;
    const wav = await readWavFile(`${dir}/${match[2]}.wav`);
    if (wav.sampleRate !== PIPELINE_SAMPLE_RATE) {
      throw new Error(`${match[2]}.wav is ${wav.sampleRate} Hz; the bench plays 16 kHz clips as they are`);
    }
    clips.push({
      id: match[2].slice(-4),
      text: match[1].replace(/<\/?s>/g, '').trim(),
      samples: wav.samples,
      durationMs: (wav.samples.length * 1000) / PIPELINE_SAMPLE_RATE,
    });
  }
  if (clips.length === 0) throw new Error(`no clips with transcripts in ${dir}/transcription`);
  return clips;
}
