import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  ElicitRequestSchema,
  type ElicitResult,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Tool, ToolContext } from '../tool.ts';
import { expandEnv, isToolPermitted, type McpServerConfig } from './config.ts';
import { llmToolName, toAgentTool } from './convert.ts';
import { answerByVoice } from './elicitation.ts';
import { McpOAuth } from './oauth.ts';
import { resourceTools } from './resources.ts';

export type McpConnectionStatus =
  | 'connecting'
  | 'authorizing'
  | 'connected'
  | 'reconnecting'
  | 'closed'
  | 'failed';

export interface McpConnectionHooks {
  onError(error: Error): void;
  /** A line the server wrote to stderr (stdio servers). */
  onLog(line: string): void;
  /** The server's tool list was (re)loaded. */
  onToolsChanged(names: string[]): void;
  /** The server needs authorisation: the user opens this link in a browser (OAuth hand-off). */
  onAuthorizationLink?(url: string): void;
}

export interface McpClientInfo {
  name: string;
  version: string;
}

/**
 * One MCP server: its client connection and the tools it offers the agent, kept current as the server announces
 * list changes. A live connection that is lost (the process exits, the transport closes, the HTTP session or
 * server goes away) is re-established with exponential backoff until `close()`; meanwhile its tools stay listed
 * and a call fails at once with "server X is restarting". A server that never started is not retried.
 */
export class McpServerConnection {
  status: McpConnectionStatus = 'connecting';
  error: Error | undefined;
  /** The last authorisation link handed to the user. */
  authorizationLink: string | undefined;
  private client: Client | undefined;
  private current: Tool[] = [];
  private closing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Reconnection attempts since the last connection that stayed up for a while. */
  private attempts = 0;
  private connectedAt = 0;
  private readonly oauth: McpOAuth | undefined;
  /** Tool calls in progress, newest last: an elicitation is answered through the newest that can ask. */
  private readonly calls: ToolContext[] = [];
  /** The server answered our GET stream with 404 while it gave no session: it offers none (sessionless). */
  private noGetStream = false;

  constructor(
    readonly config: McpServerConfig,
    private readonly hooks: McpConnectionHooks,
    private readonly clientInfo: McpClientInfo,
  ) {
    if (config.transport === 'http' && config.oauth) {
      const { clientSecret, ...settings } = config.oauth;
      this.oauth = new McpOAuth(
        config.name,
        config.url,
        { ...settings, clientSecret: clientSecret === undefined ? undefined : expandEnv(clientSecret) },
        (url) => {
          this.status = 'authorizing';
          this.authorizationLink = url.href;
          this.hooks.onAuthorizationLink?.(url.href);
        },
        clientInfo.name,
      );
    }
  }

  get tools(): readonly Tool[] {
    return this.status === 'connected' || this.status === 'reconnecting' ? this.current : [];
  }

