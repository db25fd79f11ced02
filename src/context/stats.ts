/** What a built prompt holds, per turn (the turn record's context fields), and the summary it may carry. */

/** A finished summary: it stands in for every non-system history item up to `coveredUntilId`. */
export interface SummaryState {
  id: number;
  text: string;
  coveredUntilId: number;
  /** History messages it covers (all summaries so far). */
  messages: number;
  durationMs: number;
}

export interface ContextStats {
  /** Tokens of the prompt as sent (the model's tokenizer, with its chat format's overheads). */
  contextTokens: number;
  /** Messages in the prompt, instructions included. */
  contextMessages: number;
  /** History messages the prompt carries only through the summary. */
  summarizedMessages: number;
  /**
   * History messages left out of the prompt, shrunk to a stub or clipped, without a summary to stand in for them.
   */
  prunedMessages: number;
  /**
   * Messages clipped (with a marker) because cutting older turns could not bring the prompt within budget, e.g. a
   * huge tool result in the last turns; the pending message counts too.
   */
  clippedMessages: number;
  /** Older history messages back in the prompt verbatim for their relevance to the current user turn. */
  recalledMessages: number;
  /** Passages from the docs index in the prompt (set by ContextManager when it has one). */
  retrievalMs?: number;
  retrievedPassages?: number;
  /** Tokens the passages added to the prompt. */
  retrievedTokens?: number;
  /** Items from the user's earlier conversations in the prompt (memory.ts), and the tokens they added. */
  memoryItems?: number;
  memoryTokens?: number;
  summaryId: number | null;
  summaryDurationMs: number | null;
}
