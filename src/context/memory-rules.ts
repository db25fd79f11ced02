/**
 * The deterministic rules of memory across conversations (docs/memory.md): which sentences are facts the user
 * stated about themselves (the offline stack's extractor; an LLM may add more), and which utterances ask the agent
 * to forget. Plain phrase matching, so it works without any model and always decides the same way.
 */

/** What a "forget" request covers: the last stated fact, the items about a topic, or everything. */
export type ForgetCommand = { scope: 'last' } | { scope: 'about'; topic: string } | { scope: 'all' };

/** Words that may come before the imperative "forget" ("okay, please forget that"). */
const LEAD = String.raw`(?:(?:ok(?:ay)?|so|and|also|oh|hey|now|actually|well|please|just|can you|could you|would you|will you|i want you to|i'd like you to|i would like you to)\s+)*`;
/** "Forget" as an order at the start of a clause (not "I always forget that", not "don't forget that"). */
const FORGET = new RegExp(String.raw`^${LEAD}forget\s+(.*)$`);
/** "Delete everything you know about me" (only "everything … about me": "delete that" may be a tool's job). */
const DELETE_ALL = new RegExp(
  String.raw`^${LEAD}(?:delete|erase|wipe)\s+(?:everything|all)(?: that)?(?: you know| you have| you remember)? about me$`,
);
const ALL =
  /^(?:(?:all|everything)(?: (?:about me|(?:that )?you know about me|i(?: have|'ve)? (?:told|said to) you|i(?: have|'ve)? said))?|all about me|me|about me)$/;
const LAST =
  /^(?:that|this|it|about (?:it|that)|what i (?:just )?(?:said|told you)|the last thing i (?:said|told you))$/;
const ABOUT =
  /^(?:(?:what|everything|anything|all) i(?: have|'ve)? (?:told you|said|mentioned)(?: to you)? )?about (.+)$/;

/** The words of an utterance, lower case, with the apostrophes kept and the rest of the punctuation gone. */
function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}'\s-]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * A request to forget, or undefined. Each sentence is tried: "forget that" / "forget it" / "forget what I just
 * said" (the last fact), "forget what I told you about X" / "forget about X" / "forget that X" (the items about X),
 * "forget my X" (the items about X), "forget everything about me" / "forget everything" / "delete everything you
 * know about me" (all). "Forget" must open the sentence (after fillers such as "okay, please", "can you"), so a
 * negated one ("don't forget that", "never forget it") and one that is not an order ("I forget that…") do not match.
 */
export function forgetCommand(text: string): ForgetCommand | undefined {
  for (const sentence of text.split(/[.!?;]+/)) {
    const words = normalize(sentence);
    if (DELETE_ALL.test(words)) return { scope: 'all' };
    // Anchored at the start of the sentence: "don't forget that" and "I always forget that" are not orders.
    const match = FORGET.exec(words);
    if (!match) continue;
    const rest = match[1].replace(/\s+(?:please|now|thanks|thank you)$/, '').trim();
    if (ALL.test(rest)) return { scope: 'all' };
    if (LAST.test(rest)) return { scope: 'last' };
    const about = ABOUT.exec(rest)?.[1] ?? /^that (.+)$/.exec(rest)?.[1] ?? /^(?:my|our) .+$/.exec(rest)?.[0];
    if (about && about !== 'it' && about !== 'that') return { scope: 'about', topic: about };
  }
  return undefined;
}

/** The first-person statements the offline rule keeps ("my … is/are …", "I am / I'm / I live / I like …"). */
const FIRST_PERSON = [
  /\b(?:my|our)\s+(?:[\p{L}\p{N}'-]+\s+){0,4}(?:is|are|was|were|'s)\s+\S/u,
  /\b(?:i am|i'm)\s+(?!(?:not sure|sorry|just|looking|wondering|asking|trying|calling|going to ask|here|fine|good|ok|okay)\b)\S/,
  /\bi\s+(?:live|work|like|love|prefer|hate|dislike|have|own|drive|study|was born|moved|grew up|speak|need|use|play|am allergic)\b/,
  /\bi've\s+(?:got|been|lived|worked)\b/,
  /\b(?:call me|my name's)\s+\S/,
];

/** At most this many characters of one stated fact are kept. */
const MAX_FACT_CHARS = 300;

/**
 * The sentences of a user turn that state a fact about the user: statements (not questions, not requests to
 * forget) in the first person matching one of FIRST_PERSON. Each is kept as the user said it.
 */
export function statedFacts(text: string): string[] {
  const facts: string[] = [];
  for (const raw of text.match(/[^.!?]+[.!?]*/g) ?? []) {
    const sentence = raw.trim();
    if (!sentence || sentence.endsWith('?') || forgetCommand(sentence)) continue;
    const words = normalize(sentence);
    if (/^(?:do|does|can|could|would|will|what|when|where|why|how|who|which|is|are)\b/.test(words)) continue;
    if (!FIRST_PERSON.some((rule) => rule.test(words))) continue;
    facts.push(sentence.length > MAX_FACT_CHARS ? `${sentence.slice(0, MAX_FACT_CHARS)}…` : sentence);
  }
  return facts;
}
