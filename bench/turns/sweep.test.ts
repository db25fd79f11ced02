import { describe, expect, it } from 'vitest';
import { FixedTurnDetector } from '../../src/providers/turn/fixed.ts';
import { loadSplit, parseJsonl, SPLITS } from './dataset.ts';
import { parseSource } from './dataset-source.ts';
import {
  cutoffAtWait,
  evaluatePolicy,
  type OperatingPoint,
  paretoFront,
  type ScoredTurn,
  tradeOff,
  waitAtCutoff,
} from './sweep.ts';
import { scoreTranscripts } from './transcript-level.ts';

const point = (meanWaitMs: number, cutoffRate: number): OperatingPoint => ({
  policy: { minDelayMs: 0, maxDelayMs: 0, shape: 1, confidentAbove: 1 },
  meanWaitMs,
  cutoffRate,
});

describe('turn benchmark scoring', () => {
  it('cuts a hold off only when the commit comes before the user resumes, and waits the delay at the end', () => {
    const turns: ScoredTurn[] = [
      {
        id: 'a',
        category: 'x',
        holds: [{ probability: 1, gapMs: 500, readyMs: 0 }],
        end: { probability: 1, readyMs: 0 },
      },
      {
        id: 'b',
        category: 'x',
        holds: [{ probability: 0, gapMs: 500, readyMs: 0 }],
        end: { probability: 1, readyMs: 700 },
      },
      { id: 'c', category: 'x', holds: [], end: { probability: 0, readyMs: 0 } },
    ];
    // p = 1 waits min (300 < 500: cut); p = 0 waits max (900 > 500: held); a late verdict delays the end.
    const result = evaluatePolicy(turns, { minDelayMs: 300, maxDelayMs: 900, shape: 1, confidentAbove: 1 });
    expect(result.cutoffRate).toBeCloseTo(1 / 3);
    expect(result.meanWaitMs).toBeCloseTo((300 + 700 + 900) / 3);
  });

  it('replays the session rule: a pending verdict replaced before its delay ran out, and the max-delay safety net', () => {
    const policy = { minDelayMs: 300, maxDelayMs: 900, shape: 1, confidentAbove: 1 };
    const replaced: ScoredTurn = {
      id: 'r',
      category: 'x',
      // a sure verdict at 350 ms would commit at 350, but a new final replaced it at 340: the unsure one stands
      holds: [
        {
          probability: 0,
          gapMs: 800,
          readyMs: 400,
          earlier: [{ probability: 1, readyMs: 350, replacedAtMs: 340 }],
        },
      ],
      end: { probability: 1, readyMs: 5000, askedMs: 0 },
    };
    const result = evaluatePolicy([replaced], policy);
    expect(result.cutoffRate).toBe(0);
    expect(result.meanWaitMs).toBe(900); // the slow verdict never came in time: committed at the max delay
    replaced.holds[0].earlier = [{ probability: 1, readyMs: 350, replacedAtMs: 600 }];
    expect(evaluatePolicy([replaced], policy).cutoffRate).toBe(1);
  });

  it('keeps only undominated points and interpolates along them', () => {
    const front = paretoFront([
      point(200, 0.5),
      point(400, 0.1),
      point(300, 0.6),
      point(600, 0.0),
      point(500, 0.2),
    ]);
    expect(front.map((p) => p.meanWaitMs)).toEqual([200, 400, 600]);
    expect(cutoffAtWait(front, 300)).toBeCloseTo(0.3);
    expect(cutoffAtWait(front, 100)).toBeUndefined();
    expect(cutoffAtWait(front, 900)).toBe(0);
    expect(waitAtCutoff(front, 0.05)).toBeCloseTo(500);
    expect(waitAtCutoff(front, 0.5)).toBe(200);
  });

  it('gives the fixed-delay baseline the wait at which no labelled pause is longer', async () => {
    const turns = parseSource('## t\nfirst part / second part /1200/ third\none word\n', 'unit');
    expect(turns[0].pauses[1]).toBe(1200);
    const { scored, cost } = await scoreTranscripts(new FixedTurnDetector(0.5), turns);
    expect(cost.calls).toBe(4);
    const result = tradeOff(scored);
    expect(waitAtCutoff(result.front, 0)).toBeGreaterThanOrEqual(1200);
    expect(waitAtCutoff(result.front, 0)).toBeLessThan(1400);
  });

  it('ships both splits, valid, disjoint in wording and large enough', () => {
    const dev = loadSplit('dev');
    const heldout = loadSplit('heldout');
    expect(SPLITS).toEqual(['dev', 'heldout']);
    expect(dev.length).toBeGreaterThanOrEqual(200);
    expect(heldout.length).toBeGreaterThanOrEqual(100);
    const devTexts = new Set(dev.map((t) => t.segments.join(' ')));
    expect(heldout.filter((t) => devTexts.has(t.segments.join(' '))).length).toBeLessThan(5);
    expect(new Set(heldout.map((t) => t.category))).toEqual(new Set(dev.map((t) => t.category)));
  });

  it('rejects a malformed line with its position', () => {
    expect(() => parseJsonl('{"id":"a","category":"c","segments":["x","y"],"pauses":[]}\n', 'f')).toThrow(
      /f:1: 2 segments need 1 pauses/,
    );
  });
});
