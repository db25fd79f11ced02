import koffi, { type LibraryHandle } from 'koffi';
import { AsyncQueue } from '../../util/async-queue.ts';
import type { SentenceSynthesizer, TTS } from './contract.ts';
import { SerialQueue, TtsEngineUnavailableError } from './engine-util.ts';
import { sentenceTts } from './sentence-adapter.ts';

/** A bound native function (koffi does not export the type by name). */
type NativeFunction = ReturnType<LibraryHandle['func']>;

export interface EspeakOptions {
  /** espeak-ng voice name, e.g. `en-us`, `en`, `en-gb-x-rp`, `en-us+f3` (variant after `+`). Default `en-us`. */
  voice?: string;
  /** Words per minute, 80-450. Default 175 (espeak-ng's own). */
  wordsPerMinute?: number;
  /** Base pitch 0-100. Default 50. */
  pitch?: number;
}

const DEBIAN_PACKAGE = 'libespeak-ng1';
/** Fixed by the library: espeak-ng's output rate with its own (non-mbrola) voices. */
export const ESPEAK_SAMPLE_RATE = 22_050;
/**
 * Audio reaches JS in buffers of this length. Each buffer costs one hop from the synthesis thread to the event
 * loop; 50 ms keeps that cheap while abort still lands within one buffer. Process-wide (set at initialisation).
 */
const BUFFER_MS = 50;

/**
 * espeak-ng in-process through koffi, in its synchronous-callback mode: espeak_Synth runs on a koffi worker
 * thread and hands each buffer to a JS callback as it is produced, so the first audio comes after the first
 * buffer, not the whole sentence. The callback's return value stops synthesis on abort.
 */
export class EspeakSynthesizer implements SentenceSynthesizer {
  readonly name: string;
  readonly sampleRate = ESPEAK_SAMPLE_RATE;
  private readonly settings: Required<EspeakOptions>;

  constructor(options: EspeakOptions = {}) {
    this.settings = {
      voice: options.voice ?? 'en-us',
      wordsPerMinute: options.wordsPerMinute ?? 175,
      pitch: options.pitch ?? 50,
    };
    const { wordsPerMinute, pitch } = this.settings;
    if (!(wordsPerMinute >= 80 && wordsPerMinute <= 450)) {
      throw new RangeError(`espeak-ng wordsPerMinute must be 80-450, got ${wordsPerMinute}`);
    }
    if (!(pitch >= 0 && pitch <= 100)) throw new RangeError(`espeak-ng pitch must be 0-100, got ${pitch}`);
    this.name = `espeak-ng:${this.settings.voice}`;
  }

  async prewarm(): Promise<void> {
    const engine = espeakEngine();
    await engine.queue.run(async () => engine.apply(this.settings));
  }

