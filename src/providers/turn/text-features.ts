import type { ChatMessage } from '../llm/contract.ts';
import { readInputMode } from './input-mode.ts';
import type { NgramModel } from './ngram-native.ts';
import { CONTINUATION_WORDS } from './wordlist.ts';

/** Numeric features of a transcript at a pause; names are the keys of the fitted weights (weights.ts). */
export type FeatureVector = Record<string, number>;

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/**
 * Lower-case words as the language model spells them: punctuation dropped (cloud STTs send it, pocketsphinx
 * does not), digits spelled out one by one as people dictate them, "@" read as "at".
 */
export function tokenize(transcript: string): string[] {
  const words: string[] = [];
  const spaced = transcript
    .toLowerCase()
    .replace(/@/g, ' at ')
    .replace(/(\w)\.(?=\w)/g, '$1 dot ');
  for (const raw of spaced.split(/\s+/)) {
    const word = raw.replace(/[^a-z0-9']/g, '').replace(/^'+|'+$/g, '');
    if (!word) continue;
    if (/^\d+$/.test(word)) {
      for (const digit of word) words.push(NUMBER_WORDS[Number(digit)]);
    } else {
      words.push(word);
    }
  }
  return words;
}

/** What the agent said last: the question this turn answers. */
export function lastAgentText(history: readonly ChatMessage[]): string {
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i].role === 'assistant' && history[i].content) return history[i].content;
  }
  return '';
}

/** Ends like a sentence in writing (cloud STTs punctuate; a trailing comma or dash means more to come). */
function punctuationOf(transcript: string): { end: number; open: number } {
  const text = transcript.trim();
  return {
    end: /[.!?]["')\]]*$/.test(text) ? 1 : 0,
    open: /([,;:\-–—]|\.\.\.)$/.test(text) ? 1 : 0,
  };
}

/** Words unfinished sentences typically go on with. */
const CONTINUATIONS = [
  'and',
  'to',
  'for',
  'the',
  'but',
  'because',
  'with',
  'in',
  'of',
  'on',
  'at',
  'so',
  'that',
  'a',
];
const YES_NO_QUESTION = /^(would|shall|should|is|are|was|do|does|did|can|could|will|have|has|may)\b/;
const QUESTION_START =
  /^(what|what's|how|when|where|which|who|why|is|are|can|could|do|does|did|will|would|should)\b/;
const CLOSING = /\b(thanks|thank you|that's all|that's it|that is all|please|bye|goodbye|cheers)$/;
const OPEN_PROMPT = /\b(how can i help|tell me more|what happened|describe|what seems to be|what can i do)\b/;

/** The n-gram features, or none when the model is unavailable (the combiner then uses their dev means). */
export function ngramFeatures(model: NgramModel | undefined, words: readonly string[]): FeatureVector {
  if (!model || words.length === 0) return {};
  const score = model.sentenceEnd(words);
  const goOn = model.continuation(words, CONTINUATIONS);
  return {
    ngramLog10End: Math.max(-6, score.log10Prob),
    // End against the usual ways of going on: "book a table" ends as readily as it takes "for".
    ngramEndVsGoOn: Math.max(-6, score.log10Prob) - Math.max(-6, goOn),
    ngramBackoff: score.order <= 1 ? 1 : 0,
    ngramLastUnknown: score.lastWordUnknown ? 1 : 0,
  };
}

/** Features from the words alone (no audio): lexical cues, input modes, punctuation, the n-gram model. */
export function textFeatures(
  transcript: string,
  history: readonly ChatMessage[],
  model: NgramModel | undefined,
): FeatureVector {
  const words = tokenize(transcript);
  const last = words.at(-1) ?? '';
  const mode = readInputMode(words, lastAgentText(history));
  const punctuation = punctuationOf(transcript);
  const asked = lastAgentText(history).toLowerCase().trim();
  const lastSentence = asked.split(/(?<=[.!?])\s+/).at(-1) ?? '';
  const yesNo = YES_NO_QUESTION.test(lastSentence) ? 1 : 0;
  const few = words.length <= 2 ? 1 : 0;
  return {
    ...ngramFeatures(model, words),
    fewWords: few,
    fewWordsAfterYesNo: few * yesNo,
    openPrompt: OPEN_PROMPT.test(asked) ? 1 : 0,
    // A question asked in full ends where the question does; closing words end turns whatever came before.
    question: QUESTION_START.test(words.join(' ')) ? 1 : 0,
    closing: CLOSING.test(words.join(' ')) ? 1 : 0,
    continuationWord: CONTINUATION_WORDS.has(last) ? 1 : 0,
    filler: /^(um+|uh+|er+m?|hmm+|mm+)$/.test(last) ? 1 : 0,
    logWords: Math.log1p(words.length),
    modeOpen: mode.mode !== undefined && !mode.complete ? 1 : 0,
    modeComplete: mode.mode !== undefined && mode.complete ? 1 : 0,
    modeOpenPrompted: mode.prompted && !mode.complete ? 1 : 0,
    modeDigits: mode.mode === 'digits' ? 1 : 0,
    modeList: mode.mode === 'list' && !mode.complete ? 1 : 0,
    punctuationEnd: punctuation.end,
    punctuationOpen: punctuation.open,
  };
}
