import type { Logger } from 'pino';
import { docsServerConfig } from '../tools/config.ts';
import { connectMcpTools, type McpToolset } from '../tools/mcp/toolset.ts';
import type { ReparteeConfig } from './config.ts';

/**
 * Connects the configured MCP servers (and the bundled repartee-docs server when `docsRoot` is set) once per
 * process; every session shares the toolset. A server that fails to start is logged and left out.
 */
export async function connectConfiguredTools(
  config: ReparteeConfig,
  log?: Logger,
): Promise<McpToolset | null> {
  const servers = [...config.mcpServers];
  if (config.docsRoot) servers.push(docsServerConfig(config.docsRoot) as (typeof servers)[number]);
  if (servers.length === 0) return null;
  return connectMcpTools(servers, {
    onError: (error, server) => log?.warn({ server, err: error.message }, 'mcp server problem'),
    onLog: (line, server) => log?.debug({ server }, line),
    onToolsChanged: (server, tools) => log?.info({ server, tools }, 'mcp tools'),
    // The OAuth hand-off: the person running Repartee opens the link (the talk page shows it too).
    onAuthorizationLink: (server, url) =>
      log?.warn({ server, url }, `MCP server ${server} needs authorisation: open ${url}`),
  });
}
