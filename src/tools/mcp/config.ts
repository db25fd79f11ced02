import { z } from 'zod';

const toolPattern = z.string().min(1).max(128).describe('A tool name; * matches any run of characters');

const common = {
  /** Names the server in logs and errors; unique within the configuration. */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, _ and - (at most 32)'),
  /** Only these tools (by the server's names) are offered to the LLM; all when absent. */
  allow: z.array(toolPattern).optional(),
  /** These tools are never offered, even when allowed. */
  deny: z.array(toolPattern).optional(),
  /** Put before each tool name the LLM sees (e.g. "docs_"), to keep tools of several servers apart. */
  toolPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,24}$/)
    .optional(),
  /**
   * The MCP request timeout for one tool call, reset by each progress notification. The session's own hard
   * limit (`toolTimeoutMs`) still applies.
   */
  requestTimeoutMs: z.number().int().positive().default(300_000),
  /** Time for the server to start and answer `initialize`. */
  connectTimeoutMs: z.number().int().positive().default(30_000),
  /**
   * After a live connection is lost (the process exited, the HTTP session or server went away), the first
   * reconnection attempt waits about this long; each failed attempt doubles the wait (jittered).
   */
  reconnectInitialDelayMs: z.number().int().positive().default(500),
  /** The longest wait between two reconnection attempts. */
  reconnectMaxDelayMs: z.number().int().positive().default(30_000),
};

export const McpStdioServerSchema = z.strictObject({
  ...common,
  transport: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /**
   * Extra environment for the server (the SDK passes only a safe default set, e.g. PATH and HOME). `${NAME}`
   * is replaced with the variable from Repartee's own environment, so secrets stay out of config files.
   */
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
});

export const McpHttpServerSchema = z.strictObject({
  ...common,
  transport: z.literal('http'),
  url: z.url({ protocol: /^https?$/ }),
  /** Request headers; `${NAME}` is replaced from the environment (e.g. "Authorization": "Bearer ${TOKEN}"). */
  headers: z.record(z.string(), z.string()).optional(),
  /**
   * OAuth 2.1 for a server that requires authorisation (`{}` for the defaults): authorization code with PKCE,
   * the link to open printed and shown on the talk page, tokens stored per server and refreshed.
   */
  oauth: z
    .strictObject({
      /** A client registered in advance; without it the client registers itself (dynamic registration). */
      clientId: z.string().min(1).optional(),
      /** `${NAME}` is replaced from the environment. */
      clientSecret: z.string().min(1).optional(),
      scope: z.string().min(1).optional(),
      /** The loopback port the browser returns to (`http://127.0.0.1:<port>/oauth/callback`); 0 picks one. */
      redirectPort: z.number().int().min(0).max(65535).default(0),
      /** A client ID metadata document URL you host, for servers that accept URL-based client IDs. */
      clientMetadataUrl: z.url({ protocol: /^https$/ }).optional(),
      /** Where tokens are stored (default `~/.repartee/mcp-auth`, or REPARTEE_MCP_AUTH_DIR). */
      storeDir: z.string().min(1).optional(),
      /** How long to wait for the user to finish in the browser. */
      authorizationTimeoutMs: z.number().int().positive().default(600_000),
    })
    .optional(),
});

export const McpServerConfigSchema = z.discriminatedUnion('transport', [
  McpStdioServerSchema,
  McpHttpServerSchema,
]);

/** The `mcpServers` configuration: a list of servers whose tools the agent may call. */
export const McpConfigSchema = z
  .array(McpServerConfigSchema)
  .default([])
  .superRefine((servers, ctx) => {
    const seen = new Set<string>();
    servers.forEach((server, i) => {
      if (seen.has(server.name)) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'name'],
          message: `duplicate MCP server name "${server.name}"`,
        });
      }
      seen.add(server.name);
    });
  });

export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;
export type McpServerConfigInput = z.input<typeof McpServerConfigSchema>;
export type McpConfig = z.infer<typeof McpConfigSchema>;

/** Replaces `${NAME}` with the environment variable; a missing one is an error, never an empty secret. */
export function expandEnv(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const found = env[name];
    if (found === undefined) throw new Error(`environment variable ${name} is not set`);
    return found;
  });
}

/** Whether a tool passes the server's allow and deny lists. */
export function isToolPermitted(name: string, server: Pick<McpServerConfig, 'allow' | 'deny'>): boolean {
  const matches = (patterns: readonly string[]) => patterns.some((p) => globToRegExp(p).test(name));
  if (server.allow && !matches(server.allow)) return false;
  return !(server.deny && matches(server.deny));
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}
