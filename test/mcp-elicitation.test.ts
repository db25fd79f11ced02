import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { type ElicitResult, ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeline } from '../src/agent/timeline.testkit.ts';
import { type HttpEndpoint, serveStreamableHttp } from '../src/tools/docs-server/http.ts';
import { McpToolset } from '../src/tools/mcp/toolset.ts';
import { runPaced, toolAnswer } from './mcp-paced.testkit.ts';

/**
 * A remote MCP server asks the user something in the middle of a tool call (elicitation). The agent asks the
 * question aloud, the user answers by voice, and the server receives the typed answer (an enum value and an
 * integer), not words; the answers are not turns of their own.
 */
describe('MCP elicitation answered by voice', () => {
  let endpoint: HttpEndpoint;
  let toolset: McpToolset;
  const received: ElicitResult[] = [];

  beforeAll(async () => {
    endpoint = await serveStreamableHttp(
      () => {
        const server = new McpServer({ name: 'bookings', version: '1' });
        server.registerTool(
          'book_table',
          { description: 'Book a table at the restaurant', inputSchema: {} },
          async (_args, extra) => {
            const answer = await extra.sendRequest(
              {
                method: 'elicitation/create',
                params: {
                  message: 'Which day would you like the table?',
                  requestedSchema: {
                    type: 'object',
                    properties: {
                      day: { type: 'string', title: 'The day', enum: ['friday', 'saturday'] },
                      guests: { type: 'integer', description: 'How many guests', minimum: 1, maximum: 12 },
                    },
                    required: ['day', 'guests'],
                  },
                },
              },
              ElicitResultSchema,
              { timeout: 120_000 },
            );
            received.push(answer);
            if (answer.action !== 'accept')
              return { content: [{ type: 'text', text: `not booked (${answer.action})` }] };
            const { day, guests } = answer.content as { day: string; guests: number };
            return { content: [{ type: 'text', text: `booked for ${day}, ${guests} guests` }] };
          },
        );
        return server;
      },
      { port: 0 },
    );
    toolset = await McpToolset.connect([{ name: 'bookings', transport: 'http', url: endpoint.url }]);
  }, 60_000);

  afterAll(async () => {
    await toolset?.close();
    await endpoint?.close();
  });

  it('the agent asks the question aloud, the scripted user answers, the server receives the typed answer', async () => {
    expect(toolset.servers[0].status).toBe('connected');
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1800, text: 'Book me a table please.' },
        // The answers, each after the question it answers has been spoken.
        { startMs: 9000, endMs: 10000, text: 'On Saturday.' },
        { startMs: 14000, endMs: 15000, text: 'Four of us.' },
      ],
      reply: (messages) => {
        const result = toolAnswer(messages);
        if (result !== undefined) return `Done: ${result}.`;
        return { toolCalls: [{ id: 'call_book', name: 'book_table', arguments: '{}' }] };
      },
      session: { tools: [toolset], toolTimeoutMs: 120_000 },
    });
    await t.start();
    await runPaced(t, 40_000, () => t.metrics.length > 0);
    expect(t.errors).toEqual([]);
    expect(received).toEqual([{ action: 'accept', content: { day: 'saturday', guests: 4 } }]);
    const spoken = t.tts.segmentsSynthesized.join(' | ');
    expect(spoken).toContain('Which day would you like the table?');
    expect(spoken).toContain('Say friday or saturday.');
    expect(spoken).toContain('How many guests?');
    expect(spoken).toContain('Done: booked for saturday, 4 guests.');
    // The answers went to the server, not into the conversation as new requests.
    expect(t.history().filter((m) => m.role === 'user')).toEqual([
      { role: 'user', content: 'Book me a table please.' },
    ]);
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed' });
  }, 120_000);
});
