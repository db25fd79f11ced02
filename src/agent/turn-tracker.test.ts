import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../metrics/clock.ts';
import type { TurnDetector } from '../providers/turn/contract.ts';
import { FixedTurnDetector } from '../providers/turn/fixed.ts';
import { endpointingDelayMs } from './endpointing-policy.ts';
import { DEFAULT_ENDPOINTING, type EndpointingOptions } from './options.ts';
import { timeline } from './timeline.testkit.ts';
import { type CommittedTurn, TurnTracker } from './turn-tracker.ts';

function harness(detector: TurnDetector, endpointing: Partial<EndpointingOptions> = {}) {
  const clock = new VirtualClock();
  const commits: CommittedTurn[] = [];
  const detectorErrors: unknown[] = [];
  const options = { ...DEFAULT_ENDPOINTING, ...endpointing };
  const tracker = new TurnTracker(clock, options, detector, () => [], {
    onCandidate: () => {},
    onCommit: (turn) => commits.push(turn),
    onNoise: () => {},
    onDetectorError: (error) => detectorErrors.push(error),
  });
  const at = async (ms: number, action: () => void) => {
    await clock.advanceTo(ms);
    action();
  };
  const word = (text: string, startMs: number, endMs: number) => ({ text, startMs, endMs });
  return { clock, tracker, commits, detectorErrors, options, at, word };
}

