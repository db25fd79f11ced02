import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../metrics/clock.ts';
import { FixedTurnDetector } from '../providers/turn/fixed.ts';
import {
  type AudioProgress,
  DEFAULT_HEARD_SILENCE_BOUNDS,
  shouldAwaitHeardSilence,
} from './heard-silence.ts';
import { DEFAULT_ENDPOINTING } from './options.ts';
import { type CommittedTurn, TurnTracker } from './turn-tracker.ts';

describe('shouldAwaitHeardSilence', () => {
  const { lateAudioGraceMs, vadBacklogCapMs } = DEFAULT_HEARD_SILENCE_BOUNDS;
  it('never waits without progress, or once the silence is judged', () => {
    expect(shouldAwaitHeardSilence(undefined, 1000, 1000)).toBe(false);
    expect(shouldAwaitHeardSilence({ receivedUntilMs: 1200, settledUntilMs: 1000 }, 1000, 1000)).toBe(false);
  });
  it('waits for a VAD backlog up to its cap, for late audio up to its grace', () => {
    const backlog = { receivedUntilMs: 1500, settledUntilMs: 600 };
    expect(shouldAwaitHeardSilence(backlog, 1000, 1000 + vadBacklogCapMs - 1)).toBe(true);
    expect(shouldAwaitHeardSilence(backlog, 1000, 1000 + vadBacklogCapMs)).toBe(false);
    const late = { receivedUntilMs: 800, settledUntilMs: 800 };
    expect(shouldAwaitHeardSilence(late, 1000, 1000 + lateAudioGraceMs - 1)).toBe(true);
    expect(shouldAwaitHeardSilence(late, 1000, 1000 + lateAudioGraceMs)).toBe(false);
  });
});

describe('TurnTracker on a VAD that lags the clock', () => {
  function harness() {
    const clock = new VirtualClock();
    const commits: CommittedTurn[] = [];
    const progress: AudioProgress = { receivedUntilMs: 0, settledUntilMs: 0 };
    const tracker = new TurnTracker(
      clock,
      { ...DEFAULT_ENDPOINTING, adaptToUser: false },
      new FixedTurnDetector(1),
      () => [],
      { onCandidate: () => {}, onCommit: (turn) => commits.push(turn), onNoise: () => {} },
      { audioProgress: () => ({ ...progress }) },
    );
    return { clock, commits, progress, tracker };
  }

  it('does not answer into a pause the user has already spoken through but the VAD has not yet judged', async () => {
    const { clock, commits, progress, tracker } = harness();
    tracker.speechStarted(0);
    await clock.advanceTo(1000);
    tracker.speechEnded(1000);
    tracker.finalReceived({ text: 'he was not an ill', startMs: 0, endMs: 1000 });
    // Audio keeps arriving in real time; the VAD, behind on a loaded machine, has judged only up to 1100 ms.
    for (let t = 1020; t <= 2500; t += 20) {
      await clock.advanceTo(t);
      progress.receivedUntilMs = t;
      progress.settledUntilMs = 1100;
    }
    expect(commits).toEqual([]); // the fixed-delay commit was due at ~1400 ms: it waits
    // The backlog reaches the resumed words (they began at 1500 ms): speech goes on, nothing was committed.
    tracker.speechStarted(1500);
    await clock.advanceTo(2900);
    tracker.speechEnded(2900);
    tracker.finalReceived({ text: 'disposed young man', startMs: 1500, endMs: 2900 });
    for (let t = 2920; t <= 6000; t += 20) {
      await clock.advanceTo(t);
      progress.receivedUntilMs = t;
      progress.settledUntilMs = t;
    }
    expect(commits.map((c) => c.transcript)).toEqual(['he was not an ill disposed young man']);
  });

  it('answers a client that stopped sending audio after a short grace', async () => {
    const { clock, commits, progress, tracker } = harness();
    tracker.speechStarted(0);
    progress.receivedUntilMs = 1100;
    progress.settledUntilMs = 1100;
    await clock.advanceTo(1000);
    tracker.speechEnded(1000);
    tracker.finalReceived({ text: 'book a table for two', startMs: 0, endMs: 1000 });
    await clock.advanceTo(10_000);
    expect(commits).toHaveLength(1);
    const late = commits[0].committedAt - (1000 + (commits[0].endpointingDelayMs ?? 0));
    expect(late).toBeGreaterThanOrEqual(DEFAULT_HEARD_SILENCE_BOUNDS.lateAudioGraceMs);
    expect(late).toBeLessThan(DEFAULT_HEARD_SILENCE_BOUNDS.lateAudioGraceMs + 40);
  });
});
