import { type EventEmitter, once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ToolRunner } from '../src/agent/tool-runner.ts';
import {
  type HttpEndpoint,
  type StreamableHttpOptions,
  serveStreamableHttp,
} from '../src/tools/docs-server/http.ts';
import { McpToolset } from '../src/tools/mcp/toolset.ts';

/** Shared set-up of test/mcp-client.test.ts and test/mcp-client-faults.test.ts (not a test file). */

export interface Journal {
  levels: number[];
  slow: { started: number; cancelled: number; finished: number };
}

/** A small MCP server with the behaviours the client must handle: slow, failing, changing tool lists. */
export function fixtureServer(journal: Journal): McpServer {
  const server = new McpServer({ name: 'fixture', version: '1' });
  server.registerTool(
    'echo',
    { description: 'Echo', inputSchema: { text: z.string() } },
    async ({ text }) => ({
      content: [{ type: 'text', text: `echo: ${text}` }],
    }),
  );
  server.registerTool(
    'set_level',
    { description: 'Set a level', inputSchema: { level: z.number().int().min(0).max(10) } },
    async ({ level }) => {
      journal.levels.push(level);
      return { content: [{ type: 'text', text: `level ${level}` }] };
    },
  );
  server.registerTool('fail', { description: 'Always fails' }, async () => ({
    content: [{ type: 'text', text: 'disk on fire' }],
    isError: true,
  }));
  server.registerTool('drop_table', { description: 'Dangerous' }, async () => ({ content: [] }));
  server.registerTool(
    'slow',
    { description: 'Takes a while', inputSchema: { steps: z.number().int().min(1) } },
    async ({ steps }, extra) => {
      journal.slow.started++;
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        try {
          await delay(50, undefined, { signal: extra.signal });
        } catch {
          journal.slow.cancelled++;
          throw new Error('cancelled');
        }
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: steps, message: `step ${i}` },
          });
        }
      }
      journal.slow.finished++;
      return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
    },
  );
  server.registerTool('unlock', { description: 'Adds a tool' }, async () => {
    server.registerTool('secret', { description: 'Appears later' }, async () => ({
      content: [{ type: 'text', text: 'the secret' }],
    }));
    return { content: [{ type: 'text', text: 'unlocked' }] };
  });
  return server;
}

/** What a test opened; closeOpen() (each test file's afterEach) closes it. */
export const open: { endpoint?: HttpEndpoint; toolset?: McpToolset }[] = [];
export async function closeOpen(): Promise<void> {
  for (const { endpoint, toolset } of open.splice(0)) {
    await toolset?.close();
    await endpoint?.close();
  }
}

export async function setUp(
  server: Record<string, unknown> = {},
  http: Partial<StreamableHttpOptions> = {},
  onEvent: () => void = () => undefined,
) {
  const journal: Journal = { levels: [], slow: { started: 0, cancelled: 0, finished: 0 } };
  const endpoint = await serveStreamableHttp(() => fixtureServer(journal), { port: 0, ...http });
  const errors: string[] = [];
  const changes: string[][] = [];
  const toolset = await McpToolset.connect(
    [{ name: 'fixture', transport: 'http', url: endpoint.url, ...server }],
    {
      onError: (error, name) => {
        errors.push(`${name}: ${error.message}`);
        onEvent();
      },
      onToolsChanged: (_, tools) => {
        changes.push(tools);
        onEvent();
      },
    },
  );
  open.push({ endpoint, toolset });
  return { journal, endpoint, toolset, errors, changes, runner: new ToolRunner([toolset]) };
}

export const call = (name: string, args: unknown = {}) => ({
  id: `call_${name}`,
  name,
  arguments: JSON.stringify(args),
});
export const live = () => new AbortController().signal;

/** Waits, event by event, until the condition holds (the test's own timeout bounds the wait). */
export async function waitFor(events: EventEmitter, condition: () => boolean): Promise<void> {
  while (!condition()) await once(events, 'event');
}
