import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../metrics/clock.ts';
import type { LlmChunk } from './contract.ts';
import { SimulatedLlm } from './simulated.ts';

async function collect(
  iterable: AsyncIterable<LlmChunk>,
  clock: VirtualClock,
  log: { at: number; c: LlmChunk }[],
) {
  for await (const c of iterable) log.push({ at: clock.now(), c });
}

describe('SimulatedLlm', () => {
  it('answers with a canned reply after the drawn TTFT, then at the token rate', async () => {
    const clock = new VirtualClock();
    const llm = new SimulatedLlm({
      clock,
      ttft: { minMs: 400, maxMs: 700 },
      tokensPerSecond: 50,
      replies: ['Sure thing, here you go.'],
    });
    const log: { at: number; c: LlmChunk }[] = [];
    const done = collect(
      llm.chat({
        messages: [{ role: 'user', content: 'hello there' }],
        signal: new AbortController().signal,
      }),
      clock,
      log,
    );
    await clock.advance(399);
    expect(log).toEqual([]);
    await clock.advance(2000);
    await done;
    const text = log.filter((l) => l.c.type === 'text');
    expect(text.map((l) => (l.c as { delta: string }).delta).join('')).toBe('Sure thing, here you go.');
    expect(text[0].at).toBeGreaterThanOrEqual(400);
    expect(text[0].at).toBeLessThan(700);
    expect(text[1].at - text[0].at).toBeCloseTo(20, 5);
    expect(log.at(-1)?.c).toMatchObject({ type: 'usage', completionTokens: 5 });
  });

  it('stops promptly and quietly when aborted', async () => {
    const clock = new VirtualClock();
    const llm = new SimulatedLlm({
      clock,
      ttft: 100,
      tokensPerSecond: 10,
      replies: ['one two three four five'],
    });
    const controller = new AbortController();
    const log: { at: number; c: LlmChunk }[] = [];
    const done = collect(llm.chat({ messages: [], signal: controller.signal }), clock, log);
    await clock.advance(150);
    controller.abort();
    await clock.advance(1000);
    await done;
    expect(log.map((l) => l.c.type)).toEqual(['text']);
  });

  it('refuses options it cannot honour', () => {
    expect(() => new SimulatedLlm({ ttft: 1, tokensPerSecond: 0, replies: ['x'] })).toThrow(
      /tokensPerSecond/,
    );
    expect(() => new SimulatedLlm({ ttft: 1, tokensPerSecond: 5, replies: [] })).toThrow(/replies/);
    expect(() => new SimulatedLlm({ ttft: -5, tokensPerSecond: 5, replies: ['x'] })).toThrow(/ttft/);
  });
});
