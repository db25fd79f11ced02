import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { VirtualClock } from '../metrics/clock.ts';
import { defineTool, type Tool } from '../tools/tool.ts';
import { capToolResult, DEFAULT_MAX_TOOL_RESULT_CHARS, isCancelRequest, ToolRunner } from './tool-runner.ts';

const call = (name: string, args: unknown = {}) => ({ id: 'c', name, arguments: JSON.stringify(args) });

function waiter(clock: VirtualClock, ms: number, log: string[]) {
  return defineTool({
    name: 'wait',
    description: 'Waits',
    parameters: z.object({}),
    execute: async (_args, { signal }) => {
      try {
        await clock.sleep(ms, signal);
      } catch (error) {
        log.push(`aborted at ${clock.now()}`);
        throw error;
      }
      return 'waited';
    },
  });
}

describe('ToolRunner', () => {
  it('reads tool sources on every use, so a changed list is seen at once', () => {
    let tools: Tool[] = [];
    const runner = new ToolRunner([{ tools: () => tools }]);
    expect(runner.size).toBe(0);
    tools = [defineTool({ name: 'a', description: 'A', parameters: z.object({}), execute: async () => 'a' })];
    expect(runner.schemas.map((s) => s.name)).toEqual(['a']);
  });

  it('a tool that arrives with a JSON Schema is described by it', () => {
    const jsonSchema = { type: 'object', properties: { q: { type: 'string' } } };
    const runner = new ToolRunner([
      { name: 't', description: 'T', parameters: z.any(), jsonSchema, execute: async () => '' },
    ]);
    expect(runner.schemas[0].parameters).toBe(jsonSchema);
  });

  it('supervise: done, slow notice, timeout, and cancellation by the caller', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const runner = new ToolRunner([waiter(clock, 1000, log)]);
    const limits = {
      clock,
      timeoutMs: 3000,
      slowAfterMs: 500,
      onSlow: () => log.push(`slow at ${clock.now()}`),
    };

    const done = runner.supervise(call('wait'), new AbortController().signal, limits);
    await clock.advance(1000);
    expect(await done).toEqual({ status: 'done', result: { content: 'waited', isError: false } });
    expect(log).toEqual(['slow at 500']);

    log.length = 0;
    const fast = new ToolRunner([waiter(clock, 100, log)]);
    const quick = fast.supervise(call('wait'), new AbortController().signal, limits);
    await clock.advance(1000);
    expect((await quick).status).toBe('done');
    expect(log).toEqual([]); // finished before the threshold: no status line
    expect(clock.pendingTimers).toBe(0);

    const slowRunner = new ToolRunner([waiter(clock, 10_000, log)]);
    const timedOut = slowRunner.supervise(call('wait'), new AbortController().signal, limits);
    await clock.advance(3000);
    expect(await timedOut).toEqual({
      status: 'timeout',
      result: { content: 'Error: wait did not finish within 3000 ms and was cancelled', isError: true },
    });
    expect(log.at(-1)).toBe(`aborted at ${clock.now()}`);

    const controller = new AbortController();
    const cancelled = slowRunner.supervise(call('wait'), controller.signal, limits);
    await clock.advance(200);
    controller.abort(new Error('user'));
    expect((await cancelled).status).toBe('cancelled');
    expect(clock.pendingTimers).toBe(0);
  });

  it('supervise ends a call that ignores its signal at the deadline', async () => {
    const clock = new VirtualClock();
    const runner = new ToolRunner([
      defineTool({
        name: 'deaf',
        description: 'D',
        parameters: z.object({}),
        execute: () => new Promise(() => {}),
      }),
    ]);
    const outcome = runner.supervise(call('deaf'), new AbortController().signal, {
      clock,
      timeoutMs: 2000,
      slowAfterMs: 10_000,
      onSlow: () => {},
    });
    await clock.advance(2000);
    expect((await outcome).status).toBe('timeout');
  });
});

describe('ToolRunner result size', () => {
  const big = (size: number) =>
    defineTool({
      name: 'docs_read',
      description: 'Reads a document',
      parameters: z.object({}),
      execute: async () => 'x'.repeat(size),
    });

  it('cuts a huge result to 16,000 characters with a marker that says so', async () => {
    const runner = new ToolRunner([big(1_048_576)]);
    const result = await runner.run(call('docs_read'), new AbortController().signal);
    expect(DEFAULT_MAX_TOOL_RESULT_CHARS).toBe(16_000);
    expect(result.isError).toBe(false);
    expect(result.content.startsWith('x'.repeat(16_000))).toBe(true);
    expect(result.content.endsWith('\n…[truncated: 1048576 characters, showing the first 16000]')).toBe(true);
    expect(result.content.length).toBeLessThan(16_100);
  });

  it('caps supervised calls and error messages too, and leaves short results alone', async () => {
    const clock = new VirtualClock();
    const runner = new ToolRunner(
      [
        big(500),
        defineTool({
          name: 'loud',
          description: 'Fails loudly',
          parameters: z.object({}),
          execute: async () => {
            throw new Error('e'.repeat(1000));
          },
        }),
        defineTool({
          name: 'small',
          description: 'S',
          parameters: z.object({}),
          execute: async () => ({ a: 1 }),
        }),
      ],
      { maxResultChars: 100 },
    );
    const options = { clock, timeoutMs: 1000, slowAfterMs: 500, onSlow: () => {} };
    const signal = new AbortController().signal;
    const supervised = await runner.supervise(call('docs_read'), signal, options);
    expect(supervised.result.content).toBe(
      `${'x'.repeat(100)}\n…[truncated: 500 characters, showing the first 100]`,
    );
    const failed = await runner.run(call('loud'), signal);
    expect(failed.isError).toBe(true);
    expect(failed.content).toMatch(
      /^Error: loud failed: e+\n…\[truncated: \d+ characters, showing the first 100\]$/,
    );
    expect((await runner.run(call('small'), signal)).content).toBe('{"a":1}');
    expect(() => new ToolRunner([], { maxResultChars: 0 })).toThrow(RangeError);
  });

  it('never splits a surrogate pair', () => {
    expect(capToolResult(`ab😀cd`, 3)).toBe('ab\n…[truncated: 6 characters, showing the first 2]');
  });
});

describe('isCancelRequest', () => {
  const phrases = ['cancel', 'stop that', 'never mind'];
  it('matches whole utterances, ignoring case and punctuation', () => {
    expect(isCancelRequest('Cancel!', phrases)).toBe(true);
    expect(isCancelRequest('  stop, that. ', phrases)).toBe(true);
    expect(isCancelRequest('Never mind', phrases)).toBe(true);
    expect(isCancelRequest('cancel my subscription', phrases)).toBe(false);
    expect(isCancelRequest('', phrases)).toBe(false);
  });
});
