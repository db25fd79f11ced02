import type { SentenceSynthesizer, TTS } from './contract.ts';
import { type EspeakOptions, EspeakSynthesizer } from './espeak.ts';
import { type FestivalOptions, FestivalSynthesizer } from './festival.ts';
import { FLITE_VOICES, type FliteOptions, FliteSynthesizer, type FliteVoice } from './flite.ts';
import { sentenceTts } from './sentence-adapter.ts';

export type LocalTtsEngine = 'flite' | 'espeak-ng' | 'festival';

export const LOCAL_TTS_ENGINES: readonly LocalTtsEngine[] = ['flite', 'espeak-ng', 'festival'];

/**
 * Why this default, measured on the 2-core dev box. Time to first audio through the streaming TTS (median of 10
 * sentences, `bench/local/tts.ts`): espeak-ng 0.2 ms, flite kal16 1 ms, festival kal_diphone 6 ms, flite slt 23 ms;
 * all far below an LLM's time to its first sentence. Intelligibility, as the word error rate of a TTS → our STT
 * round trip over 20 Harvard sentences (`bench/local/roundtrip.ts`): festival 26.6 %, flite slt 27.8 %, flite
 * kal16 29.1 %, espeak-ng 74.7 %. flite slt is as clear as festival, runs in-process (festival is a child process)
 * and sounds the most natural, so it is the default.
 */
export const DEFAULT_LOCAL_TTS_ENGINE: LocalTtsEngine = 'flite';

export interface LocalTtsOptions {
  /** Default `DEFAULT_LOCAL_TTS_ENGINE`. */
  engine?: LocalTtsEngine;
  /**
   * The engine's voice name; each engine has its own default. flite: slt, awb, rms, kal16, kal; espeak-ng:
   * en-us, en, en-gb-x-rp, …; festival: kal_diphone or another installed festvox voice.
   */
  voice?: string;
  /** Speaking speed: 1 is the voice's own, 1.2 is 20 % faster. Default 1. */
  speed?: number;
  /** Engine-specific settings; `voice` and `speed` above take precedence. */
  flite?: FliteOptions;
  espeak?: EspeakOptions;
  festival?: FestivalOptions;
}

/** espeak-ng's own default rate, which `speed` scales. */
const ESPEAK_BASE_WPM = 175;

export function createLocalSynthesizer(options: LocalTtsOptions = {}): SentenceSynthesizer {
  const engine = options.engine ?? DEFAULT_LOCAL_TTS_ENGINE;
  const { voice, speed } = options;
  switch (engine) {
    case 'flite': {
      if (voice !== undefined && !(voice in FLITE_VOICES)) {
        throw new Error(`unknown flite voice "${voice}" (known: ${Object.keys(FLITE_VOICES).join(', ')})`);
      }
      return new FliteSynthesizer({
        ...options.flite,
        ...defined({ voice: voice as FliteVoice | undefined, speed }),
      });
    }
    case 'espeak-ng': {
      const wordsPerMinute =
        speed === undefined ? undefined : Math.min(450, Math.max(80, Math.round(ESPEAK_BASE_WPM * speed)));
      return new EspeakSynthesizer({ ...options.espeak, ...defined({ voice, wordsPerMinute }) });
    }
    case 'festival':
      return new FestivalSynthesizer({ ...options.festival, ...defined({ voice, speed }) });
    default:
      throw new Error(
        `unknown local TTS engine "${engine as string}" (known: ${LOCAL_TTS_ENGINES.join(', ')})`,
      );
  }
}

/** A streaming TTS on one of the embedded Debian engines, sentence at a time. */
export function createLocalTts(options: LocalTtsOptions = {}): TTS {
  return sentenceTts(createLocalSynthesizer(options));
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