  /**
   * Connects. A server that needs authorisation resolves at once with status `authorizing` once the link is
   * handed to the user (so one server waiting for a person never holds up the others); it connects when the
   * browser comes back, or reports an error.
   */
  async connect(): Promise<void> {
    try {
      await this.oauth?.listen();
      await this.open();
    } catch (error) {
      if (error instanceof UnauthorizedError && this.oauth && !this.closing) {
        this.status = 'authorizing';
        void this.authorize();
        return;
      }
      if (this.closing) return;
      this.status = 'failed';
      this.error = new Error(`MCP server ${this.config.name} did not start: ${(error as Error).message}`);
      throw this.error;
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.current = [];
    if (this.status !== 'failed') this.status = 'closed';
    await this.oauth?.close();
    await client?.close().catch(() => undefined);
  }

  /**
   * The OAuth hand-off: the link went to the user; when the browser comes back with the code, the tokens are
   * stored and the connection opened again (a server asking for more scope gets one more round).
   */
  private async authorize(): Promise<void> {
    const oauth = this.oauth;
    if (!oauth) return;
    for (let round = 0; !this.closing; round++) {
      try {
        await oauth.completeAuthorization();
        if (this.closing) return;
        await this.open();
        return;
      } catch (error) {
        if (this.closing) return;
        // At most three authorisation attempts in all: a server that keeps refusing is not asked forever.
        if (error instanceof UnauthorizedError && round < 1) continue;
        this.status = 'failed';
        this.error = new Error(
          `MCP server ${this.config.name} was not authorised: ${(error as Error).message}`,
        );
        this.hooks.onError(this.error);
        return;
      }
    }
  }

  /** Starts a client, loads the tool list, and makes it the live connection. */
  private async open(): Promise<void> {
    const { config } = this;
    let transportClosed = false;
    const client: Client = new Client(this.clientInfo, {
      // Elicitation is answered by voice, through the tool call that caused it (defaults filled by the SDK).
      capabilities: { elicitation: { form: { applyDefaults: true } } },
      listChanged: {
        tools: {
          debounceMs: 50,
          onChanged: (error, tools) => {
            if (this.client !== client) return;
            if (error)
              this.hooks.onError(
                new Error(`refreshing the tools of ${config.name} failed: ${error.message}`),
              );
            else if (tools) this.setTools(tools);
          },
        },
      },
    });
    client.setRequestHandler(ElicitRequestSchema, (request) => this.elicit(request.params));
    client.onerror = (error) => {
      if (this.sessionlessGetRefused(error, transport)) return;
      if (this.client === client && config.transport === 'http' && httpConnectionLost(error)) {
        this.lost(client, `lost its connection (${error.message})`);
        return;
      }
      this.hooks.onError(new Error(`MCP server ${config.name}: ${error.message}`));
    };
    client.onclose = () => {
      transportClosed = true;
      // A failed start is reported by open()'s caller; only a live connection going away is news.
      this.lost(client, 'closed');
    };
    const transport = this.createTransport();
    try {
      await client.connect(transport, { timeout: config.connectTimeoutMs });
      const tools = await listAllTools(client, config.connectTimeoutMs);
      if (transportClosed) throw new Error('the connection closed while starting');
      if (this.closing) throw new Error('closed');
      this.client = client;
      this.connectedAt = performance.now();
      this.status = 'connected';
      this.error = undefined;
      this.setTools(tools);
    } catch (error) {
      if (error instanceof UnauthorizedError) this.status = 'authorizing';
      await client.close().catch(() => undefined);
      throw error;
    }
  }

  /** The live connection went away: keep the tools listed, answer calls with "restarting", and reconnect. */
  private lost(client: Client, why: string): void {
    if (this.closing || this.client !== client) return;
    this.client = undefined;
    this.status = 'reconnecting';
    // A server that stayed up for a while starts over with short waits; one that keeps dying backs off further.
    if (performance.now() - this.connectedAt >= this.config.reconnectMaxDelayMs) this.attempts = 0;
    this.hooks.onError(new Error(`MCP server ${this.config.name} ${why}; reconnecting`));
    void client.close().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const { reconnectInitialDelayMs, reconnectMaxDelayMs } = this.config;
    const base = Math.min(reconnectMaxDelayMs, reconnectInitialDelayMs * 2 ** Math.min(this.attempts, 30));
    // Jitter: between half and all of the backoff, so many sessions' servers do not retry in step.
    const wait = base / 2 + (Math.random() * base) / 2;
    this.attempts++;
    this.retryTimer = setTimeout(() => void this.reconnect(), wait);
    this.retryTimer.unref();
  }

  private async reconnect(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closing) return;
    try {
      await this.open();
    } catch (error) {
      if (this.closing) return;
      if (error instanceof UnauthorizedError && this.oauth) {
        // The tokens were revoked and could not be refreshed: ask the user again.
        this.status = 'authorizing';
        void this.authorize();
        return;
      }
      this.error = new Error(
        `reconnecting to MCP server ${this.config.name} failed (attempt ${this.attempts}): ${(error as Error).message}`,
      );
      this.hooks.onError(this.error);
      this.scheduleReconnect();
    }
  }