  async *synthesize(text: string, signal: AbortSignal): AsyncIterable<Int16Array> {
    const input = text.replace(/\s+/g, ' ').trim();
    if (!input || signal.aborted) return;
    const engine = espeakEngine();
    const chunks = new AsyncQueue<Int16Array>();
    const onAbort = () => chunks.end();
    signal.addEventListener('abort', onAbort, { once: true });
    engine.queue
      .run(async () => {
        engine.apply(this.settings);
        await engine.synthesize(input, (samples) => {
          if (signal.aborted) return false;
          chunks.push(samples);
          return true;
        });
      }, signal)
      .then(
        () => chunks.end(),
        (error) => (signal.aborted ? chunks.end() : chunks.fail(error)),
      );
    try {
      for await (const chunk of chunks) {
        if (signal.aborted) return;
        yield chunk;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

export function createEspeakTts(options: EspeakOptions = {}): TTS {
  return sentenceTts(new EspeakSynthesizer(options));
}

const AUDIO_OUTPUT_SYNCHRONOUS = 2;
const POS_CHARACTER = 1;
const espeakCHARS_UTF8 = 1;
const espeakRATE = 1;
const espeakPITCH = 3;
const EE_OK = 0;

const SynthCallback = koffi.proto('int repartee_espeak_synth_cb(void *wav, int numsamples, void *events)');

/**
 * libespeak-ng holds one synthesiser per process (global voice, parameters and callback), so there is one
 * binding, every call is serialised through `queue`, and each call re-applies its own voice and parameters.
 */
class EspeakEngine {
  readonly queue = new SerialQueue();
  private readonly synth: NativeFunction;
  private readonly setVoiceByName: NativeFunction;
  private readonly setParameter: NativeFunction;
  private applied: Required<EspeakOptions> | undefined;
  /** The running call's sink; returns false to stop synthesis. */
  private sink: ((samples: Int16Array) => boolean) | undefined;

  /** Held so it is never collected (and unloaded) while espeak's thread and callback use it. */
  readonly library: LibraryHandle;

  constructor() {
    let lib: LibraryHandle;
    try {
      lib = koffi.load('libespeak-ng.so.1');
    } catch (error) {
      throw new TtsEngineUnavailableError('espeak-ng library libespeak-ng.so.1 not found', DEBIAN_PACKAGE, {
        cause: error,
      });
    }
    this.library = lib;
    const initialize = lib.func(
      'int espeak_Initialize(int output, int buflength, const char *path, int options)',
    );
    const rate = initialize(AUDIO_OUTPUT_SYNCHRONOUS, BUFFER_MS, null, 0) as number;
    if (rate <= 0)
      throw new TtsEngineUnavailableError(
        'espeak-ng failed to initialise (no espeak-ng-data?)',
        'espeak-ng-data',
      );
    if (rate !== ESPEAK_SAMPLE_RATE)
      throw new Error(`espeak-ng runs at ${rate} Hz, expected ${ESPEAK_SAMPLE_RATE} Hz`);
    this.synth = lib.func(
      'int espeak_Synth(const char *text, size_t size, unsigned int position, int position_type, unsigned int end_position, unsigned int flags, void *unique_identifier, void *user_data)',
    );
    this.setVoiceByName = lib.func('int espeak_SetVoiceByName(const char *name)');
    this.setParameter = lib.func('int espeak_SetParameter(int parameter, int value, int relative)');
    // Registered once for the process's life: espeak keeps the pointer, and a slot per call would leak.
    const callback = koffi.register((wav: unknown, count: number) => {
      if (!wav || count <= 0) return 0; // end-of-synthesis call
      const samples = koffi.decode(wav, 'int16', count) as Int16Array;
      return this.sink?.(samples) === false ? 1 : 0;
    }, koffi.pointer(SynthCallback));
    lib.func('void espeak_SetSynthCallback(repartee_espeak_synth_cb *cb)')(callback);
  }

  /** Call inside `queue`. */
  apply(settings: Required<EspeakOptions>): void {
    const last = this.applied;
    if (last?.voice !== settings.voice) {
      const rc = this.setVoiceByName(settings.voice);
      if (rc !== EE_OK) {
        this.applied = undefined;
        throw new TtsEngineUnavailableError(
          `espeak-ng voice "${settings.voice}" not found`,
          'espeak-ng-data',
        );
      }
    }
    // Setting a voice resets rate and pitch, so they follow it.
    if (last?.voice !== settings.voice || last.wordsPerMinute !== settings.wordsPerMinute) {
      this.setParameter(espeakRATE, settings.wordsPerMinute, 0);
    }
    if (last?.voice !== settings.voice || last.pitch !== settings.pitch)
      this.setParameter(espeakPITCH, settings.pitch, 0);
    this.applied = { ...settings };
  }

  /** Call inside `queue`. `sink` receives each buffer on the event loop while the worker thread waits. */
  async synthesize(text: string, sink: (samples: Int16Array) => boolean): Promise<void> {
    this.sink = sink;
    try {
      const rc = await new Promise<number>((resolve, reject) => {
        this.synth.async(
          text,
          Buffer.byteLength(text) + 1,
          0,
          POS_CHARACTER,
          0,
          espeakCHARS_UTF8,
          null,
          null,
          (error: unknown, result: number) => (error ? reject(error) : resolve(result)),
        );
      });
      if (rc !== EE_OK) throw new Error(`espeak_Synth failed with status ${rc}`);
    } finally {
      this.sink = undefined;
    }
  }
}

let sharedEngine: EspeakEngine | undefined;

/** The process's one libespeak-ng binding (the explicit shared engine instance). */
function espeakEngine(): EspeakEngine {
  sharedEngine ??= new EspeakEngine();
  return sharedEngine;
}
