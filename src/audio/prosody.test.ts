import { describe, expect, it } from 'vitest';
import { measureProsody, ProsodyMeter } from './prosody.ts';
import { readWavFile } from './wav.ts';

const RATE = 16_000;

/** A harmonic-rich glide from f0 to f1 Hz with a given amplitude envelope, like a voiced vowel. */
function glide(ms: number, f0: number, f1: number, amplitude: (t: number) => number = () => 0.3) {
  const n = (ms * RATE) / 1000;
  const out = new Int16Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / n;
    phase += (2 * Math.PI * (f0 + (f1 - f0) * t)) / RATE;
    const s = Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase);
    out[i] = Math.round(amplitude(t) * 16_000 * s);
  }
  return out;
}

const concat = (...parts: Int16Array[]) => {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const silence = (ms: number) => new Int16Array((ms * RATE) / 1000);

describe('measureProsody', () => {
  it('hears a falling pitch as falling and a rising one as rising', () => {
    const falling = measureProsody(concat(glide(600, 200, 200), glide(400, 200, 140), silence(300)));
    const rising = measureProsody(concat(glide(600, 150, 150), glide(400, 150, 220), silence(300)));
    expect(falling.pitchSlopeStPerSec).toBeLessThan(-5);
    expect(rising.pitchSlopeStPerSec).toBeGreaterThan(5);
    expect(falling.finalPitchSt).toBeLessThan(-1);
    expect(rising.finalPitchSt).toBeGreaterThan(1);
    // 200 Hz is 12 semitones above 100 Hz: a pitch tracker that halves or doubles would be off by 12.
    expect(falling.voicedMs).toBeGreaterThan(800);
  });

  it('hears energy fading at the end', () => {
    const fading = measureProsody(
      concat(
        glide(700, 160, 160),
        glide(500, 160, 160, (t) => 0.3 * (1 - 0.9 * t)),
        silence(200),
      ),
    );
    const steady = measureProsody(concat(glide(1200, 160, 160), silence(200)));
    expect(fading.energyDecayDb).toBeLessThan(steady.energyDecayDb as number);
    expect(fading.energyDecayDb).toBeLessThan(-2);
  });

  it('says nothing (nulls) about silence or noise', () => {
    const quiet = measureProsody(silence(1500));
    expect(quiet.pitchSlopeStPerSec).toBeNull();
    expect(quiet.voicedMs).toBe(0);
    const noise = new Int16Array(RATE);
    let seed = 1;
    for (let i = 0; i < noise.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      noise[i] = (seed / 2 ** 31 - 0.5) * 8000;
    }
    expect(measureProsody(noise).voicedMs).toBeLessThan(200);
  });

  it('finds voiced speech in a real LibriVox recording', async () => {
    const wav = await readWavFile(
      '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav',
    );
    const m = measureProsody(wav.samples, { sampleRate: wav.sampleRate });
    expect(m.voicedMs).toBeGreaterThan(500);
    expect(m.pitchSlopeStPerSec).not.toBeNull();
    expect(Math.abs(m.finalPitchSt as number)).toBeLessThan(12);
  });

  it('refuses audio at another rate', () => {
    expect(() => measureProsody(new Int16Array(100), { sampleRate: 8000 })).toThrow(/16 kHz/);
  });
});

describe('ProsodyMeter', () => {
  it('measures the end of what was pushed, frame by frame, across the ring boundary', () => {
    const meter = new ProsodyMeter({}, 500);
    const audio = concat(glide(3000, 150, 150), glide(500, 200, 130), silence(300));
    for (let i = 0; i < audio.length; i += 320) meter.push(audio.subarray(i, i + 320));
    const direct = measureProsody(audio);
    const metered = meter.measure();
    expect(metered.pitchSlopeStPerSec).toBeLessThan(-5);
    expect(metered.pitchSlopeStPerSec).toBeCloseTo(direct.pitchSlopeStPerSec as number, 0);
  });
});
