import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../metrics/clock.ts';
import type { TtsAudio } from './contract.ts';
import { SimulatedTts } from './simulated.ts';

describe('SimulatedTts', () => {
  it('sends first audio after the TTFB, as long as the text takes to say, faster than real time', async () => {
    const clock = new VirtualClock();
    const tts = new SimulatedTts({ clock, ttfb: 330, realTimeFactor: 0.2, chunkMs: 100, msPerCharacter: 50 });
    const stream = tts.stream({ signal: new AbortController().signal });
    const got: { at: number; audio: TtsAudio }[] = [];
    const done = (async () => {
      for await (const audio of stream) got.push({ at: clock.now(), audio });
    })();
    stream.pushText('Twenty characters!!');
    stream.flush();
    stream.pushText('And ten..!');
    stream.end();
    await clock.advance(329);
    expect(got).toEqual([]);
    await clock.advance(5000);
    await done;
    const first = got.filter((g) => g.audio.segment === 0);
    const second = got.filter((g) => g.audio.segment === 1);
    expect(first[0].at).toBe(330);
    // 19 characters x 50 ms = 950 ms = 48 frames of 20 ms; chunks of 5 frames every 20 ms (0.2 x 100 ms).
    expect(first.length).toBe(48);
    expect(first.at(-1)?.at).toBe(330 + 9 * 20);
    expect(second[0].at).toBe((first.at(-1)?.at ?? 0) + 330);
    expect(second.length).toBe(Math.round((10 * 50) / 20));
    const peak = Math.max(...first[0].audio.frame.samples);
    expect(peak).toBeGreaterThan(1000);
    expect(first[0].audio.frame.sampleRate).toBe(16_000);
    expect(first[0].audio.frame.samples.length).toBe(320);
  });

  it('ends at once when aborted, mid-TTFB or mid-audio', async () => {
    const clock = new VirtualClock();
    const tts = new SimulatedTts({ clock, ttfb: { minMs: 280, maxMs: 380 }, realTimeFactor: 0.5 });
    const controller = new AbortController();
    const stream = tts.stream({ signal: controller.signal });
    let frames = 0;
    const done = (async () => {
      for await (const _ of stream) frames++;
    })();
    stream.pushText('A fairly long sentence that takes a few seconds to say out loud.');
    stream.flush();
    await clock.advance(500);
    const before = frames;
    expect(before).toBeGreaterThan(0);
    controller.abort();
    await clock.advance(10_000);
    await done;
    expect(frames).toBe(before);
  });
});
