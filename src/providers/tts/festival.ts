import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeWav } from '../../audio/wav.ts';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import { chunked, raceAbort, SerialQueue, TtsEngineUnavailableError, toLatin1Text } from './engine-util.ts';
import { sentenceTts } from './sentence-adapter.ts';

export interface FestivalOptions {
  /** Festival voice (its `voice_<name>` function). Default `kal_diphone` (Debian festvox-kallpc16k). */
  voice?: string;
  /** Speaking speed: 1 is the voice's own, 1.2 is 20 % faster. */
  speed?: number;
  /** Output rate; festival resamples to it. Default 16 000 Hz. */
  sampleRate?: number;
  /** The festival program. Default `festival` on PATH. */
  command?: string;
  /** Start-up (loading the voice) limit, in ms. */
  startTimeoutMs?: number;
  /** Per-sentence limit, in ms; past it the process is assumed stuck, killed and restarted on the next call. */
  synthesisTimeoutMs?: number;
  /** Size of the PCM chunks handed on, in ms. */
  chunkMs?: number;
}

/** Debian packages of the festival voices this adapter knows, for the "missing voice" error. */
const VOICE_PACKAGES: Record<string, string> = {
  kal_diphone: 'festvox-kallpc16k',
  ked_diphone: 'festvox-kdlpc16k',
  rab_diphone: 'festvox-rablpc16k',
  cmu_us_slt_arctic_hts: 'festvox-us-slt-hts',
  cmu_us_awb_cg: 'festvox-us-awb-cg',
  cmu_us_rms_cg: 'festvox-us-rms-cg',
  lp_diphone: 'festvox-italp16k',
  pc_diphone: 'festvox-itapc16k',
  czech_dita: 'festvox-czech-dita',
  suo_fi_lj_diphone: 'festvox-suopuhe-lj',
  hy_fi_mv_diphone: 'festvox-suopuhe-mv',
  upc_ca_ona_hts: 'festvox-ca-ona-hts',
};

const DEFAULTS = {
  voice: 'kal_diphone',
  speed: 1,
  sampleRate: 16_000,
  command: 'festival',
  startTimeoutMs: 10_000,
  synthesisTimeoutMs: 10_000,
  chunkMs: 100,
};

/**
 * Festival kept resident as one `festival --pipe` child fed Scheme on stdin, so a sentence costs only its
 * synthesis (~20-30 ms for the diphone voice) instead of the ~0.3 s start-up. Festival buffers stdout when it
 * is a pipe, so each request writes its WAV to a private temporary file and reports completion on stderr (which
 * is unbuffered). `--server` would need a TCP port and a password against local users running Scheme; the pipe
 * needs neither. Festival synthesises a whole utterance at once, so audio comes per sentence, not per chunk;
 * abort returns at once and the in-flight request, short, completes in the background.
 */
export class FestivalSynthesizer implements SentenceSynthesizer {
  readonly name: string;
  readonly sampleRate: number;
  private readonly settings: typeof DEFAULTS;
  private readonly queue = new SerialQueue();
  private process: FestivalProcess | undefined;

  constructor(options: FestivalOptions = {}) {
    this.settings = { ...DEFAULTS, ...definedOnly(options) };
    const { voice, speed } = this.settings;
    if (!/^[A-Za-z0-9_]+$/.test(voice)) throw new Error(`invalid festival voice name "${voice}"`);
    if (!(speed > 0)) throw new RangeError(`festival speed must be > 0, got ${speed}`);
    this.name = `festival:${voice}`;
    this.sampleRate = this.settings.sampleRate;
  }

  async prewarm(): Promise<void> {
    await this.queue.run(() => this.ready());
  }

  async *synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array> {
    const input = toLatin1Text(text);
    if (!input || signal.aborted) return;
    let samples: Int16Array;
    try {
      samples = await raceAbort(
        this.queue.run(async () => (await this.ready()).synthesize(input, this.settings), signal),
        signal,
      );
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    for (const chunk of chunked(samples, Math.round((this.settings.chunkMs * this.sampleRate) / 1000))) {
      if (signal.aborted) return;
      yield chunk;
    }
  }

  async close(): Promise<void> {
    this.process?.kill();
    this.process = undefined;
  }

  /** Call inside `queue`: (re)starts the child when there is none or the last one died. */
  private async ready(): Promise<FestivalProcess> {
    if (this.process && !this.process.dead) return this.process;
    this.process = new FestivalProcess(this.settings);
    try {
      await this.process.started;
    } catch (error) {
      this.process.kill();
      this.process = undefined;
      throw error;
    }
    return this.process;
  }
}

export function createFestivalTts(options: FestivalOptions = {}): TTS {
  return sentenceTts(new FestivalSynthesizer(options));
}

const MARKER = 'REPARTEE_FESTIVAL';

/** One resident festival child; one request at a time (the owner's queue guarantees it). */
class FestivalProcess {
  readonly started: Promise<void>;
  dead = false;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly dir = mkdtempSync(join(tmpdir(), 'repartee-festival-'));
  private stderrLine = '';
  private nextId = 0;
  private pending: { id: number; resolve: () => void; reject: (error: unknown) => void } | undefined;
  private errors: string[] = [];

