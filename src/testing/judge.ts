import type { LLM } from '../providers/llm/contract.ts';

export interface JudgeOptions {
  /** The judging model. Without one the verdict is `skipped` (an LLM-judged assertion is optional). */
  llm?: LLM;
  /** What the agent said (a turn's `said`). */
  reply: string;
  /** The criterion in plain words: "the reply confirms the booking time". */
  criterion: string;
  /** What the user said before, to judge the reply in context. */
  userTurn?: string;
  timeoutMs?: number;
}

export interface Verdict {
  /** true / false, or undefined when skipped. */
  pass: boolean | undefined;
  skipped: boolean;
  /** The judge's own words. */
  explanation: string;
}

/**
 * Asks an LLM whether a reply meets a criterion. The answer must start with PASS or FAIL; anything else is a
 * failure with the judge's text as the explanation. Without an LLM it is skipped, never passed.
 */
export async function judge(options: JudgeOptions): Promise<Verdict> {
  if (!options.llm) return { pass: undefined, skipped: true, explanation: 'no judge LLM configured' };
  const signal = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  const context = options.userTurn ? `The caller said: "${options.userTurn}"\n` : '';
  let text = '';
  for await (const chunk of options.llm.chat({
    messages: [
      {
        role: 'system',
        content:
          'You grade a voice agent. Answer with PASS or FAIL as the first word, then one short sentence saying why.',
      },
      {
        role: 'user',
        content: `${context}The agent replied: "${options.reply}"\nCriterion: ${options.criterion}\nDoes the reply meet the criterion?`,
      },
    ],
    signal,
    temperature: 0,
    maxTokens: 60,
  })) {
    if (chunk.type === 'text') text += chunk.delta;
  }
  const answer = text.trim();
  const first = answer
    .split(/\s+/)[0]
    ?.replace(/[^A-Za-z]/g, '')
    .toUpperCase();
  return { pass: first === 'PASS', skipped: false, explanation: answer };
}
