import { z } from 'zod';
import type { ToolSchema } from '../providers/llm/contract.ts';

export interface ToolContext {
  signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds tools of every argument type
export interface Tool<Args = any> {
  name: string;
  description: string;
  /** Arguments are validated against this before `execute` runs. */
  parameters: z.ZodType<Args>;
  execute(args: Args, context: ToolContext): Promise<unknown>;
}

export function defineTool<Schema extends z.ZodType>(tool: {
  name: string;
  description: string;
  parameters: Schema;
  execute(args: z.infer<Schema>, context: ToolContext): Promise<unknown>;
}): Tool<z.infer<Schema>> {
  return tool as Tool<z.infer<Schema>>;
}

export function toolSchema(tool: Tool): ToolSchema {
  const { $schema: _ignored, ...parameters } = z.toJSONSchema(tool.parameters) as Record<string, unknown>;
  return { name: tool.name, description: tool.description, parameters };
}
