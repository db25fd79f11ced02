import { describe, expect, it } from 'vitest';
import {
  configuredLanguages,
  LANGUAGE_SAMPLES,
  LanguagesConfigSchema,
  LOCAL_LANGUAGE_VOICES,
} from '../config/languages.ts';
import { VirtualClock } from '../metrics/clock.ts';
import { loadEld } from '../providers/langid/eld.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import type { STT, SttStreamOptions } from '../providers/stt/contract.ts';
import { PocketsphinxSTT } from '../providers/stt/pocketsphinx.ts';
import { ScriptedStt } from '../providers/stt/scripted.ts';
import { ScriptedTts } from '../providers/tts/scripted.ts';
import { createTts } from '../providers/tts/spec.ts';
import { CombinedTurnDetector } from '../providers/turn/combined.ts';
import { HeuristicTurnDetector } from '../providers/turn/heuristic.ts';
import { ScriptedVad } from '../providers/vad/scripted.ts';
import { SentenceChunker } from './chunker.ts';
import { type LanguageChange, SessionLanguage } from './language.ts';
import { LANGUAGE_PHRASES } from './language-phrases.ts';
import { SessionLanguages } from './language-switch.ts';
import { DEFAULT_LONG_TOOLS, resolveProviderFailureOptions } from './options.ts';
import { PacedAudioOutput } from './paced-output.ts';
import { AgentSession } from './session.ts';

const identifier = await loadEld();

describe('SessionLanguage: hysteresis', () => {
  const session = () => new SessionLanguage({ allowed: ['en', 'es'], initial: 'en', identifier });

  it('a one-word answer or a borrowed word in an English sentence switches nothing', () => {
    const language = session();
    expect(language.observe('gracias')).toBeUndefined();
    expect(language.observe('tortilla', ['es'])).toBeUndefined();
    expect(language.observe('I would like a tortilla with salsa please')).toBeUndefined();
    // A word in another script does not outweigh the English around it.
    const russian = new SessionLanguage({ allowed: ['en', 'ru'], initial: 'en', identifier });
    expect(russian.observe('thanks a lot спасибо')).toBeUndefined();
    expect(russian.observe('большое спасибо за помощь')?.to).toBe('ru');
    expect(language.current).toBe('en');
  });

  it('one Spanish sentence switches; short Spanish phrases add up unless English comes between', () => {
    const language = session();
    expect(language.observe('quiero reservar una mesa para dos')?.to).toBe('es');
    expect(language.current).toBe('es');
    // Back to English: two short phrases add up to four words...
    expect(language.observe('thank you')).toBeUndefined();
    expect(language.observe('see you')?.to).toBe('en');
    // ...but not when the current language is heard between them.
    expect(language.observe('muchas gracias')).toBeUndefined();
    expect(language.observe('thanks a lot')).toBeUndefined();
    expect(language.observe('muchas gracias')).toBeUndefined();
    expect(language.current).toBe('en');
  });

  it('an STT and a text identifier that disagree are no evidence', () => {
    const language = session();
    expect(language.observe('quiero reservar una mesa para dos', ['en'])).toBeUndefined();
    // Three finals, two of them Spanish: the commonest counts.
    expect(language.observe('quiero reservar una mesa para dos', ['es', 'en', 'es'])?.source).toBe(
      'stt+text',
    );
    expect(language.current).toBe('es');
  });

  it('refuses a first language outside the allowed ones, and a bad code', () => {
    expect(() => new SessionLanguage({ allowed: ['en', 'es'], initial: 'fr' })).toThrow(
      /not in languages.allowed/,
    );
    expect(() => new SessionLanguage({ allowed: ['english'] })).toThrow(/not a language code/);
  });
});

describe('SessionLanguages: what follows a switch', () => {
  it('the status line and timeout apology: as configured in the first language, built in after a switch', () => {
    const clock = new VirtualClock();
    const tts = new ScriptedTts({ clock });
    const languages = new SessionLanguages({
      tts,
      stt: new ScriptedStt({ clock, words: [] }),
      language: 'en',
      languages: { allowed: ['en', 'de'], identifier },
      clock,
      longTools: { ...DEFAULT_LONG_TOOLS, statusText: 'One moment, checking.' },
      providerFailure: resolveProviderFailureOptions({ apology: 'Oops, say it again?' }),
      onError: () => undefined,
    });
    expect(languages.longTools().statusText).toBe('One moment, checking.');
    expect(languages.observe('ich möchte einen Tisch für zwei reservieren', true)?.to).toBe('de');
    expect(languages.longTools().statusText).toBe(LANGUAGE_PHRASES.de.statusText);
    expect(languages.longTools().timeoutApology).toBe(LANGUAGE_PHRASES.de.timeoutApology);
    expect(languages.chunker(undefined)?.language).toBe('de');
    expect(languages.sttLanguage()).toBe('de');
    languages.close();
  });
});

