import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AgentSessionEvents } from '../src/agent/events.ts';
import { timeline } from '../src/agent/timeline.testkit.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { serveStreamableHttp } from '../src/tools/docs-server/http.ts';
import { McpToolset } from '../src/tools/mcp/toolset.ts';
import { runPaced, toolAnswer } from './mcp-paced.testkit.ts';

const bin = path.resolve(import.meta.dirname, '..', 'bin', 'repartee-docs');
const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

describe('voice turn → MCP tool → spoken answer', () => {
  let base: string;
  let toolset: McpToolset;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'repartee-mcp-e2e-'));
    const docs = path.join(base, 'docs');
    await mkdir(docs);
    await writeFile(path.join(docs, 'notes.md'), '# Notes\n\nThe quarterly budget is due in May.\n');
    await writeFile(path.join(docs, 'shopping.txt'), 'milk\nbread\n');
    toolset = await McpToolset.connect([
      { name: 'docs', transport: 'stdio', command: bin, args: [docs], toolPrefix: 'docs_' },
    ]);
  }, 60_000);

  afterAll(async () => {
    await toolset?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('"search my documents for budget": the LLM calls repartee-docs over stdio and the answer is spoken', async () => {
    expect(toolset.servers[0].status).toBe('connected');
    const t = timeline({
      user: [{ startMs: 500, endMs: 1800, text: 'Search my documents for budget.' }],
      reply: (messages) => {
        const found = toolAnswer(messages);
        if (found !== undefined)
          return `I found it in ${found.split(':')[0]}: ${found.split(': ').slice(1).join(': ')}`;
        const query = lastUser(messages)
          .replace(/[.?!]$/, '')
          .split(' ')
          .at(-1);
        return {
          toolCalls: [{ id: 'call_search', name: 'docs_search', arguments: JSON.stringify({ query }) }],
        };
      },
      session: { tools: [toolset] },
    });
    const results: AgentSessionEvents['toolResult'][] = [];
    t.session.on('toolResult', (r) => results.push(r));
    await t.start();
    await runPaced(t, 30_000, () => t.metrics.length > 0);
    expect(t.errors).toEqual([]);
    const answer = 'I found it in notes.md: The quarterly budget is due in May.';
    expect(t.tts.segmentsSynthesized).toEqual([answer]);
    expect(t.output.playedMsOf(1)).toBeGreaterThan(1000);
    expect(t.history()).toEqual([
      { role: 'user', content: 'Search my documents for budget.' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'call_search', name: 'docs_search', arguments: '{"query":"budget"}' }],
      },
      { role: 'tool', toolCallId: 'call_search', content: 'notes.md:3: The quarterly budget is due in May.' },
      { role: 'assistant', content: answer },
    ]);
    expect(results).toHaveLength(1);
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', agentText: answer });
    // On the session clock (paced no faster than real time) a fast search may take under one 20 ms step.
    expect(t.metrics[0].toolMs).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('a traversal attempt by the LLM gets an MCP error the LLM reads, and the session answers', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Read the password file.' }],
      reply: (messages) =>
        toolAnswer(messages) !== undefined
          ? 'I cannot read that file.'
          : { toolCalls: [{ id: 'c1', name: 'docs_read', arguments: '{"path":"../../../etc/passwd"}' }] },
      session: { tools: [toolset] },
    });
    await t.start();
    await runPaced(t, 30_000, () => t.metrics.length > 0);
    expect(t.history().find((m) => m.role === 'tool')?.content).toBe(
      'Error: docs_read failed: ../../../etc/passwd: ".." is refused; use a path inside the root',
    );
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', agentText: 'I cannot read that file.' });
  }, 60_000);
});

