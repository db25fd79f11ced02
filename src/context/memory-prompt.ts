import type { TokenCounter } from '../providers/llm/contract.ts';
import type { MessageTokens } from './tokens.ts';
import type { ContextPrompt } from './window.ts';

/** What ContextManager asks of a user's memory (UserMemory in memory.ts). */
export interface PromptMemory {
  block(
    query: string,
    maxTokens: number,
    counter: TokenCounter,
  ): { text: string; tokens: number; used: number } | undefined;
}

/**
 * The prompt with the remembered items relevant to `question` (the user turn's own words) at the head of its last
 * user message, within `room` tokens; the stats say how many and what they cost. The history keeps the user's
 * words as they were: only this prompt carries the block.
 */
export function withMemoryBlock(
  prompt: ContextPrompt,
  question: string,
  memory: PromptMemory,
  room: number,
  tokens: MessageTokens,
): ContextPrompt {
  const stats = { ...prompt.stats, memoryItems: 0, memoryTokens: 0 };
  const at = prompt.messages.findLastIndex((m) => m.role === 'user');
  if (at < 0 || room <= 0) return { ...prompt, stats };
  const user = prompt.messages[at];
  let limit = room;
  // The block's own count is close to what it adds to the message; a tokenizer that merges across the join may
  // differ by a token or two, so the block is shrunk until the message fits.
  for (let attempt = 0; attempt < 3 && limit > 0; attempt++) {
    const block = memory.block(question, limit, tokens.counter);
    if (!block) break;
    const message = { ...user, content: `${block.text}\n\n${user.content}` };
    const added = tokens.count(message) - tokens.count(user);
    if (added <= room) {
      const messages = [...prompt.messages];
      messages[at] = message;
      stats.contextTokens += added;
      stats.memoryItems = block.used;
      stats.memoryTokens = added;
      return { ...prompt, messages, stats };
    }
    limit -= added - room + 1;
  }
  return { ...prompt, stats };
}
