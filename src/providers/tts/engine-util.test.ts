import { describe, expect, it } from 'vitest';
import { raceAbort, SerialQueue, toLatin1Text } from './engine-util.ts';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SerialQueue', () => {
  it('runs jobs one at a time in order', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    const job = (name: string) => async () => {
      log.push(`${name}+`);
      await tick(5);
      log.push(`${name}-`);
      return name;
    };
    expect(await Promise.all([queue.run(job('a')), queue.run(job('b'))])).toEqual(['a', 'b']);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-']);
  });

  it('drops a waiting job whose signal aborts, without blocking the next', async () => {
    const queue = new SerialQueue();
    const controller = new AbortController();
    const ran: string[] = [];
    const first = queue.run(async () => {
      await tick(10);
      ran.push('first');
    });
    const skipped = queue.run(async () => void ran.push('skipped'), controller.signal);
    controller.abort();
    await expect(skipped).rejects.toThrow();
    await first;
    await queue.run(async () => void ran.push('third'));
    expect(ran).toEqual(['first', 'third']);
  });

  it('survives a failing job', async () => {
    const queue = new SerialQueue();
    await expect(queue.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await queue.run(async () => 1)).toBe(1);
  });
});

describe('raceAbort', () => {
  it('rejects on abort without waiting for the work', async () => {
    const controller = new AbortController();
    const pending = raceAbort(tick(1000), controller.signal);
    controller.abort();
    await expect(pending).rejects.toThrow();
  });
});

describe('toLatin1Text', () => {
  it('turns typographic punctuation into ASCII and drops what 8-bit engines cannot say', () => {
    expect(toLatin1Text('It\u2019s \u201cfine\u201d \u2014 really\u2026 \ud83d\ude00 caf\u00e9')).toBe(
      'It\'s "fine" ,  really... caf\u00e9'.replace(/\s+/g, ' '),
    );
  });
});
