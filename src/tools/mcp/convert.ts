import type { CallToolResult, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType } from '@modelcontextprotocol/sdk/validation/types.js';
import { z } from 'zod';
import type { Tool, ToolContext } from '../tool.ts';

/** A tool error the MCP server reported (`isError: true`): the LLM reads its text. */
export class McpToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'McpToolError';
  }
}

export type McpCall = (
  name: string,
  args: Record<string, unknown>,
  context: ToolContext,
) => Promise<CallToolResult>;

const validators = new AjvJsonSchemaValidator();

/** OpenAI-style function names allow letters, digits, _ and - (at most 64). */
export function llmToolName(prefix: string, name: string): string {
  return `${prefix}${name}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/**
 * The arguments check for a tool described by JSON Schema: an object that the schema accepts (Ajv, as the SDK
 * uses). Arguments are checked here, before the call leaves the process.
 */
export function argumentsSchema(inputSchema: Record<string, unknown>): z.ZodType<Record<string, unknown>> {
  let validate: (value: unknown) => { valid: boolean; errorMessage?: string };
  try {
    validate = validators.getValidator(inputSchema as JsonSchemaType);
  } catch {
    // A schema Ajv cannot compile is the server's fault; the server still validates what it receives.
    validate = () => ({ valid: true });
  }
  return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    const verdict = validate(value);
    if (verdict.valid) return;
    // Ajv names the value "data" ("data/level must be integer"); say it in the tool's own terms.
    const message = (verdict.errorMessage ?? 'do not match the schema')
      .replace(/\bdata\//g, '')
      .replace(/\bdata\b/g, 'arguments');
    ctx.addIssue({ code: 'custom', message });
  });
}

/** Text an LLM can read from a tool result: text parts as they are, other content named. */
export function resultText(result: CallToolResult): string {
  const parts = (result.content ?? []).map((part) => {
    switch (part.type) {
      case 'text':
        return part.text;
      case 'resource':
        return 'text' in part.resource ? part.resource.text : `[binary resource ${part.resource.uri}]`;
      case 'resource_link':
        return `[resource ${part.uri}${part.description ? `: ${part.description}` : ''}]`;
      case 'image':
        return `[image, ${part.mimeType}]`;
      case 'audio':
        return `[audio, ${part.mimeType}]`;
      default:
        return '';
    }
  });
  const text = parts.filter(Boolean).join('\n');
  if (text) return text;
  return result.structuredContent ? JSON.stringify(result.structuredContent) : '';
}

/** An MCP server's tool as an agent tool: validated arguments, progress forwarded, server errors thrown. */
export function toAgentTool(
  tool: McpTool,
  exposedName: string,
  call: McpCall,
): Tool<Record<string, unknown>> {
  const { $schema: _ignored, ...jsonSchema } = tool.inputSchema as Record<string, unknown>;
  return {
    name: exposedName,
    description: tool.description ?? tool.title ?? tool.name,
    parameters: argumentsSchema(jsonSchema),
    jsonSchema,
    async execute(args, context) {
      const result = await call(tool.name, args, context);
      const text = resultText(result);
      if (result.isError) throw new McpToolError(text || 'the tool reported an error');
      return text;
    },
  };
}
