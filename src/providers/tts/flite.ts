import koffi, { type LibraryHandle } from 'koffi';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import { chunked, raceAbort, SerialQueue, TtsEngineUnavailableError, toLatin1Text } from './engine-util.ts';
import { sentenceTts } from './sentence-adapter.ts';

/** A bound native function (koffi does not export the type by name). */
type NativeFunction = ReturnType<LibraryHandle['func']>;

/** The voices Debian's libflite1 ships, with their native rates. */
export const FLITE_VOICES = {
  slt: { library: 'libflite_cmu_us_slt.so.1', register: 'register_cmu_us_slt', sampleRate: 16_000 },
  awb: { library: 'libflite_cmu_us_awb.so.1', register: 'register_cmu_us_awb', sampleRate: 16_000 },
  rms: { library: 'libflite_cmu_us_rms.so.1', register: 'register_cmu_us_rms', sampleRate: 16_000 },
  kal16: { library: 'libflite_cmu_us_kal16.so.1', register: 'register_cmu_us_kal16', sampleRate: 16_000 },
  kal: { library: 'libflite_cmu_us_kal.so.1', register: 'register_cmu_us_kal', sampleRate: 8_000 },
} as const;

export type FliteVoice = keyof typeof FLITE_VOICES;

export interface FliteOptions {
  /**
   * Default `rms` (clustergen, male US English): the clearest of the bundled voices for a recogniser, measured
   * (bench/results/local.md: round-trip WER 10.1 % dev, 10.8 % held-back; slt 17.0 % / 15.4 %).
   */
  voice?: FliteVoice;
  /** Speaking speed: 1 is the voice's own, 1.2 is 20 % faster. */
  speed?: number;
  /** Size of the PCM chunks handed on, in ms. */
  chunkMs?: number;
}

const DEBIAN_PACKAGE = 'libflite1';
const DEFAULT_CHUNK_MS = 100;

/**
 * Flite in-process through koffi. A whole sentence is synthesised in one native call on a koffi worker thread
 * (the event loop stays free): flite runs at ~1-2 % of real time here, so a sentence takes tens of ms and
 * sub-sentence streaming would buy nothing. (Flite's `streaming_info` callback hook never fired with Debian's
 * 2.2 build, so it is not used.) Abort returns at once; the native call, already short, finishes in the background.
 */
export class FliteSynthesizer implements SentenceSynthesizer {
  readonly name: string;
  readonly sampleRate: number;
  private readonly voice: FliteVoice;
  private readonly durationStretch: number;
  private readonly chunkSamples: number;

  constructor(options: FliteOptions = {}) {
    this.voice = options.voice ?? 'rms';
    const spec = FLITE_VOICES[this.voice];
    if (!spec) {
      throw new Error(`unknown flite voice "${this.voice}" (known: ${Object.keys(FLITE_VOICES).join(', ')})`);
    }
    const speed = options.speed ?? 1;
    if (!(speed > 0)) throw new RangeError(`flite speed must be > 0, got ${speed}`);
    this.durationStretch = 1 / speed;
    this.name = `flite:${this.voice}`;
    this.sampleRate = spec.sampleRate;
    this.chunkSamples = Math.max(
      1,
      Math.round(((options.chunkMs ?? DEFAULT_CHUNK_MS) * this.sampleRate) / 1000),
    );
  }

  async prewarm(): Promise<void> {
    fliteEngine().voice(this.voice);
  }

  async *synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array> {
    const input = toLatin1Text(text);
    if (!input || signal.aborted) return;
    const engine = fliteEngine();
    let samples: Int16Array;
    try {
      samples = await raceAbort(
        engine.queue.run(() => engine.synthesize(input, this.voice, this.durationStretch), signal),
        signal,
      );
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    for (const chunk of chunked(samples, this.chunkSamples)) {
      if (signal.aborted) return;
      yield chunk;
    }
  }
}

export function createFliteTts(options: FliteOptions = {}): TTS {
  return sentenceTts(new FliteSynthesizer(options));
}

const CstWave = koffi.struct('repartee_cst_wave', {
  type: 'const char *',
  sample_rate: 'int',
  num_samples: 'int',
  num_channels: 'int',
  samples: 'void *',
});
// Only the leading fields of cst_voice are read; the struct is never allocated from JS.
const CstVoice = koffi.struct('repartee_cst_voice', { name: 'const char *', features: 'void *' });

/** libflite, loaded once per process: voices are registered once and shared by every synthesizer. */
class FliteEngine {
  readonly queue = new SerialQueue();
  /** `library` is kept referenced: a collected koffi library is unloaded, and the voice's data with it. */
  private readonly voices = new Map<
    FliteVoice,
    { library: LibraryHandle; voice: unknown; features: unknown }
  >();
  private readonly textToWave: NativeFunction;
  private readonly deleteWave: NativeFunction;
  private readonly featSetFloat: NativeFunction;
  /** flite keeps feature *names* by pointer (it expects C literals), so the name must outlive every call. */
  private readonly durationStretchName = permanentCString('duration_stretch');

