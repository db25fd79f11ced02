import { describe, expect, it } from 'vitest';
import { AudioFormatError } from './frame.ts';
import { rmsDbfs } from './level.ts';
import { OPUS_FRAME_SAMPLES, OpusDecoder, OpusEncoder } from './opus.ts';

const tone = (frames: number, hz = 440) =>
  Int16Array.from({ length: frames * OPUS_FRAME_SAMPLES }, (_, i) =>
    Math.round(10_000 * Math.sin((2 * Math.PI * hz * i) / 48_000)),
  );

describe('Opus', () => {
  it('round-trips speech-band audio through 20 ms packets', () => {
    const encoder = new OpusEncoder();
    const decoder = new OpusDecoder();
    const input = tone(25);
    const decoded: Int16Array[] = [];
    for (let f = 0; f < 25; f++) {
      const packet = encoder.encode(input.subarray(f * OPUS_FRAME_SAMPLES, (f + 1) * OPUS_FRAME_SAMPLES));
      expect(packet.byteLength).toBeGreaterThan(0);
      expect(packet.byteLength).toBeLessThan(200);
      decoded.push(decoder.decode(packet));
    }
    expect(decoded.every((d) => d.length === OPUS_FRAME_SAMPLES)).toBe(true);
    // Past the codec's start-up, the level matches the input's within a few dB.
    const last = decoded.at(-1)!;
    const difference = rmsDbfs(last) - rmsDbfs(input.subarray(0, OPUS_FRAME_SAMPLES));
    expect(Math.abs(difference)).toBeLessThan(3);
  });

  it('refuses frames of the wrong size and packets it cannot decode', () => {
    expect(() => new OpusEncoder().encode(new Int16Array(100))).toThrow(AudioFormatError);
    expect(() => new OpusDecoder().decode(new Uint8Array(0))).toThrow(AudioFormatError);
  });

  it('keeps each decoder independent (no shared output buffer between streams)', () => {
    const encoder = new OpusEncoder();
    const loud = encoder.encode(tone(1));
    const quietEncoder = new OpusEncoder();
    const quiet = quietEncoder.encode(new Int16Array(OPUS_FRAME_SAMPLES));
    const a = new OpusDecoder().decode(loud);
    const before = Int16Array.from(a);
    new OpusDecoder().decode(quiet);
    expect(a).toEqual(before);
  });
});
