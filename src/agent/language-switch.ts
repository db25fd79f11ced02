import type { Clock } from '../metrics/clock.ts';
import type { LanguageIdentifier } from '../providers/langid/contract.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import type { STT } from '../providers/stt/contract.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { type ApologyAudioCache, ApologyVoice } from './apology.ts';
import type { SentenceChunkerOptions } from './chunker.ts';
import { type HysteresisOptions, type LanguageChange, SessionLanguage } from './language.ts';
import { type LanguagePhrases, phrasesFor } from './language-phrases.ts';
import type { LongToolOptions, ProviderFailureOptions } from './options.ts';
import type { SpeechSource } from './speech.ts';

/** A session that may change language while it runs (`AgentSessionOptions.languages`). */
export interface LanguageOptions {
  /** The languages the session may switch between (ISO 639-1); the session's `language` must be one. */
  allowed: readonly string[];
  /** Judges typed messages, and transcripts as a cross-check of the STT. Absent: only the STT's languages count. */
  identifier?: LanguageIdentifier;
  /**
   * The STT's part. `detect`: it is opened once with language `multi` and reports each transcript's language
   * (Deepgram's multilingual model, OpenAI whisper-1's detection); `follow` (default): it reports nothing
   * useful, and on a switch its stream is reopened in the new language when it has it (`STT.languages`).
   */
  stt?: 'detect' | 'follow';
  /** The voice for each language; a language without one keeps the session's `tts`. */
  voices?: Readonly<Record<string, TTS>>;
  /** Fixed phrases per language over the built-in ones (language-phrases.ts). */
  phrases?: Readonly<Record<string, Partial<LanguagePhrases>>>;
  hysteresis?: Partial<HysteresisOptions>;
}

export interface SessionLanguagesDeps {
  tts: TTS;
  stt: STT;
  language?: string;
  languages?: LanguageOptions;
  clock: Clock;
  longTools: LongToolOptions;
  providerFailure: ProviderFailureOptions;
  apologyCache?: ApologyAudioCache;
  onError(error: unknown): void;
}

/** What the session does on a switch: the STT stream's new language, or a notice that none can hear it. */
export interface LanguageSwitch extends LanguageChange {
  /** The change as the session's `languageChanged` event carries it. */
  event: LanguageChange;
  reopenSttIn?: string;
  notice?: string;
}

/**
 * Everything a session says or hears that depends on its language: the voice, the apology (one pre-synthesized
 * per language and voice, made when first needed), the long-tool phrases, the chunker's rules, the LLM's
 * instruction and the STT stream's language. Without `languages` it is the one-language session of before.
 */
export class SessionLanguages {
  readonly language: SessionLanguage | undefined;
  private readonly apologies = new Map<string, ApologyVoice>();
  private readonly initial: string;
  private readonly noticed = new Set<string>();
  /** STT languages reported since the last utterance was judged (the finals of the turn). */
  private heard: string[] = [];

  constructor(private readonly deps: SessionLanguagesDeps) {
    const options = deps.languages;
    this.language = options
      ? new SessionLanguage({
          allowed: options.allowed,
          initial: deps.language,
          identifier: options.identifier,
          hysteresis: options.hysteresis,
        })
      : undefined;
    this.initial = this.language?.current ?? deps.language ?? 'en';
  }

  /** The session language now (the configured one when it cannot change). */
  get current(): string {
    return this.language?.current ?? this.deps.language ?? 'en';
  }

  /** The language the STT stream is opened with. */
  sttLanguage(): string | undefined {
    if (!this.language) return this.deps.language;
    return this.deps.languages?.stt === 'detect' ? 'multi' : this.current;
  }

  tts(): TTS {
    return this.deps.languages?.voices?.[this.current] ?? this.deps.tts;
  }

  /** The status line and timeout apology: as configured in the first language, built-in phrases in the others. */
  longTools(): LongToolOptions {
    if (this.current === this.initial) return this.deps.longTools;
    const phrases = this.phrases();
    return { ...this.deps.longTools, statusText: phrases.statusText, timeoutApology: phrases.timeoutApology };
  }

  chunker(base: SentenceChunkerOptions | undefined): SentenceChunkerOptions | undefined {
    return this.language ? { ...base, language: this.current } : base;
  }

  apology(): ApologyVoice {
    const key = this.current;
    let voice = this.apologies.get(key);
    if (!voice) {
      const configured = this.deps.providerFailure.apology;
      voice = new ApologyVoice({
        tts: this.tts(),
        clock: this.deps.clock,
        // '' (no apology) holds in every language; a configured phrase holds in the language it was written in.
        text: key === this.initial || configured === '' ? configured : this.phrases().apology,
        audioTimeoutMs: this.deps.providerFailure.apologyAudioTimeoutMs,
        onError: this.deps.onError,
        cache: this.deps.apologyCache,
      });
      this.apologies.set(key, voice);
    }
    return voice;
  }

  /** Synthesizes the apology ahead of need, unless configured not to (a reply is starting). */
  prepareApology(): void {
    if (this.deps.providerFailure.presynthesizeApology) this.apology().prepare();
  }

  /** An LLM request is told which language to answer in, as the last system message. */
  instruct(source: SpeechSource): SpeechSource {
    if (!this.language || source.kind !== 'llm') return source;
    const name = this.phrases().name;
    const line: ChatMessage = {
      role: 'system',
      content: `The caller is speaking ${name}. Answer in ${name}.`,
    };
    return { kind: 'llm', messages: [...source.messages, line] };
  }

  /** A final transcript's language, as the STT reported it (used only when the STT detects). */
  sttReported(language: string | undefined): void {
    if (language && this.deps.languages?.stt === 'detect') this.heard.push(language);
  }

  /** A user utterance (a committed turn's transcript, or a typed message): may switch the language. */
  observe(text: string, typed = false): LanguageSwitch | undefined {
    const heard = typed ? [] : this.heard;
    this.heard = [];
    const change = this.language?.observe(text, heard);
    if (!change) return undefined;
    const result: LanguageSwitch = { ...change, event: change };
    if (this.deps.languages?.stt !== 'detect') {
      const sttLanguages = this.deps.stt.languages;
      if (!sttLanguages || sttLanguages.some((l) => l === change.to || l.startsWith(`${change.to}-`)))
        result.reopenSttIn = change.to;
      else if (!this.noticed.has(change.to)) {
        this.noticed.add(change.to);
        result.notice = this.phrases().noSpeechInput;
      }
    }
    return result;
  }

  close(): void {
    for (const voice of this.apologies.values()) voice.close();
  }

  private phrases(): LanguagePhrases {
    return phrasesFor(this.current, this.deps.languages?.phrases?.[this.current]);
  }
}