describe('per-language rules', () => {
  const chunks = (text: string, language?: string) => {
    const chunker = new SentenceChunker({ language, minSentenceChars: 1 });
    return [...chunker.push(`${text} `), chunker.flush()].filter(Boolean);
  };

  it('the chunker keeps German ordinals, Spanish abbreviations; the danda ends a Hindi sentence', () => {
    expect(chunks('Wir sehen uns am 3. Mai. Bis dann.', 'de')).toEqual([
      'Wir sehen uns am 3. Mai.',
      'Bis dann.',
    ]);
    expect(chunks('Wir sehen uns am 3. Mai. Bis dann.', 'en')).toHaveLength(3);
    expect(chunks('Le atiende el Sr. García. Un momento.', 'es')).toEqual([
      'Le atiende el Sr. García.',
      'Un momento.',
    ]);
    expect(chunks('No. Eso no.', 'es')).toEqual(['No.', 'Eso no.']);
    expect(chunks('मेज़ बुक हो गई। और कुछ?', 'hi')).toEqual(['मेज़ बुक हो गई।', 'और कुछ?']);
  });

  it('the word-list turn detector reads a sentence left open in the session language', () => {
    const detector = new HeuristicTurnDetector();
    const open = { transcript: 'quiero una mesa para', history: [] };
    expect(detector.endOfTurnProbability({ ...open, language: 'es' })).toBeLessThan(0.5);
    expect(detector.endOfTurnProbability({ ...open, language: 'en' })).toBeGreaterThan(0.5);
    const german = { transcript: 'ich möchte einen Tisch und', history: [], language: 'de' };
    expect(detector.endOfTurnProbability(german)).toBeLessThan(0.5);
  });

  it('the combined detector uses the continuation words of the language where its fitted model has none', async () => {
    const detector = new CombinedTurnDetector({ warn: () => undefined });
    const p = (transcript: string, language: string) =>
      detector.endOfTurnProbability({ transcript, history: [], language });
    expect(await p('quiero una mesa para', 'es')).toBeLessThan(0.3);
    expect(await p('quiero una mesa para dos.', 'es')).toBeGreaterThan(0.6);
    expect(await p('vorrei un tavolo e', 'it')).toBeLessThan(0.3);
    await detector.close();
  });
});

/** Records the language each STT stream was opened in. */
function recordingStt(
  inner: ScriptedStt,
  languages?: readonly string[],
): STT & { opened: (string | undefined)[] } {
  const opened: (string | undefined)[] = [];
  return {
    name: 'recording',
    ...(languages ? { languages } : {}),
    opened,
    stream: (listener, options?: SttStreamOptions) => {
      opened.push(options?.language);
      return inner.stream(listener);
    },
  };
}

async function typedSession(stt: STT) {
  const clock = new VirtualClock();
  const english = new ScriptedTts({ clock });
  const spanish = new ScriptedTts({ clock });
  const session = new AgentSession({
    clock,
    vad: new ScriptedVad({ speech: [] }),
    stt,
    llm: new ScriptedLlm({
      clock,
      reply: (m) => (m.at(-1)?.content.includes('Answer in Spanish') ? 'Claro que sí.' : 'Of course.'),
    }),
    tts: english,
    language: 'en',
    languages: { allowed: ['en', 'es'], identifier, voices: { es: spanish } },
  });
  const changes: LanguageChange[] = [];
  session.on('languageChanged', (c) => changes.push(c));
  await session.start(new PacedAudioOutput({ clock }));
  const say = async (text: string, answers = 1) => {
    const replies = session.history.toMessages().filter((m) => m.role === 'assistant').length;
    session.sendText(text);
    // Until the reply has been said to its end (virtual time; a typed message would cut a reply still playing).
    for (let i = 0; i < 600; i++) {
      await clock.advance(100);
      const now = session.history.toMessages().filter((m) => m.role === 'assistant').length;
      if (now >= replies + answers && session.state === 'listening') break;
    }
  };
  return { session, changes, say, english, spanish };
}

