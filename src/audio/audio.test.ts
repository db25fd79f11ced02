import { describe, expect, it } from 'vitest';
import { AudioFormatError, int16FromBytes, splitIntoFrames, validateFrame } from './frame.ts';
import { rmsDbfs } from './level.ts';
import { Resampler } from './resampler.ts';
import { decodeWav, encodeWav } from './wav.ts';

function tone(freq: number, ms: number, rate: number, amplitude = 0.5): Int16Array {
  const n = Math.round((ms * rate) / 1000);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(amplitude * 0x7fff * Math.sin((2 * Math.PI * freq * i) / rate));
  return out;
}

describe('wav', () => {
  it('round-trips PCM16 mono', () => {
    const samples = tone(440, 100, 16000);
    const decoded = decodeWav(encodeWav(samples, 16000));
    expect(decoded.sampleRate).toBe(16000);
    expect(decoded.samples).toEqual(samples);
  });

  it('mixes stereo float to mono', () => {
    const header = encodeWav(new Int16Array(0), 8000);
    const frames = 4;
    const buffer = new Uint8Array(44 + frames * 8);
    buffer.set(header.subarray(0, 44));
    const view = new DataView(buffer.buffer);
    view.setUint16(20, 3, true); // IEEE float
    view.setUint16(22, 2, true); // stereo
    view.setUint16(34, 32, true);
    view.setUint32(40, frames * 8, true);
    for (let i = 0; i < frames; i++) {
      view.setFloat32(44 + i * 8, 0.5, true);
      view.setFloat32(48 + i * 8, -0.5, true);
    }
    expect(Array.from(decodeWav(buffer).samples)).toEqual([0, 0, 0, 0]);
  });

  it('rejects malformed files with a clear error', () => {
    expect(() => decodeWav(new Uint8Array(10))).toThrow(/not a RIFF\/WAVE/);
    const truncated = encodeWav(tone(440, 10, 16000), 16000).subarray(0, 30);
    expect(() => decodeWav(truncated)).toThrow(AudioFormatError);
  });
});

describe('frames', () => {
  it('refuses odd byte counts, bad rates, NaN timestamps and oversized frames', () => {
    expect(() => int16FromBytes(new Uint8Array(3))).toThrow(/even number of bytes/);
    expect(() => validateFrame({ samples: new Int16Array(320), sampleRate: 12345, timestampMs: 0 })).toThrow(
      /unsupported sample rate/,
    );
    expect(() =>
      validateFrame({ samples: new Int16Array(320), sampleRate: 16000, timestampMs: Number.NaN }),
    ).toThrow(/finite/);
    expect(() =>
      validateFrame({ samples: new Int16Array(160000), sampleRate: 16000, timestampMs: 0 }),
    ).toThrow(/exceeds/);
  });

  it('splits into 20 ms frames with timestamps', () => {
    const frames = [...splitIntoFrames(new Int16Array(16000), 16000, 100)];
    expect(frames).toHaveLength(50);
    expect(frames[1].timestampMs).toBe(120);
    expect(frames[0].samples.length).toBe(320);
  });
});

describe('Resampler', () => {
  it('keeps a 1 kHz tone through 48k -> 16k streaming in 20 ms frames', async () => {
    const resampler = await Resampler.create(48000, 16000);
    const input = tone(1000, 1000, 48000);
    const out: number[] = [];
    for (const frame of splitIntoFrames(input, 48000)) out.push(...resampler.processFrame(frame).samples);
    resampler.destroy();
    expect(Math.abs(out.length - 16000)).toBeLessThan(200);
    // steady-state level of a 0.5 sine is about -9 dBFS
    expect(rmsDbfs(Int16Array.from(out.slice(2000, 14000)))).toBeGreaterThan(-10);
  });

  it('removes content above the new Nyquist frequency (band-limited, not decimation)', async () => {
    const resampler = await Resampler.create(48000, 16000);
    const out = resampler.process(tone(12000, 500, 48000)); // 12 kHz cannot exist at 16 kHz
    resampler.destroy();
    expect(rmsDbfs(out.subarray(1000))).toBeLessThan(-50);
  });

  it('upsamples 16k -> 48k', async () => {
    const out = await Resampler.resampleClip(tone(440, 500, 16000), 16000, 48000);
    expect(Math.abs(out.length - 24000)).toBeLessThan(100);
  });
});
