import { describe, expect, it } from 'vitest';
import { type PlaybackReceipt, ReceiptPlayer } from './player.ts';

function setup() {
  let now = 1000;
  const sent: (PlaybackReceipt & { at: number })[] = [];
  const player = new ReceiptPlayer({ now: () => now, send: (r) => sent.push({ ...r, at: now }) });
  const chunk = (ms: number) => player.audio((ms * 16_000 * 2) / 1000);
  const advance = (ms: number) => {
    now += ms;
    player.tick(now);
  };
  return { player, sent, chunk, advance, at: () => now };
}

describe('ReceiptPlayer', () => {
  it('sends started on the first audio of a playout and finished when its buffer runs dry', () => {
    const { player, sent, chunk, advance } = setup();
    player.speech(3);
    advance(50);
    expect(sent).toEqual([]);
    chunk(20);
    chunk(20);
    chunk(20);
    expect(sent).toEqual([{ type: 'playback', speechId: 3, event: 'started', at: 1050 }]);
    advance(40);
    chunk(20); // arrives while 20 ms are still queued: no gap
    advance(30);
    expect(sent).toHaveLength(1);
    advance(10);
    expect(sent[1]).toEqual({ type: 'playback', speechId: 3, event: 'finished', playedMs: 80, at: 1130 });
    // Audio after a dry buffer (a slow TTS) plays on and is reported again.
    chunk(20);
    advance(20);
    expect(sent[2]).toMatchObject({ event: 'finished', playedMs: 100 });
    advance(100);
    expect(sent).toHaveLength(3);
  });

  it('on clear stops at once, reports what was heard of this playout, and drops audio until the next speech', () => {
    const { player, sent, chunk, advance } = setup();
    player.speech(4);
    for (let i = 0; i < 5; i++) chunk(20); // 100 ms queued at once
    advance(30);
    player.clear(4);
    expect(sent.at(-1)).toEqual({ type: 'playback', speechId: 4, event: 'stopped', playedMs: 30, at: 1030 });
    chunk(20);
    expect(player.droppedAfterClearMs).toBe(20);
    advance(200);
    expect(sent.map((r) => r.event)).toEqual(['started', 'stopped']);
    // The same speech resumes (a false interruption): a new playout, counted from zero.
    player.speech(4);
    chunk(20);
    advance(10);
    player.clear();
    expect(sent.slice(2)).toEqual([
      { type: 'playback', speechId: 4, event: 'started', at: 1230 },
      { type: 'playback', speechId: 4, event: 'stopped', playedMs: 10, at: 1240 },
    ]);
  });

  it('ignores a clear for another speech', () => {
    const { player, sent, chunk } = setup();
    player.speech(5);
    chunk(20);
    player.clear(4);
    expect(sent.map((r) => r.event)).toEqual(['started']);
  });
});
