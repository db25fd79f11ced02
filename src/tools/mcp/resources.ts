import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Tool, ToolContext } from '../tool.ts';
import { llmToolName } from './convert.ts';

/** Most resources one list answer shows the LLM. */
const MAX_LISTED = 200;

/**
 * The tools that let the LLM read a server's resources, for a server that offers them: one lists the resources
 * (and URI templates), one reads a resource by URI. Named `<toolPrefix>list_resources` / `read_resource` (with
 * no prefix: `<server>_list_resources`, so two servers' tools do not clash).
 */
export function resourceTools(
  serverName: string,
  prefix: string,
  client: () => Client | undefined,
  timeoutMs: number,
): Tool[] {
  const base = prefix || `${serverName}_`;
  const connected = () => {
    const c = client();
    if (!c) throw new Error(`MCP server ${serverName} is not connected`);
    return c;
  };
  const list: Tool<Record<string, never>> = {
    name: llmToolName(base, 'list_resources'),
    description: `List the resources (documents, data) the ${serverName} server offers, with their URIs`,
    parameters: z.object({}).strict() as unknown as z.ZodType<Record<string, never>>,
    async execute(_args, context: ToolContext) {
      const c = connected();
      const lines: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.listResources(cursor ? { cursor } : undefined, {
          signal: context.signal,
          timeout: timeoutMs,
        });
        for (const r of page.resources) {
          if (lines.length >= MAX_LISTED) break;
          lines.push(
            `${r.uri}${r.name && r.name !== r.uri ? ` (${r.name})` : ''}${r.description ? `: ${r.description}` : ''}`,
          );
        }
        cursor = lines.length >= MAX_LISTED ? undefined : page.nextCursor;
      } while (cursor);
      if (lines.length >= MAX_LISTED) lines.push(`(only the first ${MAX_LISTED} are listed)`);
      const templates = await c
        .listResourceTemplates(undefined, { signal: context.signal, timeout: timeoutMs })
        .then((r) => r.resourceTemplates)
        .catch(() => []);
      for (const t of templates)
        lines.push(`template ${t.uriTemplate}${t.description ? `: ${t.description}` : ''}`);
      return lines.length > 0 ? lines.join('\n') : `${serverName} lists no resources`;
    },
  };
  const read: Tool<{ uri: string }> = {
    name: llmToolName(base, 'read_resource'),
    description: `Read a resource of the ${serverName} server by its URI (see list_resources)`,
    parameters: z.object({ uri: z.string().min(1).max(8192) }),
    async execute({ uri }, context: ToolContext) {
      const result = await connected().readResource({ uri }, { signal: context.signal, timeout: timeoutMs });
      return resourceText(result);
    },
  };
  return [list, read];
}

/** The text of a read resource: text contents as they are, binary ones named. */
export function resourceText(result: ReadResourceResult): string {
  const parts = result.contents.map((c) =>
    'text' in c && typeof c.text === 'string'
      ? c.text
      : `[binary resource ${c.uri}${c.mimeType ? `, ${c.mimeType}` : ''}]`,
  );
  return parts.join('\n') || '(empty resource)';
}
