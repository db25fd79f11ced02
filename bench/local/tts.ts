/**
 * Local TTS benchmark: per engine and voice, start-up, time to the first frame (TTFB) and to the first audible
 * sample (TTFA, -40 dBFS) through the streaming TTS (pushText + flush, median over 10 dev sentences), without and
 * with the leading-silence trimmer, the silence it removed, real-time factor and the worst event-loop stall. Run alone with `npx tsx bench/local/tts.ts`; `benchTts()` returns the figures for bench:local.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { concatSamples } from '../../src/audio/frame.ts';
import { peak } from '../../src/audio/level.ts';
import type { TTS } from '../../src/providers/tts/contract.ts';
import {
  DEFAULT_LEADING_SILENCE_OPTIONS,
  trimLeadingSilence,
} from '../../src/providers/tts/leading-silence.ts';
import {
  createLocalSynthesizer,
  DEFAULT_LOCAL_TTS_ENGINE,
  type LocalTtsEngine,
  type LocalTtsOptions,
} from '../../src/providers/tts/local.ts';
import { sentenceTts } from '../../src/providers/tts/sentence-adapter.ts';
import { DEV_SENTENCES } from './sentences/dev.ts';

/** The configurations measured: every Debian flite voice, espeak-ng's and festival's default voices. */
export const TTS_BENCH_ENGINES: Record<string, LocalTtsOptions> = {
  'flite:slt': { engine: 'flite', voice: 'slt' },
  'flite:kal16': { engine: 'flite', voice: 'kal16' },
  'flite:awb': { engine: 'flite', voice: 'awb' },
  'flite:rms': { engine: 'flite', voice: 'rms' },
  'flite:kal': { engine: 'flite', voice: 'kal' },
  'espeak-ng': { engine: 'espeak-ng' },
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
  /** First frame of the untrimmed stream (what ttsTtfbMs counts). */
  ttfbMedianMs?: number;
  /** Quiet (below -40 dBFS) before the first audible sample of the untrimmed stream. */
  leadingSilenceMedianMs?: number;
  /** First audible sample without the trimmer: first frame + its leading silence, as the ear gets it. */
  ttfaUntrimmedMedianMs?: number;
  /** First audible sample through trimLeadingSilence (what ttsTtfaMs counts in a session). */
  ttfaMedianMs?: number;
  ttfaMaxMs?: number;
  /** Leading silence the trimmer removed (median). */
  trimmedMedianMs?: number;
  realTimeFactor?: number;
  audioSeconds?: number;
  maxEventLoopStallMs?: number;
  error?: string;
}

/** The trimmer's audibility level, so "audible" means the same here as in ttsTtfaMs. */
const AUDIBLE_DBFS = DEFAULT_LEADING_SILENCE_OPTIONS.thresholdDbfs;

/** Index of the first sample of the first 5 ms window at or above AUDIBLE_DBFS; -1 if none. */
function firstAudibleSample(samples: Int16Array, sampleRate: number): number {
  const window = Math.round(sampleRate / 200);
  const level = 32767 * 10 ** (AUDIBLE_DBFS / 20);
  for (let start = 0; start < samples.length; start += window) {
    const end = Math.min(samples.length, start + window);
    let sum = 0;
    for (let i = start; i < end; i++) sum += samples[i] * samples[i];
    if (Math.sqrt(sum / (end - start)) >= level) return start;
  }
  return -1;
}

interface StreamTiming {
  firstFrameMs: number;
  firstAudibleMs: number;
  leadingSilenceMs: number;
  trimmedMs: number;
  totalMs: number;
  samples: number;
  loudest: number;
}

