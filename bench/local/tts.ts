/**
 * Local TTS benchmark: per engine, start-up, time to first audio through the streaming TTS (pushText + flush →
 * first frame, median over 10 of the fixed sentences), real-time factor and the worst event-loop stall while
 * synthesising. Run alone with `npx tsx bench/local/tts.ts`; `benchTts()` returns the figures for bench:local.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { concatSamples } from '../../src/audio/frame.ts';
import { peak } from '../../src/audio/level.ts';
import {
  createLocalSynthesizer,
  DEFAULT_LOCAL_TTS_ENGINE,
  type LocalTtsEngine,
  type LocalTtsOptions,
} from '../../src/providers/tts/local.ts';
import { sentenceTts } from '../../src/providers/tts/sentence-adapter.ts';
import { TTS_BENCH_SENTENCES } from './sentences.ts';

/** The configurations measured: each engine's default voice, plus flite's fast diphone voice. */
export const TTS_BENCH_ENGINES: Record<string, LocalTtsOptions> = {
  'espeak-ng': { engine: 'espeak-ng' },
  flite: { engine: 'flite' },
  'flite:kal16': { engine: 'flite', voice: 'kal16' },
  festival: { engine: 'festival' },
};

const TTFA_SENTENCES = 10;

/** The whole audio of `text` from one engine (default voice unless options say otherwise), for round trips. */
export async function synthesizeAll(
  engine: LocalTtsEngine | LocalTtsOptions,
  text: string,
): Promise<{ samples: Int16Array; sampleRate: number }> {
  const synthesizer = createLocalSynthesizer(typeof engine === 'string' ? { engine } : engine);
  try {
    const chunks: Int16Array[] = [];
    for await (const chunk of synthesizer.synthesize(text, new AbortController().signal)) chunks.push(chunk);
    return { samples: concatSamples(chunks), sampleRate: synthesizer.sampleRate };
  } finally {
    await synthesizer.close?.();
  }
}

interface EngineFigures {
  engine: string;
  sampleRate?: number;
  startupMs?: number;
  ttfaMedianMs?: number;
  ttfaMaxMs?: number;
  realTimeFactor?: number;
  audioSeconds?: number;
  maxEventLoopStallMs?: number;
  error?: string;
}

async function benchEngine(label: string, options: LocalTtsOptions): Promise<EngineFigures> {
  const synthesizer = createLocalSynthesizer(options);
  const tts = sentenceTts(synthesizer);
  try {
    let t0 = performance.now();
    await tts.prewarm?.();
    const startupMs = performance.now() - t0;
    const ttfa: number[] = [];
    let synthMs = 0;
    let audioSamples = 0;
    const stall = monitorEventLoopDelay({ resolution: 1 });
    stall.enable();
    for (const sentence of TTS_BENCH_SENTENCES.slice(0, TTFA_SENTENCES)) {
      const stream = tts.stream({ signal: new AbortController().signal });
      t0 = performance.now();
      stream.pushText(sentence);
      stream.flush();
      stream.end();
      let first: number | undefined;
      let loudest = 0;
      for await (const { frame } of stream) {
        first ??= performance.now() - t0;
        audioSamples += frame.samples.length;
        loudest = Math.max(loudest, peak(frame.samples));
      }
      synthMs += performance.now() - t0;
      if (first === undefined || loudest < 1000) throw new Error(`no audible audio for "${sentence}"`);
      ttfa.push(first);
    }
    stall.disable();
    const audioSeconds = audioSamples / tts.sampleRate;
    return {
      engine: label,
      sampleRate: tts.sampleRate,
      startupMs: round(startupMs),
      ttfaMedianMs: round(median(ttfa)),
      ttfaMaxMs: round(Math.max(...ttfa)),
      realTimeFactor: round(synthMs / 1000 / audioSeconds, 4),
      audioSeconds: round(audioSeconds),
      maxEventLoopStallMs: round(stall.max / 1e6),
    };
  } catch (error) {
    return { engine: label, error: error instanceof Error ? error.message : String(error) };
  } finally {
    await tts.close?.();
  }
}

export async function benchTts(): Promise<Record<string, unknown>> {
  const engines: EngineFigures[] = [];
  for (const [label, options] of Object.entries(TTS_BENCH_ENGINES))
    engines.push(await benchEngine(label, options));
  const result = { defaultEngine: DEFAULT_LOCAL_TTS_ENGINE, sentences: TTFA_SENTENCES, engines };
  printTable(result);
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function printTable(result: Record<string, unknown>): void {
  const rows = result.engines as EngineFigures[];
  const columns: [keyof EngineFigures, string][] = [
    ['engine', 'engine'],
    ['sampleRate', 'Hz'],
    ['startupMs', 'start-up ms'],
    ['ttfaMedianMs', 'TTFA p50 ms'],
    ['ttfaMaxMs', 'TTFA max ms'],
    ['realTimeFactor', 'RTF'],
    ['audioSeconds', 'audio s'],
    ['maxEventLoopStallMs', 'loop stall ms'],
  ];
  const cells = rows.map((row) =>
    columns.map(([key]) => (row.error && key !== 'engine' ? '-' : String(row[key] ?? ''))),
  );
  const widths = columns.map(([, title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(
    `TTS: time to first audio over ${result.sentences} sentences (default engine: ${result.defaultEngine})`,
  );
  console.log(line(columns.map(([, title]) => title)));
  for (const c of cells) console.log(line(c));
  for (const row of rows) if (row.error) console.log(`  ${row.engine}: ${row.error}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchTts();
