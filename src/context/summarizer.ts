import type { ChatMessage, LLM } from '../providers/llm/contract.ts';

/** A tool output reaches the summariser clipped to this many characters: it summarises, it need not read all. */
const TOOL_OUTPUT_CHARS = 1500;

export class SummaryError extends Error {
  override readonly name = 'SummaryError';
}

/** The conversation part as a plain transcript, as the user experienced it. */
export function transcriptOf(messages: readonly ChatMessage[]): string {
  const lines: string[] = [];
  for (const m of messages) {
    if (m.role === 'user') lines.push(`User: ${m.content}`);
    else if (m.role === 'assistant') {
      if (m.content)
        lines.push(`Assistant: ${m.content}${m.interrupted ? ' (cut off by the user here)' : ''}`);
      for (const call of m.toolCalls ?? []) lines.push(`Assistant called ${call.name}(${call.arguments})`);
    } else if (m.role === 'tool') {
      const clipped =
        m.content.length > TOOL_OUTPUT_CHARS ? `${m.content.slice(0, TOOL_OUTPUT_CHARS)}…` : m.content;
      lines.push(`Tool result: ${clipped}`);
    }
  }
  return lines.join('\n');
}

export interface SummarizeRequest {
  llm: LLM;
  prompt: string;
  previous: string | undefined;
  messages: readonly ChatMessage[];
  maxTokens: number;
  signal: AbortSignal;
}

/** Asks `llm` for the running summary updated with `messages`. Throws SummaryError for an empty answer. */
export async function summarize(request: SummarizeRequest): Promise<string> {
  const { llm, signal } = request;
  const user =
    `Summary so far: ${request.previous ?? '(none yet)'}\n\n` +
    `New part of the conversation:\n${transcriptOf(request.messages)}`;
  let text = '';
  for await (const chunk of llm.chat({
    messages: [
      { role: 'system', content: request.prompt },
      { role: 'user', content: user },
    ],
    signal,
    maxTokens: request.maxTokens,
    temperature: 0.2,
  })) {
    if (chunk.type === 'text') text += chunk.delta;
  }
  signal.throwIfAborted();
  const summary = text.replace(/\s+/g, ' ').trim();
  if (!summary) throw new SummaryError(`${llm.name} returned an empty summary`);
  return summary;
}
