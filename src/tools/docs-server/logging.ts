import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';

/** Sends a log message to the connected client (MCP logging), at or above the level it set. */
export type DocsLog = (level: LoggingLevel, message: string) => void;

export const DOCS_LOGGER = 'repartee-docs';

/**
 * The server's log to its client: `notifications/message` with the logger name, filtered by the level the
 * client set with `logging/setLevel` (the SDK keeps it per session). Until a client sets a level, debug messages
 * are not sent. Never throws and never waits: a client that is gone just misses the message.
 */
export function clientLog(server: McpServer): DocsLog {
  const inner = server.server;
  return (level, message) => {
    if (!server.isConnected()) return;
    const sessionId = inner.transport?.sessionId;
    if (level === 'debug' && !levelSet(server, sessionId)) return;
    inner.sendLoggingMessage({ level, logger: DOCS_LOGGER, data: message }, sessionId).catch(() => undefined);
  };
}

function levelSet(server: McpServer, sessionId: string | undefined): boolean {
  // The SDK's per-session levels are not public; reading them only decides whether debug is wanted.
  const levels = (server.server as unknown as { _loggingLevels?: Map<string | undefined, string> })
    ._loggingLevels;
  return levels?.has(sessionId) ?? false;
}
