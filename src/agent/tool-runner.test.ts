import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { VirtualClock } from '../metrics/clock.ts';
import { defineTool, type Tool } from '../tools/tool.ts';
import { isCancelRequest, ToolRunner } from './tool-runner.ts';

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
