import { describe, expect, it, vi } from 'vitest';
import type { AudioOutput, PlayOptions, PlayoutReceipt } from '../agent/io.ts';
import { AgentSession } from '../agent/session.ts';
import type { AudioFrame } from '../audio/frame.ts';
import { Resampler } from '../audio/resampler.ts';
import { type Clock, MonotonicClock } from '../metrics/clock.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import { ScriptedStt } from '../providers/stt/scripted.ts';
import { ScriptedTts } from '../providers/tts/scripted.ts';
import { ScriptedVad } from '../providers/vad/scripted.ts';
import { type AudioSink, StreamingAudioOutput } from './playout.ts';
import { PlaybackReceipts } from './receipts.ts';

const STORY =
  'Once upon a time there was a small fox who lived in a quiet forest. Every morning the fox ran to the river. ' +
  'One day the river was gone and the fox had to find out why. It walked for many days over hills and fields.';

/** An output that counts its plays and notes whether the event loop got a turn between two of them. */
class CountingOutput implements AudioOutput {
  plays = 0;
  playsWithoutYield = 0;
  private yielded = true;

  constructor(private readonly inner: AudioOutput) {}

  get sampleRate() {
    return this.inner.sampleRate;
  }
  get isClosed() {
    return this.inner.isClosed;
  }

  async play(frames: AsyncIterable<AudioFrame>, options: PlayOptions): Promise<PlayoutReceipt> {
    this.plays++;
    if (!this.yielded) this.playsWithoutYield++;
    // The code under test spinning would never let this test end: fail it instead.
    if (this.playsWithoutYield > 20) throw new Error('play() called in a loop without yielding');
    this.yielded = false;
    setImmediate(() => {
      this.yielded = true;
    });
    return this.inner.play(frames, options);
  }
  clear(): void {
    this.inner.clear();
  }
}

function sessionWith(clock: Clock) {
  const tts = new ScriptedTts({ clock, ttfbMs: 20, realTimeFactor: 0.05 });
  return new AgentSession({
    vad: new ScriptedVad({ speech: [] }),
    stt: new ScriptedStt({ clock, words: [] }),
    llm: new ScriptedLlm({ clock, reply: () => 'unused' }),
    tts,
    clock,
    sessionId: 'closing',
    providerFailure: { presynthesizeApology: false },
  });
}

function closingSink(closeAfterChunks: number) {
  let sent = 0;
  const sink: AudioSink & { sent(): number } = {
    sampleRate: 16_000,
    isOpen: () => sent < closeAfterChunks,
    sendAudio: () => {
      sent++;
    },
    sent: () => sent,
  };
  return sink;
}

describe('a closing output ends the speech', () => {
  for (const closeAfterChunks of [0, 1, 10]) {
    it(`the client closes after ${closeAfterChunks} chunks: the speech ends, play() is not retried in a loop`, async () => {
      const clock = new MonotonicClock();
      const session = sessionWith(clock);
      const sink = closingSink(closeAfterChunks);
      const output = new CountingOutput(
        new StreamingAudioOutput({ clock, sink, send: () => {}, receipts: new PlaybackReceipts(clock) }),
      );
      await session.start(output);
      const result = await session.say(STORY);
      expect(result.outcome).toBe('interrupted');
      // The story is ~13 s of audio: it ended because the output closed, not because it played out.
      expect(result.playedMs).toBeLessThanOrEqual(closeAfterChunks * 20 + 20);
      expect(output.plays).toBeLessThanOrEqual(2);
      expect(output.playsWithoutYield).toBe(0);
      expect(sink.sent()).toBe(closeAfterChunks);
      await session.close();
    });
  }

  it('play() on a closed output resolves at once, reporting it closed', async () => {
    const clock = new MonotonicClock();
    const output = new StreamingAudioOutput({
      clock,
      sink: closingSink(0),
      send: () => {},
      receipts: new PlaybackReceipts(clock),
    });
    expect(output.isClosed).toBe(true);
    async function* never(): AsyncGenerator<AudioFrame> {
      yield* [];
      await new Promise(() => {});
    }
    const receipt = await output.play(never(), { signal: new AbortController().signal, speechId: 1 });
    expect(receipt).toMatchObject({ outputClosed: true, playedMs: 0, firstPlayedAtMs: null });
  });

  it('an output destroyed while its resampler is being created frees it (no WebAssembly memory left behind)', async () => {
    const clock = new MonotonicClock();
    let open = true;
    const sink: AudioSink = { sampleRate: 16_000, isOpen: () => open, sendAudio: () => {} };
    const output = new StreamingAudioOutput({
      clock,
      sink,
      send: () => {},
      receipts: new PlaybackReceipts(clock),
    });
    // The creation is held until the test lets it finish, so the hang-up lands inside it every time.
    let finishCreation!: (resampler: Resampler) => void;
    const creating = vi
      .spyOn(Resampler, 'create')
      .mockImplementationOnce(() => new Promise((resolve) => (finishCreation = resolve)));
    const fake = { inputRate: 24_000, destroy: vi.fn(), process: (samples: Int16Array) => samples };
    async function* oneFrame(): AsyncGenerator<AudioFrame> {
      // 24 kHz into a 16 kHz sink: the first frame needs a resampler.
      yield { samples: new Int16Array(480), sampleRate: 24_000, timestampMs: 0, speechId: 1 };
      await new Promise(() => {});
    }
    try {
      const played = output.play(oneFrame(), { signal: new AbortController().signal, speechId: 1 });
      await vi.waitFor(() => expect(creating).toHaveBeenCalled());
      // The client hangs up now: the transport closes and destroys its output mid-creation.
      open = false;
      output.destroy();
      finishCreation(fake as unknown as Resampler);
      const receipt = await played;
      expect(receipt.outputClosed).toBe(true);
      expect(fake.destroy).toHaveBeenCalledTimes(1);
    } finally {
      creating.mockRestore();
    }
  });

  it('an output that keeps stopping without playing anything is retried after real waits, then given up', async () => {
    const clock = new MonotonicClock();
    const session = sessionWith(clock);
    const errors: string[] = [];
    session.on('error', ({ error }) => errors.push(error.message));
    // Never closed, never plays: a broken output. The playout must not hammer it.
    const broken: AudioOutput = {
      sampleRate: 16_000,
      play: async () => ({ firstPlayedAtMs: null, interruptedAtMs: clock.now(), playedMs: 0 }),
      clear: () => {},
    };
    const output = new CountingOutput(broken);
    await session.start(output);
    const result = await session.say(STORY);
    expect(result.outcome).toBe('error');
    // Five tries (retried on new audio or after 20 ms), not thousands in one turn of the event loop.
    expect(output.plays).toBe(5);
    expect(errors.some((m) => m.includes('kept stopping'))).toBe(true);
    await session.close();
  });
});
