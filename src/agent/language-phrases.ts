/**
 * The session's fixed phrases in each language it can switch to: the long-tool status line and timeout apology,
 * the apology after a provider failure, and the notice for a language the STT cannot hear. Written for Repartee;
 * a configuration may override any of them per language.
 */
export interface LanguagePhrases {
  /** English name, for the LLM instruction ("Answer in Spanish"). */
  name: string;
  statusText: string;
  timeoutApology: string;
  apology: string;
  /** Said once when the session switches to this language and the STT cannot transcribe it. */
  noSpeechInput: string;
}

export const LANGUAGE_PHRASES: Readonly<Record<string, LanguagePhrases>> = {
  en: {
    name: 'English',
    statusText: 'Still working on it.',
    timeoutApology: 'Sorry, that is taking too long, so I stopped it.',
    apology: 'Sorry, something went wrong. Could you say that again?',
    noSpeechInput: 'I cannot understand spoken English here. Please type your messages instead.',
  },
  es: {
    name: 'Spanish',
    statusText: 'Sigo trabajando en ello.',
    timeoutApology: 'Lo siento, está tardando demasiado, así que lo he detenido.',
    apology: 'Lo siento, algo ha fallado. ¿Puede repetirlo?',
    noSpeechInput: 'Aquí no puedo entender el español hablado. Por favor, escríbame sus mensajes.',
  },
  fr: {
    name: 'French',
    statusText: "J'y travaille encore.",
    timeoutApology: "Désolé, cela prend trop de temps, alors je l'ai arrêté.",
    apology: "Désolé, quelque chose n'a pas marché. Pouvez-vous répéter ?",
    noSpeechInput: 'Je ne peux pas comprendre le français parlé ici. Écrivez-moi plutôt vos messages.',
  },
  de: {
    name: 'German',
    statusText: 'Ich bin noch dabei.',
    timeoutApology: 'Entschuldigung, das dauert zu lange, deshalb habe ich es abgebrochen.',
    apology: 'Entschuldigung, da ist etwas schiefgegangen. Können Sie das wiederholen?',
    noSpeechInput: 'Gesprochenes Deutsch kann ich hier nicht verstehen. Bitte schreiben Sie mir stattdessen.',
  },
  it: {
    name: 'Italian',
    statusText: 'Ci sto ancora lavorando.',
    timeoutApology: 'Mi dispiace, ci vuole troppo tempo, quindi mi sono fermato.',
    apology: 'Mi dispiace, qualcosa è andato storto. Può ripetere?',
    noSpeechInput: "Qui non riesco a capire l'italiano parlato. Per favore, mi scriva i suoi messaggi.",
  },
  pt: {
    name: 'Portuguese',
    statusText: 'Ainda estou a tratar disso.',
    timeoutApology: 'Desculpe, está a demorar demasiado, por isso parei.',
    apology: 'Desculpe, algo correu mal. Pode repetir?',
    noSpeechInput: 'Aqui não consigo entender português falado. Por favor, escreva-me as suas mensagens.',
  },
  nl: {
    name: 'Dutch',
    statusText: 'Ik ben er nog mee bezig.',
    timeoutApology: 'Sorry, dat duurt te lang, dus ik ben gestopt.',
    apology: 'Sorry, er ging iets mis. Kunt u dat herhalen?',
    noSpeechInput: 'Gesproken Nederlands kan ik hier niet verstaan. Typ uw berichten alstublieft.',
  },
  ru: {
    name: 'Russian',
    statusText: 'Я всё ещё над этим работаю.',
    timeoutApology: 'Извините, это занимает слишком много времени, поэтому я остановился.',
    apology: 'Извините, что-то пошло не так. Повторите, пожалуйста.',
    noSpeechInput: 'Здесь я не понимаю устную русскую речь. Пожалуйста, пишите мне сообщения.',
  },
  cs: {
    name: 'Czech',
    statusText: 'Pořád na tom pracuji.',
    timeoutApology: 'Promiňte, trvá to příliš dlouho, tak jsem to zastavil.',
    apology: 'Promiňte, něco se pokazilo. Můžete to zopakovat?',
    noSpeechInput: 'Mluvené češtině tady nerozumím. Napište mi prosím své zprávy.',
  },
  fi: {
    name: 'Finnish',
    statusText: 'Työskentelen vielä sen parissa.',
    timeoutApology: 'Anteeksi, tämä kestää liian kauan, joten keskeytin sen.',
    apology: 'Anteeksi, jokin meni vikaan. Voisitteko toistaa?',
    noSpeechInput: 'En ymmärrä täällä puhuttua suomea. Kirjoittakaa viestinne, kiitos.',
  },
  ca: {
    name: 'Catalan',
    statusText: 'Encara hi estic treballant.',
    timeoutApology: 'Ho sento, està trigant massa, així que ho he aturat.',
    apology: 'Ho sento, alguna cosa ha fallat. Ho pot repetir?',
    noSpeechInput: 'Aquí no puc entendre el català parlat. Si us plau, escrigui els seus missatges.',
  },
  hi: {
    name: 'Hindi',
    statusText: 'मैं अभी भी इस पर काम कर रहा हूँ।',
    timeoutApology: 'माफ़ कीजिए, इसमें बहुत समय लग रहा है, इसलिए मैंने इसे रोक दिया।',
    apology: 'माफ़ कीजिए, कुछ गड़बड़ हो गई। क्या आप दोबारा कह सकते हैं?',
    noSpeechInput: 'मैं यहाँ बोली गई हिंदी नहीं समझ सकता। कृपया अपने संदेश लिखिए।',
  },
};

/** The phrases for `language` with `overrides` on top; English where the language has none of its own. */
export function phrasesFor(language: string, overrides?: Partial<LanguagePhrases>): LanguagePhrases {
  const own = LANGUAGE_PHRASES[language];
  return { ...LANGUAGE_PHRASES.en, ...(own ?? { name: language }), ...overrides };
}
