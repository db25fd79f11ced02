import { z } from 'zod';

/** The request bodies the fake Messages API accepts, as Anthropic's reference documents them. */

const CacheControl = z
  .object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() })
  .strict();
const TextBlock = z
  .object({ type: z.literal('text'), text: z.string().min(1), cache_control: CacheControl.optional() })
  .strict();
const ToolUse = z
  .object({
    type: z.literal('tool_use'),
    id: z.string().min(1),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()),
  })
  .strict();
const ToolResult = z
  .object({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: z.string(),
    is_error: z.boolean().optional(),
  })
  .strict();
export const Message = z
  .object({
    role: z.enum(['user', 'assistant']),
    content: z.union([z.string().min(1), z.array(z.union([TextBlock, ToolUse, ToolResult])).min(1)]),
  })
  .strict();
const Tool = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
    description: z.string().optional(),
    input_schema: z.object({ type: z.literal('object') }).passthrough(),
    cache_control: CacheControl.optional(),
  })
  .strict();
export const Prompt = {
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  system: z.union([z.string(), z.array(TextBlock)]).optional(),
  tools: z.array(Tool).optional(),
};
export const MessagesRequestSchema = z
  .object({
    ...Prompt,
    max_tokens: z.number().int().positive(),
    stream: z.literal(true),
    temperature: z.number().min(0).max(1).optional(),
  })
  .strict();
export const CountRequestSchema = z.object(Prompt).strict();