  private createTransport(): Transport {
    const { config } = this;
    if (config.transport === 'http') {
      const headers = Object.fromEntries(
        Object.entries(config.headers ?? {}).map(([key, value]) => [key, expandEnv(value)]),
      );
      return new StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers },
        authProvider: this.oauth,
      });
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
    // A server that offers resources: the LLM may list and read them (allow/deny apply to these names too).
    if (this.client?.getServerCapabilities()?.resources) {
      const reading = resourceTools(
        this.config.name,
        prefix,
        () => this.client,
        this.config.requestTimeoutMs,
      );
      this.current.push(...reading.filter((t) => isToolPermitted(t.name.slice(prefix.length), this.config)));
    }
    this.hooks.onToolsChanged(this.current.map((t) => t.name));
  }

  private async call(
    name: string,
    args: Record<string, unknown>,
    context: ToolContext,
  ): Promise<CallToolResult> {
    const client = this.client;
    if (this.status === 'reconnecting') throw this.restarting();
    if (!client || this.status !== 'connected')
      throw new Error(`MCP server ${this.config.name} is not connected`);
    this.calls.push(context);
    try {
      // Passing onprogress asks the server for progress notifications; each one restarts the request timeout.
      const result = await client.callTool({ name, arguments: args }, undefined, {
        signal: context.signal,
        timeout: this.config.requestTimeoutMs,
        resetTimeoutOnProgress: true,
        onprogress: (progress) => context.onProgress?.(progress),
      });
      return result as CallToolResult;
    } catch (error) {
      if (this.config.transport === 'http' && httpConnectionLost(error))
        this.lost(client, `lost its connection (${(error as Error).message})`);
      if (this.client !== client && !this.closing && !context.signal.aborted) throw this.restarting(error);
      throw error;
    } finally {
      this.calls.splice(this.calls.indexOf(context), 1);
    }
  }

  /**
   * The server asks the user something (elicitation) during a tool call: the question is asked aloud through
   * the newest call in progress that can ask, and the spoken answer returned typed. With no such call (no voice
   * session is waiting on this server) it is declined.
   */
  private async elicit(params: Parameters<typeof answerByVoice>[0] | { mode: 'url' }): Promise<ElicitResult> {
    const context = [...this.calls].reverse().find((c) => c.ask && !c.signal.aborted);
    if (!context?.ask || !('requestedSchema' in params)) return { action: 'decline' };
    const ask = context.ask;
    try {
      return await answerByVoice(params, (question) => ask(question));
    } catch {
      return { action: 'cancel' }; // the call was cancelled while the question waited
    }
  }

  /**
   * A server that gave no session id answering the GET notification stream with 404 has no such stream (it is
   * not a lost session): note it once and carry on, rather than reconnecting in a loop.
   */
  private sessionlessGetRefused(error: Error, transport: Transport): boolean {
    if (!(error instanceof StreamableHTTPError) || error.code !== 404) return false;
    if (!/SSE stream/i.test(error.message) || (transport as { sessionId?: string }).sessionId) return false;
    if (!this.noGetStream) {
      this.noGetStream = true;
      this.hooks.onLog(
        `MCP server ${this.config.name} offers no GET notification stream (404 without a session)`,
      );
    }
    return true;
  }

  private restarting(cause?: unknown): Error {
    const why = cause instanceof Error ? ` (the call was interrupted: ${cause.message})` : '';
    return new Error(`MCP server ${this.config.name} is restarting; try again shortly${why}`);
  }
}

/** Errors that say an HTTP server no longer knows the session or cannot be reached: a new session is needed. */
function httpConnectionLost(error: unknown): boolean {
  if (error instanceof StreamableHTTPError) return error.code === 404;
  if (error instanceof TypeError) return /fetch failed/i.test(error.message);
  return error instanceof Error && /Maximum reconnection attempts/.test(error.message);
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
