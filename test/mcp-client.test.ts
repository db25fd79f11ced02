import { EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ToolRunner } from '../src/agent/tool-runner.ts';
import {
  type HttpEndpoint,
  type SessionEvent,
  type StreamableHttpOptions,
  serveStreamableHttp,
} from '../src/tools/docs-server/http.ts';
import { McpToolset } from '../src/tools/mcp/toolset.ts';

interface Journal {
  levels: number[];
  slow: { started: number; cancelled: number; finished: number };
}

/** A small MCP server with the behaviours the client must handle: slow, failing, changing tool lists. */
function fixtureServer(journal: Journal): McpServer {
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

const open: { endpoint?: HttpEndpoint; toolset?: McpToolset }[] = [];
afterEach(async () => {
  for (const { endpoint, toolset } of open.splice(0)) {
    await toolset?.close();
    await endpoint?.close();
  }
});

async function setUp(
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

const call = (name: string, args: unknown = {}) => ({
  id: `call_${name}`,
  name,
  arguments: JSON.stringify(args),
});
const live = () => new AbortController().signal;

/** Waits, event by event, until the condition holds (the test's own timeout bounds the wait). */
async function waitFor(events: EventEmitter, condition: () => boolean): Promise<void> {
  while (!condition()) await once(events, 'event');
}

describe('McpToolset over Streamable HTTP', () => {
  it('offers the allowed tools under their prefix, with the server JSON Schemas', async () => {
    const { runner, toolset } = await setUp({
      toolPrefix: 'fx_',
      deny: ['drop_*'],
      allow: ['echo', 'set_level', 'slow', 'fail', 'drop_table'],
    });
    expect(runner.tools.map((t) => t.name)).toEqual(['fx_echo', 'fx_set_level', 'fx_fail', 'fx_slow']);
    expect(runner.schemas[1].parameters).toMatchObject({
      type: 'object',
      properties: { level: { type: 'integer', minimum: 0, maximum: 10 } },
      required: ['level'],
    });
    expect(toolset.servers).toEqual([
      { name: 'fixture', status: 'connected', tools: ['fx_echo', 'fx_set_level', 'fx_fail', 'fx_slow'] },
    ]);
    expect(await runner.run(call('fx_echo', { text: 'hi' }), live())).toEqual({
      content: 'echo: hi',
      isError: false,
    });
  });

  it('validates arguments before the call: a bad call never reaches the server', async () => {
    const { runner, journal } = await setUp();
    for (const args of [{ level: 11 }, { level: 'loud' }, {}, { level: 2.5 }]) {
      const result = await runner.run(call('set_level', args), live());
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/^Error: invalid arguments for set_level: \(root\): /);
    }
    expect(
      (await runner.run({ id: 'x', name: 'set_level', arguments: '{"level":' }, live())).content,
    ).toMatch(/not valid JSON/);
    expect(journal.levels).toEqual([]);
    expect(await runner.run(call('set_level', { level: 7 }), live())).toEqual({
      content: 'level 7',
      isError: false,
    });
    expect(journal.levels).toEqual([7]);
  });

  it('a tool error from the server becomes an error result the LLM reads', async () => {
    const { runner } = await setUp();
    expect(await runner.run(call('fail'), live())).toEqual({
      content: 'Error: fail failed: disk on fire',
      isError: true,
    });
  });

  it('forwards progress, and aborting the signal cancels the request on the server', async () => {
    const { runner, journal } = await setUp();
    const updates: { progress: number; total?: number; message?: string }[] = [];
    expect(await runner.run(call('slow', { steps: 3 }), live(), (p) => updates.push(p))).toEqual({
      content: 'done after 3 steps',
      isError: false,
    });
    expect(updates).toEqual([1, 2, 3].map((i) => ({ progress: i, total: 3, message: `step ${i}` })));

    const controller = new AbortController();
    const running = runner.run(call('slow', { steps: 1000 }), controller.signal, () =>
      controller.abort(new Error('cancel')),
    );
    await expect(running).rejects.toThrow('cancel');
    for (let i = 0; i < 100 && journal.slow.cancelled === 0; i++) await delay(20);
    expect(journal.slow).toEqual({ started: 2, cancelled: 1, finished: 1 });
  });

  it('follows the server tool list when it changes', async () => {
    const { runner, changes } = await setUp();
    expect(runner.tools.map((t) => t.name)).not.toContain('secret');
    expect(await runner.run(call('unlock'), live())).toMatchObject({ content: 'unlocked' });
    for (let i = 0; i < 100 && !runner.tools.some((t) => t.name === 'secret'); i++) await delay(20);
    expect(runner.tools.map((t) => t.name)).toContain('secret');
    expect(changes.length).toBe(2);
    expect(await runner.run(call('secret'), live())).toEqual({ content: 'the secret', isError: false });
  });

  it('close() ends the connection and the tools go with it', async () => {
    const { runner, toolset } = await setUp();
    await toolset.close();
    expect(runner.tools).toEqual([]);
    expect(toolset.servers[0].status).toBe('closed');
    expect(await runner.run(call('echo', { text: 'x' }), live())).toMatchObject({ isError: true });
  });
});

describe('McpToolset faults', () => {
  it('a server that cannot start is reported and the others still serve', async () => {
    const { endpoint, journal } = await (async () => {
      const journal: Journal = { levels: [], slow: { started: 0, cancelled: 0, finished: 0 } };
      return { journal, endpoint: await serveStreamableHttp(() => fixtureServer(journal), { port: 0 }) };
    })();
    const closed = await serveStreamableHttp(() => fixtureServer(journal), { port: 0 });
    await closed.close();
    const errors: string[] = [];
    const toolset = await McpToolset.connect(
      [
        { name: 'missing', transport: 'stdio', command: '/nonexistent/mcp-server', connectTimeoutMs: 10_000 },
        { name: 'gone', transport: 'http', url: closed.url, connectTimeoutMs: 10_000 },
        { name: 'good', transport: 'http', url: endpoint.url },
      ],
      { onError: (error, server) => errors.push(`${server}: ${error.message}`) },
    );
    open.push({ endpoint, toolset });
    expect(toolset.servers.map((s) => [s.name, s.status])).toEqual([
      ['missing', 'failed'],
      ['gone', 'failed'],
      ['good', 'connected'],
    ]);
    expect(errors.some((e) => e.startsWith('missing: MCP server missing did not start'))).toBe(true);
    expect(errors.some((e) => e.startsWith('gone: MCP server gone did not start'))).toBe(true);
    expect(toolset.tools().length).toBe(6);
  }, 30_000);

  it('a stdio server that dies is restarted with backoff; calls fail fast meanwhile, then its tools are back', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'repartee-mcp-fragile-'));
    const launches = path.join(dir, 'launches');
    // Launch 1 serves; launches 2 and 3 crash at start; launch 4 serves again.
    const script = `
      import { appendFileSync, readFileSync } from 'node:fs';
      import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
      import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
      appendFileSync(${JSON.stringify(launches)}, 'x');
      const launch = readFileSync(${JSON.stringify(launches)}, 'utf8').length;
      if (launch === 2 || launch === 3) process.exit(4);
      const server = new McpServer({ name: 'fragile', version: '1' });
      server.registerTool('crash', { description: 'Exits' }, async () => { process.exit(3); });
      server.registerTool('ping', { description: 'Pong' }, async () => ({ content: [{ type: 'text', text: 'pong ' + launch }] }));
      await server.connect(new StdioServerTransport());`;
    const events = new EventEmitter();
    const errors: { message: string; at: number }[] = [];
    const changes: string[][] = [];
    const toolset = await McpToolset.connect(
      [
        {
          name: 'fragile',
          transport: 'stdio',
          command: process.execPath,
          args: ['--input-type=module', '-e', script],
          cwd: process.cwd(),
          reconnectInitialDelayMs: 100,
          reconnectMaxDelayMs: 2000,
        },
      ],
      {
        onError: (error) => {
          errors.push({ message: error.message, at: performance.now() });
          events.emit('event');
        },
        onToolsChanged: (_, tools) => {
          changes.push(tools);
          events.emit('event');
        },
      },
    );
    open.push({ toolset });
    try {
      const runner = new ToolRunner([toolset]);
      expect(await runner.run(call('ping'), live())).toEqual({ content: 'pong 1', isError: false });
      expect(changes).toEqual([['crash', 'ping']]);
      const crashed = await runner.run(call('crash'), live());
      expect(crashed.isError).toBe(true);
      expect(toolset.servers[0].status).toBe('reconnecting');
      // While it restarts, the tools stay listed and a call fails at once with a clear error.
      expect(runner.tools.map((t) => t.name)).toEqual(['crash', 'ping']);
      const down = await runner.run(call('ping'), live());
      expect(down.isError).toBe(true);
      expect(down.content).toMatch(/MCP server fragile is restarting/);

      await waitFor(events, () => changes.length === 2);
      expect(changes[1]).toEqual(['crash', 'ping']);
      expect(toolset.servers[0]).toMatchObject({ status: 'connected', tools: ['crash', 'ping'] });
      expect(await runner.run(call('ping'), live())).toEqual({ content: 'pong 4', isError: false });
      expect(await readFile(launches, 'utf8')).toBe('xxxx');

      const messages = errors.map((e) => e.message);
      expect(messages[0]).toBe('MCP server fragile closed; reconnecting');
      const failures = errors.filter((e) =>
        e.message.startsWith('reconnecting to MCP server fragile failed'),
      );
      expect(failures.map((e) => e.message.match(/\(attempt \d\)/)?.[0])).toEqual([
        '(attempt 1)',
        '(attempt 2)',
      ]);
      // Backoff, not a tight loop: the second retry waited at least half of 2 × 100 ms after the first failed.
      expect(failures[1].at - failures[0].at).toBeGreaterThanOrEqual(100);
    } finally {
      await toolset.close();
      await rm(dir, { recursive: true, force: true });
    }
    // close() stops the retries: no server is launched again.
    expect(toolset.servers[0].status).toBe('closed');
    expect(toolset.tools()).toEqual([]);
  }, 60_000);

  it('an HTTP server that drops the session is reconnected and its tools come back', async () => {
    const sessions: SessionEvent[] = [];
    const events = new EventEmitter();
    const { toolset, changes, errors, runner, endpoint } = await setUp(
      { reconnectInitialDelayMs: 50 },
      {
        onSession: (event) => {
          sessions.push(event);
          events.emit('event');
        },
      },
      () => events.emit('event'),
    );
    expect(sessions).toMatchObject([{ type: 'opened' }]);
    const first = sessions[0].sessionId;
    // The server ends the session (as an idle expiry or a restart would): the client must start a new one.
    const deleted = await fetch(endpoint.url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': first },
    });
    expect(deleted.status).toBe(200);
    await waitFor(events, () => changes.length === 2);
    expect(
      errors.some((e) => /^fixture: MCP server fixture lost its connection .*; reconnecting$/.test(e)),
    ).toBe(true);
    expect(sessions.filter((s) => s.type === 'opened').length).toBe(2);
    expect(toolset.servers[0].status).toBe('connected');
    expect(await runner.run(call('echo', { text: 'again' }), live())).toEqual({
      content: 'echo: again',
      isError: false,
    });
  }, 30_000);

  it('the HTTP endpoint expires idle sessions, closing their server; a busy one lives on', async () => {
    const events = new EventEmitter();
    const sessions: SessionEvent[] = [];
    const servers: McpServer[] = [];
    const journal: Journal = { levels: [], slow: { started: 0, cancelled: 0, finished: 0 } };
    const endpoint = await serveStreamableHttp(
      () => {
        const server = fixtureServer(journal);
        servers.push(server);
        return server;
      },
      {
        port: 0,
        sessionIdleTimeoutMs: 300,
        onSession: (event) => {
          sessions.push(event);
          events.emit('event');
        },
      },
    );
    open.push({ endpoint });
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url)));
    const id = sessions[0].sessionId;
    // A call longer than the idle timeout keeps its session: a session is idle only with no request running.
    const slow = await client.callTool({ name: 'slow', arguments: { steps: 12 } });
    expect(slow.isError).toBeFalsy();
    expect(sessions.filter((s) => s.type === 'closed')).toEqual([]);
    await waitFor(events, () => sessions.some((s) => s.type === 'closed'));
    expect(sessions).toEqual([
      { type: 'opened', sessionId: id },
      { type: 'closed', sessionId: id, reason: 'expired' },
    ]);
    expect(servers[0].isConnected()).toBe(false);
    const stale = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': id,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(stale.status).toBe(404);
    expect(await stale.json()).toMatchObject({ error: { code: -32001, message: 'Session not found' } });
    await client.close().catch(() => undefined);

    // DELETE still ends a session at once.
    const second = new Client({ name: 'test', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url));
    await second.connect(transport);
    await transport.terminateSession();
    expect(sessions.at(-1)).toEqual({
      type: 'closed',
      sessionId: transport.sessionId ?? sessions.at(-2)?.sessionId,
      reason: 'deleted',
    });
    expect(servers[1].isConnected()).toBe(false);
    await second.close();
  }, 30_000);

  it('rejects a bad configuration with a clear error before starting anything', async () => {
    await expect(McpToolset.connect([{ name: 'x', transport: 'stdio' }])).rejects.toThrow(/command/);
    await expect(
      McpToolset.connect([
        { name: 'a', transport: 'http', url: 'http://127.0.0.1:1/mcp' },
        { name: 'a', transport: 'http', url: 'http://127.0.0.1:2/mcp' },
      ]),
    ).rejects.toThrow(/duplicate MCP server name/);
  });
});
