import { z } from 'zod';
import type { ToolSchema } from '../providers/llm/contract.ts';

/** How far a long tool has come (MCP progress notifications carry the same fields). */
export interface ToolProgress {
  progress: number;
  total?: number;
  message?: string;
}

export interface ToolContext {
  signal: AbortSignal;
  /** Called as a long tool reports progress. */
  onProgress?(progress: ToolProgress): void;
  /** Speaks a short status line now, while the tool runs (not recorded in the history). */
  say?(text: string): void;
  /**
   * Asks the user a question aloud and resolves with what they say next (their whole turn, as transcribed);
   * rejects when the call is cancelled. Only where a voice session runs the tool (an MCP server's elicitation).
   */
  ask?(question: string): Promise<string>;
}

const ENDS_REPLY: unique symbol = Symbol.for('repartee.endsReply');

/** A tool's output after which the reply ends: the LLM is not asked again (a handoff to another agent). */
export interface ReplyEndingOutput {
  readonly [ENDS_REPLY]: true;
  readonly content: string;
}

/** Wraps a tool's output so the reply ends with it (no further LLM round in this reply). */
export function endsReply(content: string): ReplyEndingOutput {
  return { [ENDS_REPLY]: true, content };
}

export function isReplyEnding(value: unknown): value is ReplyEndingOutput {
  return typeof value === 'object' && value !== null && (value as ReplyEndingOutput)[ENDS_REPLY] === true;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds tools of every argument type
export interface Tool<Args = any> {
  name: string;
  description: string;
  /** Arguments are validated against this before `execute` runs. */
  parameters: z.ZodType<Args>;
  /**
   * The JSON Schema the LLM sees, for tools that arrive with one (MCP tools); otherwise it is derived from
   * `parameters`.
   */
  jsonSchema?: Record<string, unknown>;
  execute(args: Args, context: ToolContext): Promise<unknown>;
}

/** Tools that may change while a session runs (an MCP server's tool list changed); read on every LLM round. */
export interface ToolSource {
  tools(): readonly Tool[];
}

export type ToolEntry = Tool | ToolSource;

export function defineTool<Schema extends z.ZodType>(tool: {
  name: string;
  description: string;
  parameters: Schema;
  execute(args: z.infer<Schema>, context: ToolContext): Promise<unknown>;
}): Tool<z.infer<Schema>> {
  return tool as Tool<z.infer<Schema>>;
}

export function isToolSource(entry: ToolEntry): entry is ToolSource {
  return typeof (entry as ToolSource).tools === 'function';
}

export function toolSchema(tool: Tool): ToolSchema {
  if (tool.jsonSchema) return { name: tool.name, description: tool.description, parameters: tool.jsonSchema };
  const { $schema: _ignored, ...parameters } = z.toJSONSchema(tool.parameters) as Record<string, unknown>;
  return { name: tool.name, description: tool.description, parameters };
}