  constructor(settings: typeof DEFAULTS) {
    this.child = spawn(settings.command, ['--pipe'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.resume(); // replies go to stderr; stdout only collects festival's chatter
    this.child.stderr.setEncoding('latin1');
    this.child.stderr.on('data', (data: string) => this.onStderr(data));
    this.child.on('error', (error: NodeJS.ErrnoException) => {
      const failure =
        error.code === 'ENOENT'
          ? new TtsEngineUnavailableError(`festival program "${settings.command}" not found`, 'festival', {
              cause: error,
            })
          : error;
      this.onExit(failure);
    });
    this.child.on('exit', (code, sig) =>
      this.onExit(new Error(`festival exited (${sig ?? `code ${code}`})`)),
    );
    this.child.stdin.on('error', () => {}); // a dead child surfaces through 'exit'
    const voicePackage = VOICE_PACKAGES[settings.voice] ?? `festvox-* that provides ${settings.voice}`;
    this.started = this.request(`(voice_${settings.voice})`, settings.startTimeoutMs).catch(
      (error: unknown) => {
        if (/unbound variable : voice_/.test(String(error))) {
          throw new TtsEngineUnavailableError(
            `festival voice ${settings.voice} is not installed`,
            voicePackage,
          );
        }
        throw error;
      },
    );
  }

  async synthesize(text: string, settings: typeof DEFAULTS): Promise<Int16Array> {
    const file = join(this.dir, 'out.wav');
    const quoted = `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    await this.request(
      `(Parameter.set 'Duration_Stretch ${(1 / settings.speed).toFixed(4)}) ` +
        `(let ((u (utt.synth (Utterance Text ${quoted})))) ` +
        `(utt.wave.resample u ${settings.sampleRate}) (utt.save.wave u "${file}" 'riff))`,
      settings.synthesisTimeoutMs,
    );
    const wav = decodeWav(await readFile(file));
    if (wav.sampleRate !== settings.sampleRate) {
      throw new Error(`festival wrote ${wav.sampleRate} Hz, expected ${settings.sampleRate} Hz`);
    }
    return wav.samples;
  }

  kill(): void {
    if (!this.dead) this.child.kill('SIGKILL');
    this.onExit(new Error('festival closed'));
  }

  /** Sends `body` and resolves when festival has evaluated it; a Scheme error rejects with festival's message. */
  private request(body: string, timeoutMs: number): Promise<void> {
    if (this.dead) return Promise.reject(new Error('festival is not running'));
    const id = this.nextId++;
    this.errors = [];
    const done = new Promise<void>((resolve, reject) => {
      this.pending = { id, resolve, reject };
    });
    this.busy();
    // An error inside `body` skips the marker and prints "SIOD ERROR"; the bare marker after it still comes, so
    // the reply is complete either way.
    this.child.stdin.write(`${body}\n(format stderr "${MARKER} ${id}\\n")\n`);
    const timer = setTimeout(() => {
      this.pending?.reject(new Error(`festival did not answer within ${timeoutMs} ms`));
      this.pending = undefined;
      this.kill();
    }, timeoutMs);
    return done.finally(() => {
      clearTimeout(timer);
      this.idle();
    });
  }

  private onStderr(data: string): void {
    const lines = (this.stderrLine + data).split('\n');
    this.stderrLine = lines.pop() ?? '';
    for (const line of lines) {
      const match = line.match(new RegExp(`^${MARKER} (\\d+)$`));
      if (!match) {
        if (line.trim()) this.errors.push(line.trim());
        continue;
      }
      const pending = this.pending;
      if (!pending || Number(match[1]) !== pending.id) continue;
      this.pending = undefined;
      const failure = this.errors.find((e) => e.startsWith('SIOD ERROR'));
      if (failure) pending.reject(new Error(`festival: ${failure}`));
      else pending.resolve();
    }
  }

  private onExit(error: unknown): void {
    if (this.dead) return;
    this.dead = true;
    this.pending?.reject(error);
    this.pending = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A resident child must not keep Node alive between requests, only while one is in flight. */
  private idle(): void {
    this.child.unref();
    (this.child.stderr as unknown as { unref?: () => void }).unref?.();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
  }

  private busy(): void {
    this.child.ref();
    (this.child.stderr as unknown as { ref?: () => void }).ref?.();
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
