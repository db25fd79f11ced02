import type { Clock } from '../../metrics/clock.ts';
import type { ChatMessage, ChatRequest, LLM, LlmChunk, ToolCall } from './contract.ts';

export interface ScriptedReply {
  text?: string;
  toolCalls?: ToolCall[];
  ttftMs?: number;
  tokensPerSecond?: number;
}

export interface ScriptedLlmOptions {
  clock: Clock;
  /** The reply to a request, from its messages. */
  reply: (messages: readonly ChatMessage[]) => ScriptedReply | string;
  ttftMs?: number;
  /** Tokens are whitespace-delimited pieces; Infinity emits them back to back. */
  tokensPerSecond?: number;
}

/** A test LLM with controllable time to first token and token rate; records every request. */
export class ScriptedLlm implements LLM {
  readonly name = 'scripted';
  readonly requests: { messages: ChatMessage[]; at: number; aborted: boolean }[] = [];
  constructor(private readonly options: ScriptedLlmOptions) {}

  async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    const { clock } = this.options;
    const record = { messages: request.messages.map((m) => ({ ...m })), at: clock.now(), aborted: false };
    this.requests.push(record);
    request.signal.addEventListener('abort', () => {
      record.aborted = true;
    });
    const scripted = this.options.reply(request.messages);
    const reply = typeof scripted === 'string' ? { text: scripted } : scripted;
    const ttftMs = reply.ttftMs ?? this.options.ttftMs ?? 0;
    const rate = reply.tokensPerSecond ?? this.options.tokensPerSecond ?? Number.POSITIVE_INFINITY;
    const tokens = (reply.text ?? '').match(/\S+\s*|\s+/g) ?? [];
    try {
      await clock.sleep(ttftMs, request.signal);
      for (let i = 0; i < tokens.length; i++) {
        if (i > 0 && Number.isFinite(rate)) await clock.sleep(1000 / rate, request.signal);
        if (request.signal.aborted) return;
        yield { type: 'text', delta: tokens[i] };
      }
      for (const call of reply.toolCalls ?? []) yield { type: 'toolCall', call };
      yield {
        type: 'usage',
        promptTokens: request.messages.reduce((n, m) => n + m.content.split(/\s+/).length, 0),
        completionTokens: tokens.length,
      };
    } catch (error) {
      if (request.signal.aborted) return;
      throw error;
    }
  }
}
