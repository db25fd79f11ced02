import type { ChatRequest, LLM, LlmChunk, TokenCounter } from '../providers/llm/contract.ts';
import { type ForgetCommand, forgetCommand } from './memory-rules.ts';

/** The agent's answer to a request to forget: said as is, so it is the same with any model, or none. */
export function forgetConfirmation(command: ForgetCommand): string {
  if (command.scope === 'all') return "Okay, I've forgotten everything you told me.";
  if (command.scope === 'last') return "Okay, I've forgotten that.";
  const topic = command.topic.replace(/\bmy\b/g, 'your').replace(/\bour\b/g, 'your');
  return `Okay, I've forgotten what you told me about ${topic}.`;
}

/**
 * The session's LLM when it has a user's memory: a turn that asks to forget (memory-rules.ts) is answered with
 * the confirmation, without asking the model (the session's memory wiring deletes the items as the turn enters
 * the history); every other request goes to the model unchanged. Summaries and side jobs use `sibling()`, the
 * model's own.
 */
export class ForgetConfirmingLlm implements LLM {
  readonly name: string;
  readonly tokenCounter?: () => Promise<TokenCounter>;
  readonly sibling?: () => LLM;
  readonly prewarm?: () => Promise<void>;
  readonly close?: () => Promise<void>;

  /** `active`: whether the session has a user's memory now (a user named after the session was made). */
  constructor(
    private readonly inner: LLM,
    private readonly active: () => boolean = () => true,
  ) {
    this.name = inner.name;
    if (inner.tokenCounter) this.tokenCounter = () => inner.tokenCounter?.() as Promise<TokenCounter>;
    if (inner.sibling) this.sibling = () => inner.sibling?.() as LLM;
    if (inner.prewarm) this.prewarm = () => inner.prewarm?.() as Promise<void>;
    if (inner.close) this.close = () => inner.close?.() as Promise<void>;
  }

  chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    if (!this.active()) return this.inner.chat(request);
    const last = request.messages.findLast((m) => m.role === 'user');
    const command = last && forgetCommand(lastParagraph(last.content));
    if (!command) return this.inner.chat(request);
    const text = forgetConfirmation(command);
    return (async function* () {
      request.signal?.throwIfAborted();
      yield { type: 'text', delta: text } as LlmChunk;
    })();
  }
}

/** The user's own words: blocks the context put before them (passages, memory) are separated by a blank line. */
function lastParagraph(content: string): string {
  const at = content.lastIndexOf('\n\n');
  return at < 0 ? content : content.slice(at + 2);
}
