import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { call, closeOpen, live, setUp } from './mcp-client.testkit.ts';

afterEach(closeOpen);

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