/** One sentence through `tts`: when the first frame and the first audible sample arrive. */
async function timeSentence(tts: TTS, sentence: string): Promise<StreamTiming> {
  const stream = tts.stream({ signal: new AbortController().signal });
  const t0 = performance.now();
  stream.pushText(sentence);
  stream.flush();
  stream.end();
  let firstFrameMs: number | undefined;
  let firstAudibleMs: number | undefined;
  let quietSamples = 0;
  let samples = 0;
  let loudest = 0;
  let trimmedMs = 0;
  for await (const audio of stream) {
    const now = performance.now() - t0;
    firstFrameMs ??= now;
    trimmedMs += audio.trim?.trimmedMs ?? 0;
    if (firstAudibleMs === undefined) {
      const at = firstAudibleSample(audio.frame.samples, tts.sampleRate);
      if (at < 0) quietSamples += audio.frame.samples.length;
      else {
        quietSamples += at;
        // Played from the first frame on, the ear hears this sample after the quiet before it has played.
        firstAudibleMs = Math.max(now, firstFrameMs + (quietSamples * 1000) / tts.sampleRate);
      }
    }
    samples += audio.frame.samples.length;
    loudest = Math.max(loudest, peak(audio.frame.samples));
  }
  if (firstFrameMs === undefined || firstAudibleMs === undefined || loudest < 1000)
    throw new Error(`no audible audio for "${sentence}"`);
  return {
    firstFrameMs,
    firstAudibleMs,
    leadingSilenceMs: (quietSamples * 1000) / tts.sampleRate,
    trimmedMs,
    totalMs: performance.now() - t0,
    samples,
    loudest,
  };
}

async function benchEngine(
  label: string,
  options: LocalTtsOptions,
  sentences: number,
): Promise<EngineFigures> {
  const plain = sentenceTts(createLocalSynthesizer(options));
  const trimmed = trimLeadingSilence(sentenceTts(createLocalSynthesizer(options)));
  try {
    const t0 = performance.now();
    await plain.prewarm?.();
    await trimmed.prewarm?.();
    const startupMs = performance.now() - t0;
    const untrimmedRuns: StreamTiming[] = [];
    const trimmedRuns: StreamTiming[] = [];
    const stall = monitorEventLoopDelay({ resolution: 1 });
    stall.enable();
    for (const sentence of DEV_SENTENCES.slice(0, sentences)) {
      untrimmedRuns.push(await timeSentence(plain, sentence));
      trimmedRuns.push(await timeSentence(trimmed, sentence));
    }
    stall.disable();
    const synthMs = untrimmedRuns.reduce((sum, r) => sum + r.totalMs, 0);
    const audioSeconds = untrimmedRuns.reduce((sum, r) => sum + r.samples, 0) / plain.sampleRate;
    return {
      engine: label,
      sampleRate: plain.sampleRate,
      startupMs: round(startupMs),
      ttfbMedianMs: round(median(untrimmedRuns.map((r) => r.firstFrameMs))),
      leadingSilenceMedianMs: round(median(untrimmedRuns.map((r) => r.leadingSilenceMs))),
      ttfaUntrimmedMedianMs: round(median(untrimmedRuns.map((r) => r.firstAudibleMs))),
      ttfaMedianMs: round(median(trimmedRuns.map((r) => r.firstAudibleMs))),
      ttfaMaxMs: round(Math.max(...trimmedRuns.map((r) => r.firstAudibleMs))),
      trimmedMedianMs: round(median(trimmedRuns.map((r) => r.trimmedMs))),
      realTimeFactor: round(synthMs / 1000 / audioSeconds, 4),
      audioSeconds: round(audioSeconds),
      maxEventLoopStallMs: round(stall.max / 1e6),
    };
  } catch (error) {
    return { engine: label, error: error instanceof Error ? error.message : String(error) };
  } finally {
    await plain.close?.();
    await trimmed.close?.();
  }
}

export async function benchTts(options: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const sentences = options.quick ? 4 : TTFA_SENTENCES;
  const engines: EngineFigures[] = [];
  for (const [label, engine] of Object.entries(TTS_BENCH_ENGINES))
    engines.push(await benchEngine(label, engine, sentences));
  const result = { defaultEngine: DEFAULT_LOCAL_TTS_ENGINE, sentences, engines };
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
    ['ttfbMedianMs', 'TTFB p50 ms'],
    ['leadingSilenceMedianMs', 'lead silence p50 ms'],
    ['ttfaUntrimmedMedianMs', 'TTFA untrimmed p50 ms'],
    ['ttfaMedianMs', 'TTFA trimmed p50 ms'],
    ['ttfaMaxMs', 'TTFA trimmed max ms'],
    ['trimmedMedianMs', 'trimmed p50 ms'],
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
    `TTS: time to first frame and to first audible sample (-40 dBFS) over ${result.sentences} dev sentences, without and with the leading-silence trimmer (default engine: ${result.defaultEngine})`,
  );
  console.log(line(columns.map(([, title]) => title)));
  for (const c of cells) console.log(line(c));
  for (const row of rows) if (row.error) console.log(`  ${row.engine}: ${row.error}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await benchTts({ quick: process.argv.includes('--quick') });
