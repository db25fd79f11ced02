import { z } from 'zod';

/**
 * How the prompt is kept small. Tokens are counted with the model's own tokenizer. The defaults suit the local
 * default (a 0.5B model in a 4,096-token context, prefilling ~200 tokens/s on one core): a summary rewrites the
 * prompt after the instructions, which a local model must prefill again, so rewrites happen only when the prompt
 * crosses the high watermark and then bring it down to the low one, leaving many turns of cheap KV-cache reuse
 * in between.
 */
export interface ContextPolicyOptions {
  /** Hard budget for a request's prompt: older messages leave the prompt rather than exceed it. */
  maxTokens: number;
  /** Hard limit on the messages after the instructions (the summary counts as part of the instructions). */
  maxMessages: number;
  /** Start a summary in the background once the prompt reaches this many tokens (the high watermark). */
  summarizeAtTokens: number;
  /** …or this many messages. */
  summarizeAtMessages: number;
  /** A summary folds in enough older turns for the prompt to fall to about this many tokens (the low watermark). */
  summarizeToTokens: number;
  /** The last N user turns (and the replies to them) always stay verbatim: never summarised or shrunk. */
  keepTurns: number;
  /** Older tool outputs longer than this are shrunk to a stub once the LLM has answered after them. */
  toolOutputMaxTokens: number;
  /** Summaries on or off; off leaves only the hard limits (oldest turns simply leave the prompt). */
  summarize: boolean;
  /** Length limit of a summary, in tokens of the summarising LLM. */
  summaryMaxTokens: number;
  /** A summary that has not finished by then is cancelled and reported as an error. */
  summarizeTimeoutMs: number;
  /** Instructions for the summarising LLM. */
  summaryPrompt: string;
  /**
   * Tokens of the budget set aside for older turns recalled verbatim by relevance to the current user turn (BM25
   * over the history, see relevance.ts): the recent window and its watermarks get `maxTokens - recallTokens`, so
   * the prompt stays within `maxTokens`. 0 (the default) keeps the window by recency only.
   */
  recallTokens: number;
  /**
   * Tokens of the budget for passages retrieved from the user's documents (retrieval.ts), when the conversation
   * has a docs index: set aside like `recallTokens`.
   */
  retrievalTokens: number;
}

export const DEFAULT_SUMMARY_PROMPT =
  'You keep a running summary of a spoken conversation between a user and a voice assistant. Rewrite the summary ' +
  'so that it also covers the new part of the conversation. Keep every fact the user gave (names, numbers, dates, ' +
  'places, preferences), decisions, promises and open questions; drop greetings and small talk. Write plain ' +
  'sentences in the third person ("The user ..."), no lists, no more than about 120 words. Reply with the summary ' +
  'only.';

export const DEFAULT_CONTEXT_POLICY: ContextPolicyOptions = {
  maxTokens: 2048,
  maxMessages: 64,
  summarizeAtTokens: 1536,
  summarizeAtMessages: 48,
  summarizeToTokens: 768,
  keepTurns: 2,
  toolOutputMaxTokens: 128,
  summarize: true,
  summaryMaxTokens: 200,
  summarizeTimeoutMs: 120_000,
  summaryPrompt: DEFAULT_SUMMARY_PROMPT,
  recallTokens: 0,
  retrievalTokens: 300,
};

const positiveInt = z.number().int().positive();

/** The policy's shape for configuration files and environment (every key optional; defaults above). */
export const contextPolicySchema = z
  .object({
    maxTokens: positiveInt,
    maxMessages: positiveInt,
    summarizeAtTokens: positiveInt,
    summarizeAtMessages: positiveInt,
    summarizeToTokens: positiveInt,
    keepTurns: z.number().int().min(0),
    toolOutputMaxTokens: positiveInt,
    summarize: z.boolean(),
    summaryMaxTokens: positiveInt,
    summarizeTimeoutMs: positiveInt,
    summaryPrompt: z.string().trim().min(1),
    recallTokens: z.number().int().min(0),
    retrievalTokens: z.number().int().min(0),
  })
  .partial()
  .strict();

export class ContextPolicyError extends Error {
  override readonly name = 'ContextPolicyError';
}

/** Defaults merged with `overrides`; throws ContextPolicyError naming every problem. */
export function resolveContextPolicy(
  overrides: Partial<ContextPolicyOptions> = {},
  /** The conversation has a docs index: `retrievalTokens` come out of the budget too. */
  retrieval = false,
): ContextPolicyOptions {
  const parsed = contextPolicySchema.safeParse(overrides);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ContextPolicyError(`invalid context policy: ${issues.join('; ')}`);
  }
  const policy = { ...DEFAULT_CONTEXT_POLICY, ...parsed.data };
  const problems: string[] = [];
  if (policy.summarizeAtTokens > policy.maxTokens)
    problems.push('summarizeAtTokens must not exceed maxTokens');
  if (policy.summarizeToTokens >= policy.summarizeAtTokens)
    problems.push('summarizeToTokens must be below summarizeAtTokens');
  if (policy.summaryMaxTokens >= policy.summarizeToTokens)
    problems.push('summaryMaxTokens must be below summarizeToTokens');
  if (policy.summarizeAtMessages > policy.maxMessages)
    problems.push('summarizeAtMessages must not exceed maxMessages');
  if (policy.recallTokens > 0 && policy.summarizeToTokens - policy.recallTokens <= policy.summaryMaxTokens)
    problems.push('recallTokens must leave room for a summary below summarizeToTokens');
  if (
    retrieval &&
    policy.summarizeToTokens - policy.recallTokens - policy.retrievalTokens <= policy.summaryMaxTokens
  )
    problems.push('recallTokens + retrievalTokens must leave room for a summary below summarizeToTokens');
  if (problems.length) throw new ContextPolicyError(`invalid context policy: ${problems.join('; ')}`);
  return policy;
}

/** The policy of the recent window when `recallTokens` are set aside for recalled turns. */
export function recencyPolicy(policy: ContextPolicyOptions, retrieval = false): ContextPolicyOptions {
  const r = policy.recallTokens + (retrieval ? policy.retrievalTokens : 0);
  if (r <= 0) return policy;
  return {
    ...policy,
    maxTokens: policy.maxTokens - r,
    summarizeAtTokens: policy.summarizeAtTokens - r,
    summarizeToTokens: policy.summarizeToTokens - r,
  };
}