describe('TurnTracker', () => {
  it("does not repeat words when the first part's final arrives after the user resumed", async () => {
    // "in his power | to do for": the final of the first part lands while the user is already speaking again.
    // Before the fix, the first part's final-transcript timeout was still armed, fired mid-speech and promoted
    // the second part's interim, whose final then came in as well: "in his power to do for to do for".
    const { tracker, commits, at, word, clock } = harness(new FixedTurnDetector(0.95));
    await at(0, () => tracker.speechStarted(0));
    await at(600, () => tracker.interimReceived(word('in his power', 0, 900)));
    await at(1000, () => tracker.speechEnded(1000));
    await at(1700, () => tracker.speechStarted(1700)); // a 700 ms pause, then more words
    await at(1800, () => tracker.finalReceived(word('in his power', 0, 1000)));
    await at(2600, () => tracker.interimReceived(word('to do for', 1700, 2600)));
    // 3000 ms: where the first part's 2 s final timeout would fire, mid-speech
    await at(3400, () => tracker.speechEnded(3400));
    await at(3500, () => tracker.finalReceived(word('to do for', 1700, 3400)));
    await clock.advanceTo(8000);
    expect(commits.map((c) => c.transcript)).toEqual(['in his power to do for']);
  });

  it('an STT that never settles: its last interim stands in for the final, and listeners are told', async () => {
    const clock = new VirtualClock();
    const commits: CommittedTurn[] = [];
    const promoted: string[] = [];
    const options = { ...DEFAULT_ENDPOINTING };
    const tracker = new TurnTracker(clock, options, new FixedTurnDetector(1), () => [], {
      onCandidate: () => {},
      onCommit: (turn) => commits.push(turn),
      onNoise: () => {},
      onInterimPromoted: (text) => promoted.push(text),
    });
    tracker.speechStarted(0);
    await clock.advanceTo(500);
    tracker.interimReceived({ text: 'book a table', startMs: 0, endMs: 500 });
    await clock.advanceTo(800);
    tracker.speechEnded(800);
    await clock.advanceTo(800 + options.finalTranscriptTimeoutMs - 1);
    expect(promoted).toEqual([]);
    await clock.advanceTo(800 + options.finalTranscriptTimeoutMs + options.maxDelayMs + 1);
    expect(promoted).toEqual(['book a table']);
    expect(commits.map((c) => c.transcript)).toEqual(['book a table']);
  });

  it('a late final of an earlier stretch does not commit the turn before the latest final', async () => {
    const { tracker, commits, at, word, clock } = harness(new FixedTurnDetector(1));
    await at(0, () => tracker.speechStarted(0));
    await at(800, () => tracker.speechEnded(800));
    await at(1200, () => tracker.speechStarted(1200));
    await at(1800, () => tracker.speechEnded(1800));
    await at(1850, () => tracker.finalReceived(word('my order number is', 0, 800)));
    await clock.advanceTo(2600); // past 1800 + min delay: the turn must still wait for the second final
    expect(commits).toEqual([]);
    await at(2700, () => tracker.finalReceived(word('four two', 1200, 1800)));
    await clock.advanceTo(6000);
    expect(commits.map((c) => c.transcript)).toEqual(['my order number is four two']);
  });

  it("waits the policy delay for the detector's probability, from the last voiced audio", async () => {
    for (const p of [1, 0.6, 0.2, 0]) {
      const { tracker, commits, at, word, clock, options } = harness(new FixedTurnDetector(p));
      await at(0, () => tracker.speechStarted(0));
      await at(1000, () => tracker.speechEnded(1000));
      await at(1100, () => tracker.finalReceived(word('hello there', 0, 1000)));
      await clock.advanceTo(5000);
      expect(commits).toHaveLength(1);
      const expected = endpointingDelayMs(p, options);
      expect(commits[0].committedAt - 1000).toBe(expected);
      expect(commits[0].endpointingDelayMs).toBe(expected);
      expect(commits[0].endOfTurnProbability).toBe(p);
    }
  });

  it('a detector that never answers cannot hold the turn past maxDelayMs', async () => {
    const hanging: TurnDetector = { name: 'hang', endOfTurnProbability: () => new Promise<number>(() => {}) };
    const { tracker, commits, at, word, clock } = harness(hanging, { maxDelayMs: 1800 });
    await at(0, () => tracker.speechStarted(0));
    await at(1000, () => tracker.speechEnded(1000));
    await at(1100, () => tracker.finalReceived(word('so anyway', 0, 1000)));
    await clock.advanceTo(10_000);
    expect(commits).toHaveLength(1);
    expect(commits[0].committedAt).toBe(2800);
    expect(commits[0].endOfTurnProbability).toBeUndefined();
  });

  it('a detector that throws, rejects or returns garbage never throws into the session', async () => {
    const broken: TurnDetector[] = [
      {
        name: 'throws',
        endOfTurnProbability: () => {
          throw new Error('boom');
        },
      },
      { name: 'rejects', endOfTurnProbability: () => Promise.reject(new Error('late boom')) },
      { name: 'nan', endOfTurnProbability: () => Number.NaN },
      {
        name: 'explains badly',
        endOfTurnProbability: () => 1,
        explain: () => Promise.reject(new Error('x')),
      },
    ];
    for (const detector of broken) {
      const { tracker, commits, at, word, clock, detectorErrors, options } = harness(detector);
      await at(0, () => tracker.speechStarted(0));
      await at(1000, () => tracker.speechEnded(1000));
      await at(1100, () => tracker.finalReceived(word('book a table for two', 0, 1000)));
      await clock.advanceTo(10_000);
      expect(commits, detector.name).toHaveLength(1);
      expect(detectorErrors, detector.name).toHaveLength(1);
      // the word list decided instead: "two" is no continuation word, so well before the max delay
      expect(commits[0].committedAt - 1000).toBeLessThan(options.maxDelayMs);
    }
  });

  it('a slow detector that answers late still shortens the wait when it can', async () => {
    const clockRef: { clock?: VirtualClock } = {};
    const slow: TurnDetector = {
      name: 'slow',
      endOfTurnProbability: () => clockRef.clock!.sleep(300).then(() => 1),
    };
    const { tracker, commits, at, word, clock, options } = harness(slow);
    clockRef.clock = clock;
    await at(0, () => tracker.speechStarted(0));
    await at(1000, () => tracker.speechEnded(1000));
    await at(1100, () => tracker.finalReceived(word('thank you', 0, 1000)));
    await clock.advanceTo(6000);
    expect(commits[0].committedAt).toBe(1000 + Math.max(options.minDelayMs, 400));
  });

  it("learns this user's pauses: after being cut off at long pauses, a doubtful turn waits longer", async () => {
    // A steep curve (816 ms at p = 0.5) so that 1100 ms pauses are taken for ends: three cut-offs.
    const { tracker, commits, at, word, clock, options } = harness(new FixedTurnDetector(0.5), {
      minDelayMs: 400,
      maxDelayMs: 2500,
      shape: 2,
      confidentAbove: 0.9,
    });
    const baseline = endpointingDelayMs(0.5, options);
    let t = 0;
    await at(t, () => tracker.speechStarted(t));
    for (let i = 0; i < 3; i++) {
      t += 800;
      await at(t, () => tracker.speechEnded(t));
      const end = t;
      await at(t + 100, () => tracker.finalReceived(word(`part ${i}`, end - 800, end)));
      t += 1100;
      await at(t, () => tracker.speechStarted(t));
    }
    expect(tracker.userPauses.count).toBe(3);
    t += 800;
    await at(t, () => tracker.speechEnded(t));
    const end = t;
    await at(t + 100, () => tracker.finalReceived(word('and the end', end - 800, end)));
    await clock.advanceTo(t + 5000);
    expect(commits).toHaveLength(4);
    expect(commits[0].committedAt - 800).toBe(baseline);
    const waited = commits[3].committedAt - end;
    expect(waited).toBeGreaterThan(baseline);
    expect(waited).toBeLessThanOrEqual(options.maxDelayMs);
  });
  it("a cloud STT's endpointing signal is an input: it moves the decision, it does not commit by itself", async () => {
    const sttAware: TurnDetector = {
      name: 'stt-aware',
      endOfTurnProbability: ({ stt }) => (stt?.endpointed ? 1 : 0.2),
    };
    const { tracker, commits, at, word, clock, options } = harness(sttAware);
    await at(0, () => tracker.speechStarted(0));
    await at(1000, () => tracker.speechEnded(1000));
    await at(1050, () => tracker.finalReceived(word('maybe on friday', 0, 1000)));
    await at(1300, () => tracker.sttTurnSignal({ endpointed: true, source: 'deepgram' }));
    expect(commits).toEqual([]); // not at once: the policy's delay for the new probability still applies
    await clock.advanceTo(6000);
    expect(commits).toHaveLength(1);
    expect(commits[0].committedAt).toBe(1000 + endpointingDelayMs(1, options));
    expect(commits[0].endOfTurnProbability).toBe(1);
  });
});

