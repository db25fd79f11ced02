import type { ChatMessage, ToolSchema } from './contract.ts';

/**
 * Our chat contract in the shape of Anthropic's Messages API (https://docs.anthropic.com/en/api/messages):
 * system messages go to the top-level `system` blocks, tool calls become `tool_use` blocks on the assistant turn
 * and tool results `tool_result` blocks on the next user turn, and consecutive messages of one role are merged
 * (the API wants user and assistant to alternate). The instructions (the first system message) carry a
 * `cache_control` breakpoint, so the prefix the API caches is the tools plus the instructions: the part of the
 * prompt that is the same on every turn.
 */

export interface CacheControl {
  type: 'ephemeral';
}

export interface TextBlock {
  type: 'text';
  text: string;
  cache_control?: CacheControl;
}

export interface ToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content: string;
}

export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock;

export interface WireMessage {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

export interface WireTool {
  name: string;
  description: string;
  input_schema: Record<string, unknown>;
  cache_control?: CacheControl;
}

export interface WirePrompt {
  system?: TextBlock[];
  messages: WireMessage[];
}

/** Said as the first user turn when the history starts with the agent (a greeting): the API wants a user first. */
export const CONVERSATION_START = '(The call has started.)';

export interface ToWirePromptOptions {
  /** Put a cache breakpoint on the instructions. Default true. */
  cacheInstructions?: boolean;
}

export function toWirePrompt(
  messages: readonly ChatMessage[],
  options: ToWirePromptOptions = {},
): WirePrompt {
  const system: TextBlock[] = [];
  const out: WireMessage[] = [];
  const add = (role: WireMessage['role'], blocks: ContentBlock[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        if (m.content.trim()) system.push({ type: 'text', text: m.content });
        break;
      case 'user':
        add('user', m.content.trim() ? [{ type: 'text', text: m.content }] : []);
        break;
      case 'assistant': {
        const blocks: ContentBlock[] = m.content.trim() ? [{ type: 'text', text: m.content }] : [];
        for (const call of m.toolCalls ?? []) {
          blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: parseInput(call.arguments) });
        }
        add('assistant', blocks);
        break;
      }
      case 'tool':
        add('user', [{ type: 'tool_result', tool_use_id: m.toolCallId ?? '', content: m.content }]);
        break;
    }
  }
  if (out[0]?.role === 'assistant')
    out.unshift({ role: 'user', content: [{ type: 'text', text: CONVERSATION_START }] });
  if (system.length > 0 && options.cacheInstructions !== false)
    system[0].cache_control = { type: 'ephemeral' };
  return { ...(system.length ? { system } : {}), messages: out };
}

export function toWireTools(tools: readonly ToolSchema[]): WireTool[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    input_schema: { type: 'object', ...t.parameters },
  }));
}

/** A tool call's arguments as the object `tool_use.input` must be; text that is not a JSON object gives `{}`. */
function parseInput(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text || '{}');
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/**
 * The estimate used when the count endpoint cannot be reached (Claude's tokenizer is not published): about 3.5
 * characters of English per token, a rule of thumb on the high side of token counts, rounded up so a context
 * budget errs on the safe side.
 */
export const ESTIMATE_CHARS_PER_TOKEN = 3.5;

export function estimateTokens(text: string, charsPerToken = ESTIMATE_CHARS_PER_TOKEN): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / charsPerToken);
}
