import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolRunner } from '../src/agent/tool-runner.ts';
import { type SessionEvent, serveStreamableHttp } from '../src/tools/docs-server/http.ts';
import { McpToolset } from '../src/tools/mcp/toolset.ts';
import {
  call,
  closeOpen,
  fixtureServer,
  type Journal,
  live,
  open,
  setUp,
  waitFor,
} from './mcp-client.testkit.ts';

afterEach(closeOpen);

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