describe('TurnTracker: speech resumed right at a commit', () => {
  /** Part 1 committed at 1400 ms (sure detector: 400 ms after its end), then speech placed at `vadAtMs`. */
  async function resumeAt(vadAtMs: number, lookBackMs: number, answer: () => boolean) {
    const clock = new VirtualClock();
    const commits: CommittedTurn[] = [];
    const asked: number[] = [];
    const tracker = new TurnTracker(clock, DEFAULT_ENDPOINTING, new FixedTurnDetector(1), () => [], {
      onCandidate: () => {},
      onCommit: (turn) => commits.push(turn),
      onNoise: () => {},
      onResumeAfterCommit: (_turn, onsetMs) => {
        asked.push(onsetMs);
        return answer();
      },
    });
    const step = async (ms: number, action: () => void) => {
      await clock.advanceTo(ms);
      action();
    };
    await step(0, () => tracker.speechStarted(0));
    await step(1000, () => tracker.speechEnded(1000));
    await step(1050, () => tracker.finalReceived({ text: 'book a table', startMs: 0, endMs: 1000 }));
    await step(vadAtMs + 64, () => tracker.speechStarted(vadAtMs, lookBackMs));
    await step(vadAtMs + 800, () => tracker.speechEnded(vadAtMs + 800));
    const end = vadAtMs + 800;
    await step(end + 50, () => tracker.finalReceived({ text: 'for two', startMs: vadAtMs, endMs: end }));
    await clock.advanceTo(end + 5000);
    return { commits, asked };
  }

  it('taken back: the turn goes on and commits once more with the whole transcript', async () => {
    // Placed at 1440 ms with 100 ms of look-back: the user really began at 1340, before the commit.
    const { commits, asked } = await resumeAt(1440, 100, () => true);
    expect(asked).toEqual([1340]);
    expect(commits.map((c) => c.transcript)).toEqual(['book a table', 'book a table for two']);
    expect(commits[0].committedAt).toBe(1400);
    expect(commits[1]).toMatchObject({ speechStartAt: 0, resumeMerges: 1 });
    expect(commits[0].resumeMerges).toBeUndefined();
  });

  it('refused or throwing: the commit stands and the new speech is a turn of its own', async () => {
    const refused = await resumeAt(1440, 100, () => false);
    const thrown = await resumeAt(1440, 100, () => {
      throw new Error('listener fault');
    });
    for (const { commits } of [refused, thrown]) {
      expect(commits.map((c) => c.transcript)).toEqual(['book a table', 'for two']);
      expect(commits[1].resumeMerges).toBeUndefined();
    }
  });

  it('speech that began past the grace is not offered for a merge', async () => {
    const grace = DEFAULT_ENDPOINTING.resumeMergeGraceMs;
    const { commits, asked } = await resumeAt(1400 + grace + 1 + 100, 100, () => true);
    expect(asked).toEqual([]);
    expect(commits).toHaveLength(2);
    const { asked: atGrace } = await resumeAt(1400 + grace + 100, 100, () => true);
    expect(atGrace).toEqual([1400 + grace]);
  });
});

describe('a broken turn detector inside a real session', () => {
  const hanging: TurnDetector = { name: 'hang', endOfTurnProbability: () => new Promise<number>(() => {}) };
  const throwing: TurnDetector = {
    name: 'throws',
    endOfTurnProbability: () => {
      throw new Error('detector exploded');
    },
  };

  it('a hanging detector: the turn commits at maxDelayMs and the agent answers', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'book me a table' }],
      reply: () => 'Done.',
      session: { turnDetector: hanging, endpointing: { maxDelayMs: 1200 } },
    });
    await t.start();
    await t.runUntil(6000);
    const commits = t.log.filter((e) => e.event === 'turnCommitted');
    expect(commits).toHaveLength(1);
    expect(t.metrics[0].eouDelayMs).toBe(1200);
    expect(t.metrics[0].outcome).toBe('completed');
    expect(t.errors).toEqual([]);
  });

  it('a throwing detector: reported as a turn error, the word list decides, the session goes on', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'book me a table' },
        { startMs: 5000, endMs: 6000, text: 'thank you' },
      ],
      reply: () => 'Done.',
      session: { turnDetector: throwing },
    });
    await t.start();
    await t.runUntil(12_000);
    expect(t.log.filter((e) => e.event === 'turnCommitted')).toHaveLength(2);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['completed', 'completed']);
    expect(t.errors.map((e) => e.source)).toEqual(['turn', 'turn']);
    expect(t.errors[0].error.message).toMatch(/exploded/);
    for (const m of t.metrics) expect(m.eouDelayMs).toBeLessThan(DEFAULT_ENDPOINTING.maxDelayMs);
  });
});