describe('a slow MCP tool in a live session', () => {
  it('runs for seconds with progress while audio keeps flowing, says its status line, and "cancel" cancels it', async () => {
    const journal = { started: 0, cancelled: 0, finished: 0, progressSent: 0 };
    const endpoint = await serveStreamableHttp(
      () => {
        const server = new McpServer({ name: 'slow', version: '1' });
        server.registerTool(
          'deep_analysis',
          { description: 'A long document analysis', inputSchema: { topic: z.string() } },
          async (_args, extra) => {
            journal.started++;
            const token = extra._meta?.progressToken;
            for (let step = 1; step <= 60; step++) {
              try {
                await delay(250, undefined, { signal: extra.signal });
              } catch {
                journal.cancelled++;
                throw new Error('cancelled');
              }
              if (token === undefined) continue;
              journal.progressSent++;
              await extra.sendNotification({
                method: 'notifications/progress',
                params: { progressToken: token, progress: step, total: 60 },
              });
            }
            journal.finished++;
            return { content: [{ type: 'text', text: 'analysis complete' }] };
          },
        );
        return server;
      },
      { port: 0 },
    );
    const toolset = await McpToolset.connect([{ name: 'slow', transport: 'http', url: endpoint.url }]);
    try {
      const t = timeline({
        user: [
          { startMs: 500, endMs: 1500, text: 'Analyze the budget.' },
          { startMs: 6000, endMs: 6300, text: 'okay' },
          { startMs: 7500, endMs: 7900, text: 'cancel' },
        ],
        reply: (messages) => {
          if (lastUser(messages) === 'cancel') return 'Okay, I stopped the analysis.';
          if (toolAnswer(messages) !== undefined) return 'The analysis is complete.';
          return { toolCalls: [{ id: 'a1', name: 'deep_analysis', arguments: '{"topic":"budget"}' }] };
        },
        session: { tools: [toolset], longTools: { statusAfterMs: 1500 } },
      });
      const progress: AgentSessionEvents['toolProgress'][] = [];
      const wall: { called?: number; result?: number } = {};
      t.session.on('toolProgress', (p) => progress.push(p));
      t.session.on('toolCall', () => {
        wall.called = performance.now();
      });
      t.session.on('toolResult', () => {
        wall.result = performance.now();
      });
      await t.start();
      await runPaced(t, 30_000, () => t.metrics.length >= 2);
      expect(t.errors).toEqual([]);

      // The tool ran for seconds of wall-clock time, reporting progress all along, until "cancel".
      expect(wall.result! - wall.called!).toBeGreaterThan(3000);
      expect(progress.length).toBeGreaterThanOrEqual(10);
      expect(progress.map((p) => p.progress.progress)).toEqual(progress.map((_, i) => i + 1));
      // MCP cancellation reached the server: its handler saw the abort and never finished.
      for (let i = 0; i < 100 && journal.cancelled === 0; i++) await delay(20);
      expect(journal).toMatchObject({ started: 1, cancelled: 1, finished: 0 });

      // One status line, spoken while the tool ran; the state went back to thinking after it.
      expect(t.tts.segmentsSynthesized).toEqual(['Still working on it.', 'Okay, I stopped the analysis.']);
      const toolCallAt = t.llm.requests[0].at + 300;
      const statusFrames = t.output.played.filter((f) => f.speechId === 1);
      expect(statusFrames[0].startMs).toBeGreaterThanOrEqual(toolCallAt + 1500);
      const statusEnd = statusFrames.at(-1)!.startMs + statusFrames.at(-1)!.durationMs;
      expect(statusEnd).toBeLessThan(6000);
      expect(t.stateAt(statusEnd + 200)).toBe('thinking');
      // Audio kept flowing into VAD and STT during the tool: the "okay" paused and resumed, without cancelling.
      expect(t.stateAt(6100)).toBe('userSpeaking');
      const kinds = t.log
        .filter((e) => e.event === 'interruption')
        .map((e) => (e.payload as { kind: string }).kind);
      expect(kinds.slice(0, 2)).toEqual(['paused', 'resumed']);

      // The history holds the call, its cancelled result, and the conversation that followed.
      expect(t.history()).toEqual([
        { role: 'user', content: 'Analyze the budget.' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'a1', name: 'deep_analysis', arguments: '{"topic":"budget"}' }],
        },
        {
          role: 'tool',
          toolCallId: 'a1',
          content: 'Cancelled: deep_analysis was stopped before it finished',
        },
        { role: 'user', content: 'cancel' },
        { role: 'assistant', content: 'Okay, I stopped the analysis.' },
      ]);
      expect(t.metrics[0].outcome).toBe('interrupted');
      expect(t.metrics[0].toolMs).toBeGreaterThan(3000);
      expect(t.metrics[1]).toMatchObject({
        outcome: 'completed',
        agentText: 'Okay, I stopped the analysis.',
      });
    } finally {
      await toolset.close();
      await endpoint.close();
    }
  }, 90_000);
});
