import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { McpConfigSchema, type McpServerConfigInput } from './mcp/config.ts';

export { McpConfigSchema };

/** What the agent says and accepts while a tool runs long (all optional; defaults in `DEFAULT_LONG_TOOLS`). */
export const LongToolsConfigSchema = z
  .strictObject({
    statusAfterMs: z.number().int().min(0).max(600_000),
    statusText: z.string().max(200),
    timeoutApology: z.string().max(300),
    cancelPhrases: z.array(z.string().min(1).max(60)).max(50),
  })
  .partial();

/** Configuration keys for tools, to merge into the application configuration. */
export const ToolsConfigShape = {
  /** MCP servers whose tools the agent may call. */
  mcpServers: McpConfigSchema,
  /** Hard limit for one tool call; the agent apologizes and moves on. */
  toolTimeoutMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  /** LLM rounds (each may call tools) within one reply. */
  maxToolSteps: z.number().int().min(1).max(20).default(5),
  longTools: LongToolsConfigSchema.default({}),
};

const DOCS_BIN = fileURLToPath(new URL('../../bin/repartee-docs', import.meta.url));

/** The bundled repartee-docs server over stdio, for a document folder (started with this Node binary). */
export function docsServerConfig(root: string, name = 'docs'): McpServerConfigInput {
  // Prefixed: "list" or "read" alone would be ambiguous next to other servers' tools.
  return {
    name,
    transport: 'stdio',
    command: process.execPath,
    args: [DOCS_BIN, root],
    toolPrefix: `${name}_`,
  };
}