describe('a switch to a language the STT cannot hear', () => {
  it('says so once, in that language, keeps the STT it has, and goes on answering', async () => {
    const stt = recordingStt(new ScriptedStt({ clock: new VirtualClock(), words: [] }), ['en-US']);
    const t = await typedSession(stt);
    await t.say('hello there, can you help me');
    await t.say('quiero reservar una mesa para dos personas', 2); // the notice, then the reply
    await t.say('para esta noche a las nueve');
    const notice = LANGUAGE_PHRASES.es.noSpeechInput;
    const said = t.session.history
      .toMessages()
      .filter((m) => m.role === 'assistant')
      .map((m) => m.content);
    expect(said).toEqual(['Of course.', notice, 'Claro que sí.', 'Claro que sí.']);
    expect(t.changes.map((c) => c.to)).toEqual(['es']);
    expect(stt.opened).toEqual(['en']);
    expect(t.spanish.segmentsSynthesized.join(' ')).toContain(notice);
    expect(t.english.segmentsSynthesized.join(' ')).not.toContain('Claro');
    await t.session.close();
  });

  it('an STT that has the language gets a new stream in it (follow mode)', async () => {
    const stt = recordingStt(new ScriptedStt({ clock: new VirtualClock(), words: [] }));
    const t = await typedSession(stt);
    await t.say('quiero reservar una mesa para dos personas');
    await t.say('sorry, can we speak English please');
    expect(stt.opened).toEqual(['en', 'es', 'en']);
    const said = t.session.history
      .toMessages()
      .filter((m) => m.role === 'assistant')
      .map((m) => m.content);
    expect(said).toEqual(['Claro que sí.', 'Of course.']);
    await t.session.close();
  });
});

describe('the local STT in a multilingual session', () => {
  it('says it hears US English only, takes `multi` (as a fallback behind a detecting STT), refuses Spanish', () => {
    const stt = new PocketsphinxSTT();
    expect(stt.languages).toEqual(['en-US']);
    stt.stream({ onInterim() {}, onFinal() {} }, { language: 'multi' }).close();
    expect(() => stt.stream({ onInterim() {}, onFinal() {} }, { language: 'es' })).toThrow(
      /en-US model only/,
    );
    stt.dispose?.();
  });
});

describe('languages in the configuration', () => {
  it('builds local voices per language, picks the STT mode from its spec, refuses bad codes', async () => {
    const languages = LanguagesConfigSchema.parse({ allowed: ['en', 'es', 'it'] });
    const options = await configuredLanguages({ language: 'en', languages, tts: 'local' }, [
      'deepgram:nova-3',
    ]);
    expect(options?.stt).toBe('detect');
    expect(options?.voices?.es?.name).toBe('espeak-ng:es');
    expect(options?.voices?.it?.name).toBe('festival:lp_diphone');
    expect(options?.voices?.en).toBeUndefined();
    const cloud = await configuredLanguages({ language: 'en', languages, tts: 'openai' }, ['local']);
    expect(cloud?.stt).toBe('follow');
    expect(cloud?.voices).toEqual({});
    const saved = process.env.DEEPGRAM_API_KEY;
    process.env.DEEPGRAM_API_KEY = 'dg-test-key-not-used';
    try {
      const aura = await configuredLanguages({ language: 'en', languages, tts: 'deepgram-aura' }, [
        'deepgram',
      ]);
      expect(aura?.voices?.es?.name).toBe('deepgram-aura:aura-2-celeste-es');
      expect(aura?.voices?.it).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.DEEPGRAM_API_KEY;
      else process.env.DEEPGRAM_API_KEY = saved;
    }
    expect(() => LanguagesConfigSchema.parse({ allowed: ['en', 'Spanish'] })).toThrow();
    await expect(configuredLanguages({ language: 'fr', languages }, [])).rejects.toThrow(
      /not in languages.allowed/,
    );
  });
});

describe('local voices for the other languages', () => {
  it('each language of LOCAL_LANGUAGE_VOICES speaks a sentence of its own (espeak-ng, festival voices)', async () => {
    const spoken: Record<string, number> = {};
    for (const [language, spec] of Object.entries(LOCAL_LANGUAGE_VOICES)) {
      const tts = createTts(spec);
      const stream = tts.stream({ signal: new AbortController().signal });
      stream.pushText(LANGUAGE_SAMPLES[language]);
      stream.flush();
      stream.end();
      let loud = 0;
      for await (const audio of stream) for (const s of audio.frame.samples) if (Math.abs(s) > 1000) loud++;
      spoken[language] = Math.round((loud / tts.sampleRate) * 1000);
      await tts.close?.();
    }
    for (const language of Object.keys(LOCAL_LANGUAGE_VOICES))
      expect(spoken[language], language).toBeGreaterThan(300);
  }, 120_000);
});
