import type { Tool, ToolSource } from '../tool.ts';
import { type McpConfig, McpConfigSchema } from './config.ts';
import { type McpConnectionStatus, McpServerConnection } from './connection.ts';

export interface McpToolsetOptions {
  /** Reported problems: a server that failed to start or went away, a refresh that failed, a name clash. */
  onError?(error: Error, server: string): void;
  /** Lines stdio servers write to stderr. */
  onLog?(line: string, server: string): void;
  onToolsChanged?(server: string, tools: string[]): void;
  /**
   * A server needs authorisation (OAuth): the user opens `url` in a browser. Also kept in `pendingAuthorizations`
   * until the server connects, for pages that ask later (the talk page).
   */
  onAuthorizationLink?(server: string, url: string): void;
  clientName?: string;
  clientVersion?: string;
}

export interface McpServerState {
  name: string;
  status: McpConnectionStatus;
  error?: string;
  /** While the status is `authorizing`: the link the user opens to authorise the server. */
  authorizationLink?: string;
  tools: string[];
}

/**
 * The tools of every configured MCP server, as one tool source for agent sessions (`tools: [mcpToolset]`).
 * A server that fails to start is reported and left out; the others still serve. Tool lists follow the
 * servers' list-changed notifications. One toolset may serve many sessions; `close()` stops every server.
 */
export class McpToolset implements ToolSource {
  private readonly reportedClashes = new Set<string>();
  private readonly authorizationListeners = new Set<(link: { server: string; url: string }) => void>();

  private constructor(
    private readonly connections: McpServerConnection[],
    private readonly options: McpToolsetOptions,
  ) {}

  /** Validates the configuration (throws a ZodError on bad config) and connects every server in parallel. */
  static async connect(config: unknown, options: McpToolsetOptions = {}): Promise<McpToolset> {
    const servers: McpConfig = McpConfigSchema.parse(config);
    const clientInfo = { name: options.clientName ?? 'repartee', version: options.clientVersion ?? '0.1.0' };
    // Links handed out before connect() returns are in pendingAuthorizations(); later ones are announced.
    let toolset: McpToolset | undefined;
    const connections = servers.map(
      (server) =>
        new McpServerConnection(
          server,
          {
            onError: (error) => options.onError?.(error, server.name),
            onLog: (line) => options.onLog?.(line, server.name),
            onToolsChanged: (tools) => options.onToolsChanged?.(server.name, tools),
            onAuthorizationLink: (url) => {
              options.onAuthorizationLink?.(server.name, url);
              toolset?.announceAuthorization({ server: server.name, url });
            },
          },
          clientInfo,
        ),
    );
    await Promise.all(
      connections.map((connection) =>
        connection.connect().catch((error: Error) => options.onError?.(error, connection.config.name)),
      ),
    );
    toolset = new McpToolset(connections, options);
    return toolset;
  }

  /** Servers waiting for the user to authorise them (OAuth), with the link to open. */
  pendingAuthorizations(): { server: string; url: string }[] {
    return this.connections
      .filter((c) => c.status === 'authorizing' && c.authorizationLink)
      .map((c) => ({ server: c.config.name, url: c.authorizationLink as string }));
  }

  /** Calls `listener` with each new authorisation link (e.g. to show it on the talk page); returns the unsubscribe. */
  onAuthorization(listener: (link: { server: string; url: string }) => void): () => void {
    this.authorizationListeners.add(listener);
    return () => this.authorizationListeners.delete(listener);
  }

  private announceAuthorization(link: { server: string; url: string }): void {
    for (const listener of this.authorizationListeners) {
      try {
        listener(link);
      } catch (error) {
        this.options.onError?.(error as Error, link.server);
      }
    }
  }

  /** The tools available now; on a name clash the server listed first keeps the name. */
  tools(): readonly Tool[] {
    const byName = new Map<string, Tool>();
    for (const connection of this.connections) {
      for (const tool of connection.tools) {
        if (!byName.has(tool.name)) {
          byName.set(tool.name, tool);
          continue;
        }
        const key = `${connection.config.name}:${tool.name}`;
        if (!this.reportedClashes.has(key)) {
          this.reportedClashes.add(key);
          this.options.onError?.(
            new Error(
              `tool ${tool.name} of ${connection.config.name} is hidden by another server's; set toolPrefix`,
            ),
            connection.config.name,
          );
        }
      }
    }
    return [...byName.values()];
  }

  get servers(): McpServerState[] {
    return this.connections.map((c) => ({
      name: c.config.name,
      status: c.status,
      ...(c.status === 'authorizing' && c.authorizationLink
        ? { authorizationLink: c.authorizationLink }
        : {}),
      ...(c.error ? { error: c.error.message } : {}),
      tools: c.tools.map((t) => t.name),
    }));
  }

  async close(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close()));
  }
}

/** The factory the configuration wires in: MCP servers from config, as tools for sessions. */
export function connectMcpTools(config: unknown, options?: McpToolsetOptions): Promise<McpToolset> {
  return McpToolset.connect(config, options);
}
