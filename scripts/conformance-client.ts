/**
 * Our MCP client (McpServerConnection, as the agent uses it) driven for the official conformance suite's client
 * scenarios: `conformance client --command "tsx scripts/conformance-client.ts"` appends the scenario server's URL
 * and names the scenario in MCP_CONFORMANCE_SCENARIO. The driver stands in for the two people the client talks
 * to: the LLM (it calls every tool the server lists, with example arguments from each tool's schema) and the user
 * (a browser that follows the OAuth hand-off link, and a voice that answers an elicitation "yes, use those").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McpServerConnection } from '../src/tools/mcp/connection.ts';
import { McpServerConfigSchema } from '../src/tools/mcp/config.ts';
import type { Tool } from '../src/tools/tool.ts';

const url = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Record<string, unknown>;
const say = (line: string) => process.stderr.write(`conformance-client: ${line}\n`);

/** The user's browser: opens the authorization link and follows the redirects back to our loopback listener. */
async function browser(link: string): Promise<void> {
  let next = link;
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(next, { redirect: 'manual' });
    const location = response.headers.get('location');
    await response.arrayBuffer().catch(() => undefined);
    if (response.status < 300 || response.status >= 400 || !location) return;
    next = new URL(location, next).href;
  }
}

/** Example arguments for a tool from its JSON Schema, as an LLM would fill them in. */
function exampleArguments(tool: Tool): Record<string, unknown> {
  const schema = (tool.jsonSchema ?? {}) as { properties?: Record<string, { type?: string; default?: unknown }> };
  const args: Record<string, unknown> = {};
  let n = 2;
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property.default !== undefined) args[name] = property.default;
    else if (property.type === 'number' || property.type === 'integer') args[name] = n++;
    else if (property.type === 'boolean') args[name] = true;
    else if (property.type === 'string') args[name] = 'hello';
  }
  return args;
}

async function main(): Promise<void> {
  if (!url) throw new Error('usage: conformance-client.ts <server url>');
  const storeDir = mkdtempSync(join(tmpdir(), 'repartee-conformance-auth-'));
  const clientId = typeof context.client_id === 'string' ? context.client_id : undefined;
  const clientSecret = typeof context.client_secret === 'string' ? context.client_secret : undefined;
  if (clientSecret) process.env.CONFORMANCE_CLIENT_SECRET = clientSecret;
  const config = McpServerConfigSchema.parse({
    name: 'conformance',
    transport: 'http',
    url,
    connectTimeoutMs: 20_000,
    requestTimeoutMs: 20_000,
    oauth: {
      storeDir,
      authorizationTimeoutMs: 20_000,
      ...(clientId ? { clientId } : {}),
      ...(clientSecret ? { clientSecret: '${CONFORMANCE_CLIENT_SECRET}' } : {}),
    },
  });
  let browsing: Promise<void> = Promise.resolve();
  const connection = new McpServerConnection(
    config,
    {
      onError: (error) => say(`error: ${error.message}`),
      onLog: (line) => say(line),
      onToolsChanged: (names) => say(`tools: ${names.join(', ')}`),
      onAuthorizationLink: (link) => {
        say(`authorisation link: ${link}`);
        browsing = browser(link).catch((error) => say(`browser: ${(error as Error).message}`));
      },
    },
    { name: 'repartee', version: '0.1.0' },
  );
  try {
    await connection.connect();
    const deadline = Date.now() + 25_000;
    while (connection.status === 'authorizing' || connection.status === 'connecting') {
      if (Date.now() > deadline) throw new Error('not connected in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await browsing;
    if (connection.status !== 'connected') throw connection.error ?? new Error(`status ${connection.status}`);
    say(`connected (${scenario})`);
    for (const tool of connection.tools) {
      if (/(^|_)(list|read)_resources?$/.test(tool.name)) continue;
      const controller = new AbortController();
      const answer = await tool
        .execute(exampleArguments(tool), {
          signal: controller.signal,
          say: (text) => say(`(spoken) ${text}`),
          ask: async (question) => {
            say(`(asked aloud) ${question}`);
            return 'yes, use those';
          },
        })
        .then(
          (text) => `ok: ${String(text).slice(0, 200)}`,
          (error: Error) => `error: ${error.message}`,
        );
      say(`${tool.name} -> ${answer}`);
    }
  } finally {
    await connection.close();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