  /** Held so it is never collected (and unloaded) while voices point into it. */
  readonly library: LibraryHandle;

  constructor() {
    let lib: LibraryHandle;
    try {
      lib = koffi.load('libflite.so.1');
    } catch (error) {
      throw new TtsEngineUnavailableError('flite library libflite.so.1 not found', DEBIAN_PACKAGE, {
        cause: error,
      });
    }
    this.library = lib;
    lib.func('int flite_init()')();
    this.textToWave = lib.func('void *flite_text_to_wave(const char *text, void *voice)');
    this.deleteWave = lib.func('void delete_wave(void *w)');
    this.featSetFloat = lib.func('void feat_set_float(void *f, void *name, float v)');
  }

  voice(name: FliteVoice): { voice: unknown; features: unknown } {
    let entry = this.voices.get(name);
    if (!entry) {
      const spec = FLITE_VOICES[name];
      let lib: LibraryHandle;
      try {
        lib = koffi.load(spec.library);
      } catch (error) {
        throw new TtsEngineUnavailableError(
          `flite voice ${name} (${spec.library}) not found`,
          DEBIAN_PACKAGE,
          {
            cause: error,
          },
        );
      }
      const voice = lib.func(`void *${spec.register}(const char *voxdir)`)(null);
      if (!voice)
        throw new TtsEngineUnavailableError(`flite voice ${name} failed to register`, DEBIAN_PACKAGE);
      entry = { library: lib, voice, features: koffi.decode(voice, CstVoice).features };
      this.voices.set(name, entry);
    }
    return entry;
  }

  /** Call inside `queue`: the voice's features are shared, and set for this call. */
  async synthesize(text: string, voiceName: FliteVoice, durationStretch: number): Promise<Int16Array> {
    const { voice, features } = this.voice(voiceName);
    this.featSetFloat(features, this.durationStretchName, durationStretch);
    const wave = await new Promise<unknown>((resolve, reject) => {
      this.textToWave.async(text, voice, (error: unknown, result: unknown) =>
        error ? reject(error) : resolve(result),
      );
    });
    if (!wave) throw new Error(`flite failed to synthesise "${text.slice(0, 40)}"`);
    try {
      const info = koffi.decode(wave, CstWave) as {
        sample_rate: number;
        num_samples: number;
        samples: unknown;
      };
      const expected = FLITE_VOICES[voiceName].sampleRate;
      if (info.sample_rate !== expected) {
        throw new Error(`flite voice ${voiceName} produced ${info.sample_rate} Hz, expected ${expected} Hz`);
      }
      if (info.num_samples <= 0 || !info.samples) return new Int16Array(0);
      // decode copies, so the wave can be freed right after.
      return koffi.decode(info.samples, 'int16', info.num_samples) as Int16Array;
    } finally {
      this.deleteWave(wave);
    }
  }
}

/** A NUL-terminated copy in native memory that is never freed (a handful per process). */
function permanentCString(text: string): unknown {
  const bytes = Buffer.from(`${text}\0`, 'latin1');
  const pointer = koffi.alloc('uint8', bytes.length);
  koffi.encode(pointer, 'uint8', [...bytes], bytes.length);
  return pointer;
}

let sharedEngine: FliteEngine | undefined;

/** The process's one libflite binding (the explicit shared engine instance). */
function fliteEngine(): FliteEngine {
  sharedEngine ??= new FliteEngine();
  return sharedEngine;
}
