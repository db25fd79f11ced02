import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { ChatMessage, ToolCall, ToolSchema } from './contract.ts';

/** Streamed tool calls arrive as fragments keyed by index: the first carries id and name, the rest argument text. */
export class ToolCallAccumulator {
  private parts = new Map<number, { id?: string; name: string; arguments: string }>();

  add(d: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    const part = this.parts.get(d.index) ?? { name: '', arguments: '' };
    if (d.id) part.id = d.id;
    if (d.function?.name) part.name += d.function.name;
    if (d.function?.arguments) part.arguments += d.function.arguments;
    this.parts.set(d.index, part);
  }

  flush(): ToolCall[] {
    const out = [...this.parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, p]) => ({
        id: p.id ?? `call_${index}_${Date.now().toString(36)}`,
        name: p.name,
        arguments: p.arguments || '{}',
      }));
    this.parts.clear();
    return out;
  }
}

export function toWireMessage(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: m.content };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content || (m.toolCalls?.length ? null : ''),
        ...(m.toolCalls?.length
          ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function' as const,
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : {}),
      };
  }
}

export function toWireTool(t: ToolSchema): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  };
}
