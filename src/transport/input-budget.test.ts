import { describe, expect, it } from 'vitest';
import { InputBudget } from './input-budget.ts';

function budget() {
  let now = 0;
  const b = new InputBudget(() => now, {
    maxAudioAheadMs: 2000,
    initialAudioAllowanceMs: 6000,
    maxDiscardedAudioMs: 5000,
  });
  return { b, advance: (ms: number) => (now += ms) };
}

const frames = (b: InputBudget, n: number) => Array.from({ length: n }, () => b.audio(20).kind);

describe('InputBudget', () => {
  it('real-time audio passes forever', () => {
    const { b, advance } = budget();
    for (let i = 0; i < 10_000; i++) {
      advance(20);
      expect(b.audio(20).kind).toBe('accept');
    }
  });

  it('the start-up hold (5 s at once) passes, once; afterwards the bucket holds 2 s', () => {
    const { b, advance } = budget();
    expect(frames(b, 250).every((k) => k === 'accept')).toBe(true);
    advance(60_000); // a long silence refills only to the steady 2 s
    const burst = frames(b, 150); // 3 s at once
    expect(burst.filter((k) => k === 'accept')).toHaveLength(100);
    expect(burst.slice(100).every((k) => k === 'discard')).toBe(true);
    expect(b.discardedAudioMs).toBe(1000);
  });

  it('a sender that keeps over real time has the excess discarded, then is dropped with a reason', () => {
    const { b, advance } = budget();
    let verdicts: string[] = [];
    let reason: string | undefined;
    // 150x real time: 150 frames per 20 ms.
    for (let tick = 0; tick < 100 && !reason; tick++) {
      advance(20);
      for (let i = 0; i < 150; i++) {
        const verdict = b.audio(20);
        verdicts.push(verdict.kind);
        if (verdict.kind === 'drop') {
          reason = verdict.reason;
          break;
        }
      }
    }
    expect(reason).toMatch(/faster than real time \(5020 ms over the budget\)/);
    verdicts = verdicts.filter((k) => k === 'accept');
    expect(verdicts.length * 20).toBeLessThanOrEqual(6000 + 200);
  });

  it('after endStartup the bucket holds at most the steady 2 s', () => {
    const { b } = budget();
    b.endStartup();
    const burst = frames(b, 150);
    expect(burst.filter((k) => k === 'accept')).toHaveLength(100);
  });

  it('discards are forgiven once the client is back under real time', () => {
    const { b, advance } = budget();
    frames(b, 300 + 200); // 6 s allowance spent, 4 s discarded
    expect(b.discardedAudioMs).toBe(4000);
    advance(2000); // the bucket is full again
    expect(b.audio(20).kind).toBe('accept');
    expect(b.discardedAudioMs).toBe(0);
  });

  it('more messages than the rate allows are refused', () => {
    let now = 0;
    const b = new InputBudget(() => now, { maxMessagesPerSecond: 100, maxMessageBurst: 10 });
    for (let i = 0; i < 10; i++) expect(b.message()).toBeUndefined();
    expect(b.message()).toMatch(/more than 100 messages per second/);
    now += 1000;
    expect(b.message()).toBeUndefined();
  });

  it('rejects nonsense options', () => {
    expect(() => new InputBudget(() => 0, { maxAudioAheadMs: 0 })).toThrow(/maxAudioAheadMs must be > 0/);
  });
});
