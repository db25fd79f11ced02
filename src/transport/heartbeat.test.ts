import { describe, expect, it } from 'vitest';
import { type Clock, VirtualClock } from '../metrics/clock.ts';
import { Heartbeat } from './heartbeat.ts';

function beat(clock: Clock, enforceAfterFirstAnswer = false) {
  const pings: number[] = [];
  const timeouts: number[] = [];
  const heartbeat = new Heartbeat({
    clock,
    intervalMs: 1000,
    timeoutMs: 2500,
    enforceAfterFirstAnswer,
    sendPing: (t) => pings.push(t),
    onTimeout: (silentMs) => timeouts.push(silentMs),
  });
  return { heartbeat, pings, timeouts };
}

describe('Heartbeat', () => {
  it('pings every interval; a peer heard from stays, a silent one times out once', async () => {
    const clock = new VirtualClock();
    const { heartbeat, pings, timeouts } = beat(clock);
    for (let t = 1000; t <= 5000; t += 1000) {
      await clock.advanceTo(t - 500);
      heartbeat.pong();
      await clock.advanceTo(t);
    }
    expect(pings).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(timeouts).toEqual([]);
    await clock.advanceTo(20_000); // silent from 4500
    expect(timeouts).toEqual([3500]);
    expect(pings.at(-1)).toBe(7000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('with enforceAfterFirstAnswer, a peer that never answered is never judged', async () => {
    const clock = new VirtualClock();
    const { pings, timeouts, heartbeat } = beat(clock, true);
    await clock.advanceTo(10_000);
    expect(pings).toHaveLength(10);
    expect(timeouts).toEqual([]);
    heartbeat.pong();
    await clock.advanceTo(20_000);
    expect(timeouts).toEqual([3000]);
  });

  it('a tick delayed by a stall of this process judges nobody', async () => {
    let now = 0;
    let pending: { at: number; callback: () => void } | undefined;
    const clock: Clock = {
      now: () => now,
      schedule: (ms, callback) => {
        pending = { at: now + ms, callback };
        return () => {
          pending = undefined;
        };
      },
      sleep: () => Promise.resolve(),
    };
    const { heartbeat, timeouts, pings } = beat(clock);
    heartbeat.pong();
    // The event loop was blocked for 5 s: the timer fires late, the peer's pongs are still unread.
    now = 5000;
    pending?.callback();
    expect(timeouts).toEqual([]);
    expect(pings).toEqual([5000]);
    heartbeat.stop();
    expect(pending).toBeUndefined();
  });

  it('judges a silent peer only after what is waiting to be read has been read', () => {
    let now = 0;
    let pending: { at: number; callback: () => void } | undefined;
    const clock: Clock = {
      now: () => now,
      schedule: (ms, callback) => {
        pending = { at: now + ms, callback };
        return () => {
          pending = undefined;
        };
      },
      sleep: () => Promise.resolve(),
    };
    const run = () => {
      const due = pending;
      pending = undefined;
      now = Math.max(now, due?.at ?? now);
      due?.callback();
    };
    const { heartbeat, timeouts, pings } = beat(clock);
    heartbeat.pong();
    run(); // 1000
    run(); // 2000
    run(); // 3000: silent for 3000 ms by the timer's reckoning, but its verdict waits one turn of the loop
    expect(timeouts).toEqual([]);
    expect(pending?.at).toBe(3000);
    heartbeat.pong(); // the answer that sat unread behind the timers
    run();
    expect(timeouts).toEqual([]);
    expect(pings).toEqual([1000, 2000, 3000]);
    // Really silent from here: judged at the first tick past the timeout, on the turn after it.
    while (timeouts.length === 0 && now < 10_000) run();
    expect(timeouts).toEqual([3000]);
    expect(pending).toBeUndefined();
  });

  it('with answerTimeoutMs, a peer that keeps sending but answers no ping is judged unanswered once', async () => {
    const clock = new VirtualClock();
    const unanswered: number[] = [];
    const timeouts: number[] = [];
    const heartbeat = new Heartbeat({
      clock,
      intervalMs: 1000,
      timeoutMs: 2500,
      answerTimeoutMs: 7500,
      sendPing: () => {},
      onTimeout: (silentMs) => timeouts.push(silentMs),
      onUnanswered: (ms) => unanswered.push(ms),
    });
    // Answers for a while, then only sends (heard, never a pong).
    for (let t = 500; t <= 3500; t += 1000) {
      await clock.advanceTo(t);
      heartbeat.pong();
    }
    for (let t = 4000; t <= 20_000; t += 200) {
      await clock.advanceTo(t);
      heartbeat.heard();
    }
    expect(timeouts).toEqual([]);
    expect(unanswered).toEqual([8500]); // last pong at 3500, judged at the tick of 12000
    expect(clock.pendingTimers).toBe(0);
  });
});
