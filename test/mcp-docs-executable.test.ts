import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { base, bin, docs, repo, textOf, useDocsFixture } from './mcp-docs-server.testkit.ts';

useDocsFixture();

describe('repartee-docs executable', () => {
  it('serves MCP over stdio: lists, calls, and survives a refused request', async () => {
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new StdioClientTransport({ command: bin, args: [docs], stderr: 'ignore' }));
    try {
      expect((await client.listTools()).tools).toHaveLength(6);
      const refused = (await client.callTool({
        name: 'read',
        arguments: { path: '../secret.txt' },
      })) as CallToolResult;
      expect(refused.isError).toBe(true);
      const search = await client.callTool({ name: 'search', arguments: { query: 'milk' } });
      expect(textOf(search)).toBe('notes.txt:2: Buy milk.\n(2 file(s) skipped: binary or too large)');
    } finally {
      await client.close();
    }
  }, 60_000);

  it('serves Streamable HTTP with --http 0 on 127.0.0.1', async () => {
    const child = spawn(bin, [docs, '--http', '0', '--max-sessions', '1'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let stderr = '';
        child.stderr.on('data', (chunk) => {
          stderr += chunk;
          const match = /at (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
      });
      const client = new Client({ name: 'test', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const updates: unknown[] = [];
      const result = await client.callTool({ name: 'analyze', arguments: { path: 'reports' } }, undefined, {
        onprogress: (p) => updates.push(p),
      });
      expect(textOf(result)).toMatch(/^1 document\(s\), 5 words/);
      expect(updates.length).toBeGreaterThanOrEqual(1);
      expect((await client.callTool({ name: 'read', arguments: { path: 'escape.txt' } })).isError).toBe(true);
      // --max-sessions 1: a second client is told so; a page from another origin is refused outright.
      const initialize = {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'second', version: '1' },
        },
      };
      const post = (headers: Record<string, string> = {}) =>
        fetch(url, {
          method: 'POST',
          body: JSON.stringify(initialize),
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
        });
      const second = await post();
      expect(second.status).toBe(503);
      expect(await second.text()).toMatch(/too many open sessions \(the limit is 1\)/);
      expect((await post({ origin: 'http://evil.example' })).status).toBe(403);
      await client.close();
      const refused = await fetch(url, {
        method: 'POST',
        body: '{not json',
        headers: { 'content-type': 'application/json' },
      });
      expect(refused.status).toBe(400);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('refuses a missing root with a message and exit code 2', async () => {
    const run = promisify(execFile);
    const error = await run(bin, [path.join(base, 'missing')]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toMatch(/does not exist/);
  }, 60_000);
});

describe('MCP Inspector CLI (@modelcontextprotocol/inspector-cli)', () => {
  const inspector = path.join(
    repo,
    'node_modules',
    '@modelcontextprotocol',
    'inspector-cli',
    'build',
    'cli.js',
  );
  // inspector-cli 1.0.3 looks for "../package.json" relative to the working directory but imports it relative to
  // its own module; from a folder one level inside the repository both resolve.
  const cwd = path.join(repo, 'bin');
  const inspect = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, [inspector, '--cli', bin, docs, ...args], {
      cwd,
      timeout: 60_000,
    });
    return JSON.parse(stdout);
  };

  it('lists and calls the tools of ./bin/repartee-docs', async () => {
    const listed = await inspect('--method', 'tools/list');
    expect(listed.tools.map((t: { name: string }) => t.name)).toEqual([
      'list',
      'read',
      'search',
      'edit',
      'compare',
      'analyze',
    ]);
    const called = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'search',
      '--tool-arg',
      'query=milk',
    );
    expect(called.content[0].text).toMatch(/^notes.txt:2: Buy milk.\n/);
    const refused = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'read',
      '--tool-arg',
      'path=../secret.txt',
    );
    expect(refused.isError).toBe(true);
  }, 90_000);
});
