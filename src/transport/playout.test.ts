import { describe, expect, it } from 'vitest';
import type { PlayoutReceipt } from '../agent/io.ts';
import type { AudioFrame } from '../audio/frame.ts';
import { VirtualClock } from '../metrics/clock.ts';
import { AsyncQueue } from '../util/async-queue.ts';
import { type AudioSink, StreamingAudioOutput } from './playout.ts';
import type { ServerMessage } from './protocol.ts';
import { PlaybackReceipts } from './receipts.ts';

const RATE = 16_000;

function setup(options: { receipts?: boolean } = {}) {
  const clock = new VirtualClock(1000);
  const sent: { samples: number; dueMs: number; atMs: number }[] = [];
  const messages: ServerMessage[] = [];
  let open = true;
  const sink: AudioSink = {
    sampleRate: RATE,
    isOpen: () => open,
    sendAudio: (samples, dueMs) => sent.push({ samples: samples.length, dueMs, atMs: clock.now() }),
  };
  const receipts = new PlaybackReceipts(clock, options.receipts ?? false);
  const output = new StreamingAudioOutput({
    clock,
    sink,
    send: (m) => messages.push(m),
    receipts,
    sendAheadMs: 80,
    receiptTimeoutMs: 1000,
    finishedGraceMs: 500,
  });
  const frames = new AsyncQueue<AudioFrame>();
  const pushMs = (ms: number, speechId = 1) => {
    for (let t = 0; t < ms; t += 20) {
      frames.push({ samples: new Int16Array(320).fill(1000), sampleRate: RATE, timestampMs: 0, speechId });
    }
  };
  const firstPlayed: number[] = [];
  const controller = new AbortController();
  let receipt: PlayoutReceipt | undefined;
  const play = () =>
    output
      .play(frames, {
        signal: controller.signal,
        speechId: 1,
        onFirstPlayed: (at) => firstPlayed.push(at),
      })
      .then((r) => {
        receipt = r;
      });
  return {
    clock,
    sent,
    messages,
    receipts,
    output,
    frames,
    pushMs,
    firstPlayed,
    controller,
    play,
    result: () => receipt,
    disconnect: () => {
      open = false;
    },
  };
}

