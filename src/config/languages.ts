import { z } from 'zod';
import type { LanguageOptions } from '../agent/language-switch.ts';
import { loadEld } from '../providers/langid/eld.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { createTts, parseTtsSpec } from '../providers/tts/spec.ts';

const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'an ISO 639-1 code such as "es"');

/**
 * `languages` in repartee.config.json: the session may switch between these mid-call. Absent: one language
 * (`language`), as before.
 */
export const LanguagesConfigSchema = z
  .object({
    /** The languages a conversation may switch between; `language` (the first language) must be one of them. */
    allowed: z.array(languageCode).min(2),
    /**
     * A TTS spec per language (`{"es": "espeak-ng:es", "it": "festival:lp_diphone"}`). Unset languages: with a
     * local TTS the bundled local voices (LOCAL_LANGUAGE_VOICES), with a cloud TTS its own voice (OpenAI and
     * ElevenLabs' multilingual voices speak the text's language).
     */
    voices: z.record(languageCode, z.string().min(1)).optional(),
    /**
     * `detect`: the STT detects the language (Deepgram `language=multi`, OpenAI transcription without a
     * language); `follow`: the STT stream is reopened in each new language. Default: `detect` for deepgram and
     * openai STT specs, `follow` otherwise.
     */
    stt: z.enum(['detect', 'follow']).optional(),
    /** Fixed phrases per language over the built-in ones (src/agent/language-phrases.ts). */
    phrases: z
      .record(
        languageCode,
        z
          .object({
            statusText: z.string(),
            timeoutApology: z.string(),
            apology: z.string(),
            noSpeechInput: z.string(),
          })
          .partial()
          .strict(),
      )
      .optional(),
    /** Hysteresis (src/agent/language.ts): utterances shorter than minWords are no evidence; switchWords switch. */
    minWords: z.number().int().min(1).max(20).optional(),
    switchWords: z.number().int().min(1).max(50).optional(),
  })
  .strict();

export type LanguagesConfig = z.infer<typeof LanguagesConfigSchema>;

/**
 * The local voices per language: espeak-ng's own voices (the espeak-ng-data package) where festival has none
 * Debian ships or where its voice would not speak UTF-8 text here (festival's Russian and Hindi voices gave no
 * audio for it), festival's diphone/HTS voices for Italian, Czech, Finnish and Catalan (scripts/setup.sh
 * installs them). English keeps the session's configured voice.
 */
export const LOCAL_LANGUAGE_VOICES: Readonly<Record<string, string>> = {
  es: 'espeak-ng:es',
  fr: 'espeak-ng:fr',
  de: 'espeak-ng:de',
  pt: 'espeak-ng:pt',
  nl: 'espeak-ng:nl',
  ru: 'espeak-ng:ru',
  hi: 'espeak-ng:hi',
  it: 'festival:lp_diphone',
  cs: 'festival:czech_dita',
  fi: 'festival:suo_fi_lj_diphone',
  ca: 'festival:upc_ca_ona_hts',
};

/** A sentence per language, to check that a voice speaks it (tests, `repartee models`-style checks). */
export const LANGUAGE_SAMPLES: Readonly<Record<string, string>> = {
  es: 'Quiero reservar una mesa para dos.',
  fr: 'Je voudrais réserver une table pour deux.',
  de: 'Ich möchte einen Tisch für zwei reservieren.',
  pt: 'Quero reservar uma mesa para dois.',
  nl: 'Ik wil een tafel voor twee reserveren.',
  ru: 'Я хочу забронировать столик на двоих.',
  hi: 'मुझे दो लोगों के लिए टेबल बुक करनी है।',
  it: 'Vorrei prenotare un tavolo per due.',
  cs: 'Chtěl bych rezervovat stůl pro dva.',
  fi: 'Haluaisin varata pöydän kahdelle.',
  ca: 'Voldria reservar una taula per a dos.',
};

/** One TTS per voice spec per process: the local engines hold one binding or child each. */
const voices = new Map<string, TTS>();

function voice(spec: string): TTS {
  let tts = voices.get(spec);
  if (!tts) {
    tts = createTts(spec);
    voices.set(spec, tts);
  }
  return tts;
}

function isLocalTts(spec: string): boolean {
  const kind = parseTtsSpec(spec).kind;
  return kind === 'local' || kind === 'engine';
}

/**
 * Default voices of the cloud TTS whose voices are one language each (Deepgram Aura-2 names them
 * `aura-2-<name>-<lang>`; its documented Spanish voices). OpenAI's and ElevenLabs' multilingual voices, and
 * the others, keep the configured voice in every language.
 */
export const CLOUD_LANGUAGE_VOICES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'deepgram-aura': { es: 'deepgram-aura:aura-2-celeste-es' },
};

/**
 * The session's `languages` option from the configuration: the voices built from their specs (once per process),
 * the text identifier (eld, loaded once per process), the STT mode from the STT spec. Undefined without
 * `languages`. Throws a clear error for a bad voice spec or a `language` outside `allowed`.
 */
export async function configuredLanguages(
  config: { language: string; languages?: LanguagesConfig; tts?: string | string[] },
  sttSpecs: readonly string[],
): Promise<LanguageOptions | undefined> {
  const languages = config.languages;
  if (!languages) return undefined;
  const first = config.language.split(/[-_]/)[0].toLowerCase();
  if (!languages.allowed.includes(first))
    throw new Error(
      `language "${config.language}" is not in languages.allowed (${languages.allowed.join(', ')})`,
    );
  const ttsSpecs =
    config.tts === undefined ? ['local'] : Array.isArray(config.tts) ? config.tts : [config.tts];
  const defaults = ttsSpecs.every(isLocalTts)
    ? LOCAL_LANGUAGE_VOICES
    : (CLOUD_LANGUAGE_VOICES[parseTtsSpec(ttsSpecs[0]).kind] ?? {});
  const specs: Record<string, string> = {};
  for (const language of languages.allowed) {
    const spec = languages.voices?.[language] ?? (language === first ? undefined : defaults[language]);
    if (spec) specs[language] = spec;
  }
  const sttKind = (sttSpecs[0] ?? 'local').split(':')[0];
  return {
    allowed: languages.allowed,
    identifier: await loadEld(),
    stt: languages.stt ?? (sttKind === 'deepgram' || sttKind === 'openai' ? 'detect' : 'follow'),
    voices: Object.fromEntries(Object.entries(specs).map(([language, spec]) => [language, voice(spec)])),
    ...(languages.phrases ? { phrases: languages.phrases } : {}),
    hysteresis: {
      ...(languages.minWords ? { minWords: languages.minWords } : {}),
      ...(languages.switchWords ? { switchWords: languages.switchWords } : {}),
    },
  };
}
