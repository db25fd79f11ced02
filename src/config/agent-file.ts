import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Agent, isAgent } from '../agent/definition.ts';
import { connectMcpTools, type McpToolset } from '../tools/mcp/toolset.ts';

/** An agent file that cannot be used: names the file and what is wrong. */
export class AgentFileError extends Error {
  override readonly name = 'AgentFileError';
}

/**
 * Loads an agent file (`.ts` runs through tsx, which the `repartee` command registers): its default export, or
 * an export named `agent`, must be a `defineAgent(...)` result. Definition errors surface as they are thrown.
 */
export async function loadAgentFile(file: string): Promise<Agent> {
  const url = pathToFileURL(resolve(file)).href;
  let module: Record<string, unknown>;
  try {
    module = await import(url);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(resolve(file)))
      throw new AgentFileError(`agent file ${file} not found`);
    throw error;
  }
  const agent = module.default ?? module.agent;
  if (!isAgent(agent)) {
    const found = Object.keys(module).join(', ') || 'nothing';
    throw new AgentFileError(
      `${file} does not export an agent: export default defineAgent({ ... }) (it exports ${found})`,
    );
  }
  return agent;
}

/**
 * One connection per agent's MCP servers for the whole process (every session of that agent shares it), as the
 * configured `mcpServers` are. A server that fails to start is reported and left out.
 */
export function sharedMcpConnector(onError?: (error: Error, server: string) => void) {
  const toolsets = new Map<Agent, Promise<McpToolset>>();
  return {
    connect(agent: Agent): Promise<McpToolset | undefined> {
      if (agent.mcpServers.length === 0) return Promise.resolve(undefined);
      let toolset = toolsets.get(agent);
      if (!toolset) {
        toolset = connectMcpTools(agent.mcpServers, { onError });
        toolsets.set(agent, toolset);
      }
      return toolset;
    },
    async close(): Promise<void> {
      const all = [...toolsets.values()];
      toolsets.clear();
      await Promise.allSettled(all.map(async (t) => (await t).close()));
    },
  };
}
