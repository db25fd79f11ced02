/** Words that, at the end of an utterance, mean the speaker has more to say. */
export const CONTINUATION_WORDS: ReadonlySet<string> = new Set([
  'a',
  'an',
  'the',
  'and',
  'or',
  'but',
  'so',
  'because',
  'if',
  'to',
  'of',
  'in',
  'on',
  'for',
  'with',
  'at',
  'from',
  'my',
  'your',
  'their',
  'our',
  'his',
  'her',
  'its',
  'is',
  'are',
  'was',
  'were',
  'am',
  'be',
  'um',
  'uh',
  'er',
  'erm',
  'like',
  'that',
  'which',
  'who',
  'when',
  'where',
  'then',
  'than',
  'about',
  'into',
  'i',
  "i'm",
  'we',
  'you',
  'they',
  'want',
  'need',
  'think',
  'maybe',
  'also',
  'some',
  'very',
  'really',
  'just',
  'let',
  "let's",
]);

/**
 * The same idea in the other languages a session may switch to: articles, prepositions, conjunctions and fillers
 * that leave a sentence open when it stops on them. Written for Repartee; short on purpose (the commonest only).
 */
export const CONTINUATION_WORDS_BY_LANGUAGE: Readonly<Record<string, ReadonlySet<string>>> = {
  en: CONTINUATION_WORDS,
  es: new Set(
    'el la los las un una unos unas y o pero porque si de del a al en con por para que como mi tu su nuestro cuando donde pues este eh quiero necesito es son'.split(
      ' ',
    ),
  ),
  fr: new Set(
    "le la les un une des et ou mais parce si de du au aux en avec pour par que qui comme mon ma mes ton ta son sa quand où alors euh je veux est sont c'est".split(
      ' ',
    ),
  ),
  de: new Set(
    'der die das den dem des ein eine einen einem und oder aber weil wenn von zu mit für auf in an bei dass wie mein meine dein sein ihr wann wo dann äh ähm ich will ist sind'.split(
      ' ',
    ),
  ),
  it: new Set(
    'il lo la i gli le un una e o ma perché se di del a al in con per che come mio mia tuo suo quando dove allora ehm voglio è sono'.split(
      ' ',
    ),
  ),
  pt: new Set(
    'o a os as um uma e ou mas porque se de do da em no na com por para que como meu minha seu sua quando onde então hum quero é são'.split(
      ' ',
    ),
  ),
  nl: new Set(
    'de het een en of maar omdat als van naar met voor op in aan dat die hoe mijn jouw zijn haar wanneer waar dan eh ik wil is zijn'.split(
      ' ',
    ),
  ),
  ru: new Set('и или но потому если в на с по для что как мой моя когда где тогда э я хочу это'.split(' ')),
  cs: new Set('a nebo ale protože když v na s z do pro že jak můj moje kde pak ehm chci je jsou'.split(' ')),
  fi: new Set('ja tai mutta koska jos että kun missä sitten niin öö haluan on ovat minun'.split(' ')),
  ca: new Set(
    'el la els les un una i o però perquè si de del a al en amb per que com meu meva quan on doncs eh vull és són'.split(
      ' ',
    ),
  ),
};
