/**
 * Input modes in which a short pause is not the end of a turn: dictating digits, spelling, an e-mail address,
 * a postal address or a list. People pause between groups ("four seven two … nine nine one") and the words so
 * far read like a finished sentence, so a language model alone cuts them off. Plain rules on the words and on
 * what the agent just asked for; microseconds per call.
 */

export type InputMode = 'digits' | 'spelling' | 'email' | 'address' | 'list';

export interface InputModeReading {
  /** The mode the user appears to be in at this pause, or undefined for ordinary speech. */
  mode: InputMode | undefined;
  /** The entry looks complete for its kind (ten digits, "dot com", "and" before the last item). */
  complete: boolean;
  /** The agent's last message asked for this kind of entry. */
  prompted: boolean;
}

const DIGIT_WORDS = new Set([
  'zero',
  'oh',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'double',
  'triple',
  'hundred',
  'thousand',
]);
const NATO = new Set(
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray x-ray yankee zulu'.split(
    ' ',
  ),
);
const EMAIL_WORDS = new Set(['dot', 'underscore', 'dash', 'hyphen', 'at']);
const TOP_LEVEL = new Set(['com', 'org', 'net', 'edu', 'gov', 'io', 'uk', 'co', 'de', 'fr', 'ca']);
const STREET_WORDS = new Set(
  'street st road rd avenue ave lane drive boulevard way court place square close crescent terrace highway apartment apt flat suite unit floor building'.split(
    ' ',
  ),
);
const LIST_CUES =
  /\b(i need|i'll have|i will have|i want|i'd like|add|buy|pick up|get me|order|list|groceries|ingredients|first|then)\b/;
const PROMPTS: [InputMode, RegExp][] = [
  ['digits', /\b(number|digits|code|pin|zip|postcode|card|account|reference|order id)\b/],
  ['email', /\b(e-?mail)\b/],
  ['spelling', /\bspell\b/],
  ['address', /\b(address|where do you live|postcode)\b/],
  ['list', /\b(what would you like|anything else|what do you need|your order)\b/],
];

const isDigitWord = (w: string) => DIGIT_WORDS.has(w) || /^\d+$/.test(w);
const isLetter = (w: string) => /^[a-z]$/.test(w) || NATO.has(w);

/** Reads the input mode of `words` (lower-case tokens of the turn so far) after the agent said `agentText`. */
export function readInputMode(words: readonly string[], agentText = ''): InputModeReading {
  const asked = agentText.toLowerCase();
  const promptedMode = PROMPTS.find(([, pattern]) => pattern.test(asked))?.[0];
  const reading = (mode: InputMode | undefined, complete: boolean): InputModeReading => ({
    mode,
    complete,
    prompted: mode !== undefined && mode === promptedMode,
  });
  if (words.length === 0) return reading(undefined, false);
  const tail = words.slice(-4);
  const last = words[words.length - 1];

  const emailAt = words.lastIndexOf('at');
  const emailish = words.some((w) => EMAIL_WORDS.has(w) && w !== 'at') || promptedMode === 'email';
  if (emailish && (words.includes('dot') || words.includes('underscore') || emailAt >= 0)) {
    const domainDone = words.at(-2) === 'dot' && TOP_LEVEL.has(last);
    return reading('email', domainDone);
  }
  if (EMAIL_WORDS.has(last) && last !== 'at') return reading('email', false);

  const digitCount = words.filter(isDigitWord).length;
  if (isDigitWord(last) && (tail.filter(isDigitWord).length >= 2 || promptedMode === 'digits')) {
    // A phone number, card or code of a usual length may be done; a short run is a group in the middle.
    const complete = [4, 5, 6, 10, 11, 16].includes(digitCount);
    if (!words.some((w) => STREET_WORDS.has(w))) return reading('digits', complete);
  }

  if (isLetter(last) && tail.filter(isLetter).length >= 2) return reading('spelling', false);
  if (promptedMode === 'spelling' && isLetter(last)) return reading('spelling', false);

  const addressy =
    promptedMode === 'address' ||
    words.some((w) => STREET_WORDS.has(w)) ||
    /\b(address is|i live at|ship it to|deliver to|send it to)\b/.test(words.join(' '));
  if (addressy && (digitCount > 0 || words.some((w) => STREET_WORDS.has(w)))) {
    // Street, then town, then postcode: after a street name people usually go on.
    return reading('address', !STREET_WORDS.has(last) && !isDigitWord(last) && words.length > 6);
  }

  const text = words.join(' ');
  if (LIST_CUES.test(text) || promptedMode === 'list') {
    // "x, y and z": the conjunction before the last item is how a spoken list announces its end.
    const closed = tail.slice(0, -1).some((w) => w === 'and' || w === 'or');
    if (words.length >= 3) return reading('list', closed);
  }
  return reading(undefined, false);
}
