import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../metrics/clock.ts';
import { FixedTurnDetector } from '../providers/turn/fixed.ts';
import { DEFAULT_ENDPOINTING } from './options.ts';
import { type CommittedTurn, TurnTracker } from './turn-tracker.ts';

/** A local STT behind on a loaded machine: its final comes seconds after the end of speech. */
function harness(options: { busy?: () => boolean; replyHeard?: boolean } = {}) {
  const clock = new VirtualClock();
  const commits: CommittedTurn[] = [];
  const promoted: string[] = [];
  const endpointing = { ...DEFAULT_ENDPOINTING, adaptToUser: false };
  const tracker = new TurnTracker(
    clock,
    endpointing,
    new FixedTurnDetector(1),
    () => [],
    {
      onCandidate: () => {},
      onCommit: (turn) => commits.push(turn),
      onNoise: () => {},
      onInterimPromoted: (text) => promoted.push(text),
      onResumeAfterCommit: () => options.replyHeard !== true,
    },
    { sttBusy: options.busy },
  );
  const speak = async () => {
    tracker.speechStarted(0);
    await clock.advanceTo(600);
    tracker.interimReceived({ text: 'he was not an', startMs: 0, endMs: 600 });
    await clock.advanceTo(2000);
    tracker.speechEnded(2000);
  };
  const full = { text: 'he was not an ill disposed young man', startMs: 0, endMs: 2300 };
  return { clock, commits, promoted, tracker, speak, full, endpointing };
}

describe('the wait for a late final', () => {
  it('waits on while the STT is still decoding, and commits the settled words once', async () => {
    let busy = true;
    const { clock, commits, promoted, tracker, speak, full, endpointing } = harness({ busy: () => busy });
    await speak();
    await clock.advanceTo(2000 + endpointing.finalTranscriptTimeoutMs + 2000); // 2 s past the timeout
    expect(promoted).toEqual([]);
    expect(commits).toEqual([]);
    busy = false;
    tracker.finalReceived(full);
    await clock.advanceTo(12_000);
    expect(commits.map((c) => c.transcript)).toEqual([full.text]);
  });

  it('gives up on an STT that stays busy, after its cap', async () => {
    const { clock, commits, promoted, speak, endpointing } = harness({ busy: () => true });
    await speak();
    await clock.advanceTo(2000 + endpointing.finalTranscriptTimeoutMs + 5000);
    expect(promoted).toEqual([]);
    await clock.advanceTo(20_000);
    expect(promoted).toEqual(['he was not an']);
    expect(commits.map((c) => c.transcript)).toEqual(['he was not an']);
  });

  it('a final arriving after a commit on its interim re-commits the turn while its reply is unheard', async () => {
    const { clock, commits, tracker, speak, full } = harness();
    await speak();
    await clock.advanceTo(8000);
    expect(commits.map((c) => c.transcript)).toEqual(['he was not an']);
    tracker.finalReceived(full);
    await clock.advanceTo(12_000);
    expect(commits.map((c) => c.transcript)).toEqual(['he was not an', full.text]);
    expect(commits[1].resumeMerges).toBe(1);
  });

  it('once the reply was heard, that late final is not a new turn', async () => {
    const { clock, commits, tracker, speak, full } = harness({ replyHeard: true });
    await speak();
    await clock.advanceTo(8000);
    tracker.finalReceived(full);
    await clock.advanceTo(12_000);
    expect(commits.map((c) => c.transcript)).toEqual(['he was not an']);
    // New speech after it is a turn of its own, as always.
    tracker.speechStarted(12_000);
    await clock.advanceTo(12_800);
    tracker.speechEnded(12_800);
    tracker.finalReceived({ text: 'thank you', startMs: 12_000, endMs: 12_800 });
    await clock.advanceTo(16_000);
    expect(commits.map((c) => c.transcript)).toEqual(['he was not an', 'thank you']);
  });
});
