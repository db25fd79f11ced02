import { randomUUID } from 'node:crypto';
import type {
  ChatHistoryItem,
  ChatModelFunctionCall,
  ChatModelFunctions,
  ChatModelResponse,
} from 'node-llama-cpp';
import type { ChatMessage, ToolCall, ToolSchema } from './contract.ts';
import { toGbnfParams } from './llama-schema.ts';

/**
 * Converts our message list to node-llama-cpp's chat history.
 *
 * node-llama-cpp keeps a tool call, its result and the text the model writes afterwards inside one model response,
 * so an assistant message that asked for tools, the tool messages answering it and the assistant message after them
 * fold into a single `model` item. The history always ends with a model item: an empty one asks for a new reply, a
 * non-empty one (after tool results) asks the model to continue it.
 */
export function toChatHistory(
  messages: readonly ChatMessage[],
  tools?: readonly ToolSchema[],
): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const calls = new Map<string, ChatModelFunctionCall>();
  const descriptions = new Map(tools?.map((t) => [t.name, t.description]));
  let afterToolResult = false;

  const lastModel = (): ChatModelResponse | undefined => {
    const last = history.at(-1);
    return last?.type === 'model' ? last : undefined;
  };

  for (const m of messages) {
    switch (m.role) {
      case 'system':
        history.push({ type: 'system', text: m.content });
        afterToolResult = false;
        break;
      case 'user':
        history.push({ type: 'user', text: m.content });
        afterToolResult = false;
        break;
      case 'assistant': {
        const target = afterToolResult ? lastModel() : undefined;
        const response: ChatModelResponse['response'] = target ? target.response : [];
        if (m.content) response.push(m.content);
        for (const call of m.toolCalls ?? []) {
          const item: ChatModelFunctionCall = {
            type: 'functionCall',
            name: call.name,
            description: descriptions.get(call.name),
            params: parseJson(call.arguments),
            result: undefined,
          };
          calls.set(call.id, item);
          response.push(item);
        }
        if (!target) history.push({ type: 'model', response });
        afterToolResult = false;
        break;
      }
      case 'tool': {
        const call = m.toolCallId ? calls.get(m.toolCallId) : undefined;
        if (call) {
          call.result = parseJson(m.content);
          afterToolResult = true;
        } else {
          // A result whose call is no longer in the history (e.g. pruned): keep the information as plain text.
          history.push({
            type: 'user',
            text: `Tool result${m.toolCallId ? ` (${m.toolCallId})` : ''}: ${m.content}`,
          });
          afterToolResult = false;
        }
        break;
      }
    }
  }
  if (!lastModel()) history.push({ type: 'model', response: [] });
  return history;
}

/** Our tool schemas as node-llama-cpp functions (descriptions and grammar only: no handlers, we never execute). */
export function toChatFunctions(tools?: readonly ToolSchema[]): ChatModelFunctions | undefined {
  if (!tools || tools.length === 0) return undefined;
  const functions: Record<string, { description?: string; params?: ReturnType<typeof toGbnfParams> }> = {};
  for (const t of tools)
    functions[t.name] = { description: t.description, params: toGbnfParams(t.parameters) };
  return functions as ChatModelFunctions;
}

/** node-llama-cpp's parsed function calls as our tool calls, with fresh ids (the model does not write any). */
export function toToolCalls(
  calls: readonly { functionName: string; params: unknown }[] | undefined,
): ToolCall[] {
  return (calls ?? []).map((c) => ({
    id: `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    name: c.functionName,
    arguments: JSON.stringify(c.params ?? {}),
  }));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
