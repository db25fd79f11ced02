import type { SentenceSynthesizer, TTS } from './contract.ts';
import { type EspeakOptions, EspeakSynthesizer } from './espeak.ts';
import { type FestivalOptions, FestivalSynthesizer } from './festival.ts';
import { FLITE_VOICES, type FliteOptions, FliteSynthesizer, type FliteVoice } from './flite.ts';
import { sentenceTts } from './sentence-adapter.ts';

export type LocalTtsEngine = 'flite' | 'espeak-ng' | 'festival';

export const LOCAL_TTS_ENGINES: readonly LocalTtsEngine[] = ['flite', 'espeak-ng', 'festival'];

/**
 * Why this default (flite, whose default voice is rms), measured by `npm run bench:local` (bench/results/local.md).
 * Intelligibility, as the word error rate of a TTS → pocketsphinx round trip over our own sentences (numbers,
 * names, questions, long sentences, addresses; chosen on 36 dev sentences, 30 held back): flite rms 10.1 % dev /
 * 10.8 % held-back, awb 10.7 / 12.3, kal16 12.5 / 13.1, festival 15.0 / 16.5, slt 17.0 / 15.4, kal 52.1 / 52.4,
 * espeak-ng 64.0 / 63.0. Time to the first audible sample with the leading-silence trimmer is a few ms of
 * synthesis to ~0.1 s (flite rms ~0.1 s on the loaded 2-core box), below an LLM's time to its first sentence.
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
