import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type AnthropicScript,
  FakeAnthropicServer,
  type ParsedMessagesRequest,
} from '../src/providers/llm/testing/anthropic-server.ts';
import {
  FakeGeminiServer,
  type GeminiScript,
  type GenerateRequest,
} from '../src/providers/llm/testing/google-server.ts';
import { defineTool } from '../src/tools/tool.ts';
import { answerClip, CLIP_TEXT, configuredSession, wordsOf } from './more-providers.harness.ts';

/**
 * Issue 22: the tool-call round trip of `anthropic:` and `google:` through a whole session. The user's LibriVox clip
 * is heard by the local STT; the fake LLM answers with a tool call; the session runs our tool; the tool's output goes
 * back in the provider's documented shape (Anthropic: a `tool_result` block answering the `tool_use` id, in the next
 * user message; Gemini: a `functionResponse` part answering the `functionCall` of the model turn before); the fake
 * builds the spoken reply from what it received, so a wrong mapping fails the turn or the reply.
 */

const ANTHROPIC_KEY = 'sk-ant-tools-0123456789';
const GEMINI_KEY = 'AIza-tools-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The tool: what it was called with, and an answer only it knows. */
function orderTool() {
  const calls: { order: string }[] = [];
  const tool = defineTool({
    name: 'order_status',
    description: 'Looks up the delivery status of an order by its number.',
    parameters: z.object({ order: z.string() }),
    execute: async (args) => {
      calls.push(args);
      return { order: args.order, status: 'shipped', arrives: 'Tuesday' };
    },
  });
  return { tool, calls };
}

/** How many of the clip's words the local STT heard in a transcript. */
const heardClip = (transcript = '') =>
  wordsOf(transcript).filter((w) => wordsOf(CLIP_TEXT).includes(w)).length;

const spokenReply = (result: { status: string; arrives: string }) =>
  `Your order is ${result.status} and arrives ${result.arrives}.`;

/** A session on `llm` with the order tool answers the clip; the turn whose reply used the tool's answer. */
async function answerWithTool(llm: string, env: Record<string, string>) {
  const { tool, calls } = orderTool();
  const s = await configuredSession({ llm, stt: 'local', tts: 'local', vad: 'silero' }, env, [tool]);
  cleanups.push(() => s.close());
  const result = await answerClip(s);
  const turn = result.metrics.find((m) => m.outcome === 'completed' && m.agentText.includes('Tuesday'));
  expect(
    turn,
    JSON.stringify({
      m: result.metrics.map((m) => [m.outcome, m.userTranscript, m.agentText]),
      e: s.errors,
    }),
  ).toBeDefined();
  expect(heardClip(turn?.userTranscript)).toBeGreaterThanOrEqual(3);
  expect(calls).toEqual([{ order: 'A-1147' }]);
  return { s, result, turn };
}

describe('tool calls through a session over the fake LLM servers', () => {
  it('anthropic: tool_use → our tool runs → tool_result goes back → the spoken reply uses it', async () => {
    const results: unknown[] = [];
    const script = (r: ParsedMessagesRequest): AnthropicScript => {
      const last = r.messages.at(-1);
      const blocks = typeof last?.content === 'string' ? [] : (last?.content ?? []);
      const answered = blocks.find((b) => b.type === 'tool_result');
      if (answered && answered.type === 'tool_result') {
        const result = JSON.parse(answered.content);
        results.push({ id: answered.tool_use_id, result, is_error: answered.is_error });
        return { text: spokenReply(result) };
      }
      return {
        text: 'Let me check.',
        toolCalls: [{ id: 'toolu_01A', name: 'order_status', arguments: '{"order":"A-1147"}' }],
      };
    };
    const anthropic = await FakeAnthropicServer.start({ apiKey: ANTHROPIC_KEY, script });
    cleanups.push(() => anthropic.close());
    const { s, result, turn } = await answerWithTool('anthropic:claude-test', {
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: anthropic.baseURL,
    });
    // The tool was offered in Anthropic's shape, and its output came back as a tool_result for that tool_use.
    expect(anthropic.requests[0].tools?.map((t) => [t.name, t.input_schema.type])).toEqual([
      ['order_status', 'object'],
    ]);
    expect(results).toEqual([
      {
        id: 'toolu_01A',
        result: { order: 'A-1147', status: 'shipped', arrives: 'Tuesday' },
        is_error: undefined,
      },
    ]);
    const second = anthropic.requests.find((r) => r.messages.length > 1);
    expect(second?.messages.at(-2)).toMatchObject({
      role: 'assistant',
      content: expect.arrayContaining([
        expect.objectContaining({ type: 'tool_use', id: 'toolu_01A', input: { order: 'A-1147' } }),
      ]),
    });
    expect(turn?.agentText).toContain(spokenReply({ status: 'shipped', arrives: 'Tuesday' }));
    expect(anthropic.rejected).toEqual([]);
    expect(s.errors).toEqual([]);
    expect(result.history.some((m) => m.role === 'tool')).toBe(true);
  }, 120_000);

  it('google: functionCall → our tool runs → functionResponse goes back → the spoken reply uses it', async () => {
    const results: unknown[] = [];
    const script = (r: GenerateRequest): GeminiScript => {
      const parts = r.contents.at(-1)?.parts ?? [];
      const answered = parts.find((p) => 'functionResponse' in p);
      if (answered && 'functionResponse' in answered) {
        results.push(answered.functionResponse);
        // Gemini's documented convention: the function's result under `output` (errors under `error`).
        const { output } = answered.functionResponse.response as {
          output?: { status: string; arrives: string };
        };
        return output ? { text: spokenReply(output) } : { text: 'I got no output.' };
      }
      return { functionCalls: [{ id: 'fc_7', name: 'order_status', args: { order: 'A-1147' } }] };
    };
    const gemini = await FakeGeminiServer.start({ apiKey: GEMINI_KEY, script });
    cleanups.push(() => gemini.close());
    const { s, turn } = await answerWithTool('google:gemini-test', {
      GEMINI_API_KEY: GEMINI_KEY,
      GEMINI_BASE_URL: gemini.baseURL,
    });
    expect(gemini.requests[0].body.tools?.[0].functionDeclarations.map((d) => d.name)).toEqual([
      'order_status',
    ]);
    expect(results).toHaveLength(1);
    expect(results[0]).toEqual({
      id: 'fc_7',
      name: 'order_status',
      response: { output: { order: 'A-1147', status: 'shipped', arrives: 'Tuesday' } },
    });
    const second = gemini.requests.find((r) => r.body.contents.some((c) => c.role === 'model'));
    expect(second?.body.contents.at(-2)).toEqual({
      role: 'model',
      parts: [{ functionCall: { id: 'fc_7', name: 'order_status', args: { order: 'A-1147' } } }],
    });
    expect(turn?.agentText).toBe(spokenReply({ status: 'shipped', arrives: 'Tuesday' }));
    expect(gemini.rejected).toEqual([]);
    expect(s.errors).toEqual([]);
  }, 120_000);
});