describe('StreamingAudioOutput', () => {
  it('without receipts: paces at most sendAheadMs ahead, first played when sent, finished when played out', async () => {
    const t = setup();
    t.pushMs(400);
    t.frames.end();
    const done = t.play();
    await t.clock.advance(0);
    expect(t.messages[0]).toEqual({ type: 'speech', speechId: 1 });
    expect(t.firstPlayed).toEqual([1000]);
    for (const chunk of t.sent) expect(chunk.dueMs - chunk.atMs).toBeLessThanOrEqual(80);
    await t.clock.advance(1000);
    await done;
    expect(t.sent.length).toBe(20);
    expect(t.sent.map((c) => c.dueMs)).toEqual(Array.from({ length: 20 }, (_, i) => 1000 + 20 * i));
    expect(t.result()).toEqual({ firstPlayedAtMs: 1000, finishedAtMs: 1400, playedMs: 400 });
  });

  it('restarts the schedule after the source ran dry instead of bursting the backlog', async () => {
    const t = setup();
    t.pushMs(100);
    const done = t.play();
    await t.clock.advance(500); // the TTS stalls for 400 ms after 100 ms of audio
    t.pushMs(100);
    t.frames.end();
    await t.clock.advance(1000);
    await done;
    const resumed = t.sent[5];
    expect(resumed.dueMs).toBe(1500); // due now, not 400 ms in the past
    expect(t.sent.slice(5).every((c, i) => c.dueMs === 1500 + 20 * i)).toBe(true);
  });

  it('with receipts: first played when the `started` receipt arrives', async () => {
    const t = setup({ receipts: true });
    t.pushMs(400);
    t.frames.end();
    const done = t.play();
    await t.clock.advance(35);
    expect(t.firstPlayed).toEqual([]);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'started' });
    expect(t.firstPlayed).toEqual([1035]);
    // Ends at the estimated end at the client (35 ms later than the send side) once `finished` comes.
    await t.clock.advance(400);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'finished', playedMs: 400 });
    await t.clock.advance(0);
    await done;
    expect(t.result()).toEqual({ firstPlayedAtMs: 1035, finishedAtMs: 1435, playedMs: 400 });
  });

  it('ignores a `finished` sent when the client ran dry before the rest of the audio arrived', async () => {
    const t = setup({ receipts: true });
    t.pushMs(200);
    const done = t.play();
    await t.clock.advance(10);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'started' });
    await t.clock.advance(290);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'finished', playedMs: 200 });
    t.pushMs(200);
    t.frames.end();
    await t.clock.advance(150);
    expect(t.result()).toBeUndefined();
    await t.clock.advance(100);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'finished', playedMs: 400 });
    await t.clock.advance(0);
    await done;
    expect(t.result()?.finishedAtMs).toBe(1550);
  });

  it('falls back to the send side when a client promised receipts and sends none', async () => {
    const t = setup({ receipts: true });
    t.pushMs(2000);
    t.frames.end();
    const done = t.play();
    await t.clock.advance(999);
    expect(t.firstPlayed).toEqual([]);
    await t.clock.advance(1);
    expect(t.firstPlayed).toEqual([1000]);
    await t.clock.advance(3000);
    await done;
    // The estimated end (3000), reached after waiting the grace for a `finished` that never came.
    expect(t.result()).toEqual({ firstPlayedAtMs: 1000, finishedAtMs: 3000, playedMs: 2000 });
  });

  it('reports a short reply as heard from the send side when no receipt came before its end', async () => {
    const t = setup({ receipts: true });
    t.pushMs(200);
    t.frames.end();
    const done = t.play();
    await t.clock.advance(699);
    expect(t.result()).toBeUndefined();
    await t.clock.advance(1);
    await done;
    expect(t.firstPlayed).toEqual([1000]);
    expect(t.result()).toEqual({ firstPlayedAtMs: 1000, finishedAtMs: 1200, playedMs: 200 });
  });

  it('on abort sends `clear` and times the stop from the `stopped` receipt', async () => {
    const t = setup({ receipts: true });
    t.pushMs(2000);
    const done = t.play();
    await t.clock.advance(20);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'started' });
    await t.clock.advance(300);
    const sentBefore = t.sent.length;
    t.controller.abort();
    t.output.clear(); // the agent clears too: one `clear` goes out
    expect(t.messages.filter((m) => m.type === 'clear')).toEqual([{ type: 'clear', speechId: 1 }]);
    await t.clock.advance(7);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'stopped', playedMs: 290 });
    await t.clock.advance(0);
    await done;
    expect(t.sent.length).toBe(sentBefore);
    expect(t.result()).toEqual({ firstPlayedAtMs: 1020, interruptedAtMs: 1327, playedMs: 290 });
  });

  it('without a `stopped` receipt, gives up after receiptTimeoutMs with the send-side estimate', async () => {
    const t = setup({ receipts: true });
    t.pushMs(2000);
    const done = t.play();
    await t.clock.advance(20);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'started' });
    await t.clock.advance(300);
    t.controller.abort();
    await t.clock.advance(999);
    expect(t.result()).toBeUndefined();
    await t.clock.advance(1);
    await done;
    expect(t.result()).toEqual({ firstPlayedAtMs: 1020, interruptedAtMs: 1320, playedMs: 300 });
  });

  it('stops at once when aborted while waiting for audio, and skips the wait when nothing was sent', async () => {
    const t = setup({ receipts: true });
    const done = t.play();
    await t.clock.advance(50);
    t.controller.abort();
    await t.clock.advance(0);
    await done;
    expect(t.result()).toEqual({ firstPlayedAtMs: null, interruptedAtMs: 1050, playedMs: 0 });
    expect(t.messages.at(-1)).toEqual({ type: 'clear', speechId: 1 });
  });

  it('stops when the client goes away', async () => {
    const t = setup();
    t.pushMs(1000);
    const done = t.play();
    await t.clock.advance(200);
    t.disconnect();
    await t.clock.advance(100);
    await done;
    expect(t.result()?.interruptedAtMs).toBeDefined();
    expect(t.result()?.playedMs).toBeLessThanOrEqual(300);
  });

  it('drops frames of another speech and receipts meant for another speech', async () => {
    const t = setup({ receipts: true });
    t.pushMs(100, 7);
    t.pushMs(100);
    t.frames.end();
    const done = t.play();
    await t.clock.advance(10);
    t.receipts.receive({ type: 'playback', speechId: 7, event: 'started' });
    expect(t.firstPlayed).toEqual([]);
    t.receipts.receive({ type: 'playback', speechId: 1, event: 'started' });
    await t.clock.advance(2000);
    await done;
    expect(t.sent.length).toBe(5);
    expect(t.firstPlayed).toEqual([1010]);
  });
});
