import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { Tool, ToolContext } from '../tool.ts';
import { expandEnv, isToolPermitted, type McpServerConfig } from './config.ts';
import { llmToolName, toAgentTool } from './convert.ts';

export type McpConnectionStatus = 'connecting' | 'connected' | 'closed' | 'failed';

export interface McpConnectionHooks {
  onError(error: Error): void;
  /** A line the server wrote to stderr (stdio servers). */
  onLog(line: string): void;
  /** The server's tool list was (re)loaded. */
  onToolsChanged(names: string[]): void;
}

export interface McpClientInfo {
  name: string;
  version: string;
}

/**
 * One MCP server: its client connection and the tools it offers the agent, kept current as the server announces
 * list changes. When the server goes away its tools go with it; a call then fails as a tool error.
 */
export class McpServerConnection {
  status: McpConnectionStatus = 'connecting';
  error: Error | undefined;
  private client: Client | undefined;
  private current: Tool[] = [];
  private closing = false;

  constructor(
    readonly config: McpServerConfig,
    private readonly hooks: McpConnectionHooks,
    private readonly clientInfo: McpClientInfo,
  ) {}

  get tools(): readonly Tool[] {
    return this.status === 'connected' ? this.current : [];
  }

  async connect(): Promise<void> {
    const { config } = this;
    const client = new Client(this.clientInfo, {
      capabilities: {},
      listChanged: {
        tools: {
          debounceMs: 50,
          onChanged: (error, tools) => {
            if (error)
              this.hooks.onError(
                new Error(`refreshing the tools of ${config.name} failed: ${error.message}`),
              );
            else if (tools) this.setTools(tools);
          },
        },
      },
    });
    client.onerror = (error) => this.hooks.onError(new Error(`MCP server ${config.name}: ${error.message}`));
    client.onclose = () => {
      // A failed start is reported by connect(); only a live connection going away is news.
      if (this.status !== 'connected') return;
      this.status = 'closed';
      if (!this.closing) this.hooks.onError(new Error(`MCP server ${config.name} closed`));
    };
    this.client = client;
    try {
      await client.connect(this.createTransport(), { timeout: config.connectTimeoutMs });
      this.setTools(await listAllTools(client, config.connectTimeoutMs));
      this.status = 'connected';
    } catch (error) {
      this.status = 'failed';
      this.error = new Error(`MCP server ${config.name} did not start: ${(error as Error).message}`);
      await client.close().catch(() => undefined);
      throw this.error;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    this.client = undefined;
    this.current = [];
    if (this.status !== 'failed') this.status = 'closed';
    await client?.close().catch(() => undefined);
  }

  private createTransport(): Transport {
    const { config } = this;
    if (config.transport === 'http') {
      const headers = Object.fromEntries(
        Object.entries(config.headers ?? {}).map(([key, value]) => [key, expandEnv(value)]),
      );
      return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers } });
    }
    const env = config.env
      ? Object.fromEntries(Object.entries(config.env).map(([key, value]) => [key, expandEnv(value)]))
      : undefined;
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env,
      cwd: config.cwd,
      // Piped and always drained: an unread pipe would fill and stall the server.
      stderr: 'pipe',
    });
    const stderr = transport.stderr;
    if (stderr) {
      const lines = createInterface({ input: stderr as Readable, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on('line', (line) => this.hooks.onLog(line));
    }
    return transport;
  }

  private setTools(list: McpTool[]): void {
    const prefix = this.config.toolPrefix ?? '';
    this.current = list
      .filter((tool) => isToolPermitted(tool.name, this.config))
      .map((tool) =>
        toAgentTool(tool, llmToolName(prefix, tool.name), (name, args, context) =>
          this.call(name, args, context),
        ),
      );
    this.hooks.onToolsChanged(this.current.map((t) => t.name));
  }

  private async call(
    name: string,
    args: Record<string, unknown>,
    context: ToolContext,
  ): Promise<CallToolResult> {
    const client = this.client;
    if (!client || this.status !== 'connected')
      throw new Error(`MCP server ${this.config.name} is not connected`);
    // Passing onprogress asks the server for progress notifications; each one restarts the request timeout.
    const result = await client.callTool({ name, arguments: args }, undefined, {
      signal: context.signal,
      timeout: this.config.requestTimeoutMs,
      resetTimeoutOnProgress: true,
      onprogress: (progress) => context.onProgress?.(progress),
    });
    return result as CallToolResult;
  }
}

async function listAllTools(client: Client, timeout: number): Promise<McpTool[]> {
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined, { timeout });
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}
