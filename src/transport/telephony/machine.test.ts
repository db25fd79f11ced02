import { describe, expect, it } from 'vitest';
import { BeepDetector, MachineDetector } from './machine.ts';
import { clipAt } from './testing/fake-provider.ts';

const RATE = 8000;
const tone = (hz: number, ms: number, amplitude = 8000, rate = RATE) =>
  Int16Array.from(
    { length: (rate * ms) / 1000 },
    (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate),
  );
const concat = (...parts: Int16Array[]) => {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};
/** Feeds `samples` in chunks of `chunk` samples (the wire's frames need not be 20 ms). */
function run<T>(push: (s: Int16Array) => T | undefined, samples: Int16Array, chunk = 160): T | undefined {
  let result: T | undefined;
  for (let i = 0; i < samples.length; i += chunk) result ??= push(samples.subarray(i, i + chunk));
  return result;
}

describe('answering-machine detection', () => {
  it.each([800, 1000, 1400, 1987, 2000])('a %d Hz beep of 400 ms is heard once it ends', (hz) => {
    const beep = new BeepDetector(RATE);
    expect(run((s) => beep.push(s), concat(tone(hz, 400), new Int16Array(800)), 100)).toBeCloseTo(hz, -2);
  });

  it('a beep too short (200 ms), out of the band (440 Hz, 3 kHz) or at line-noise level is not a beep', () => {
    for (const samples of [tone(1000, 200), tone(440, 600), tone(3000, 600), tone(1000, 600, 100)]) {
      const beep = new BeepDetector(RATE);
      expect(run((s) => beep.push(s), concat(samples, new Int16Array(800)))).toBeUndefined();
    }
  });

  it('a beep at 16 kHz (Vonage) is heard too', () => {
    const beep = new BeepDetector(16_000);
    expect(run((s) => beep.push(s), concat(tone(1000, 500, 8000, 16_000), new Int16Array(1600)), 320)).toBe(
      1000,
    );
  });

  it('speech is never taken for a beep (every LibriVox clip)', async () => {
    for (const name of ['0870', '0880', '0890', '0920', '0930']) {
      const clip = await clipAt(`sense_and_sensibility_01_austen_64kb-${name}.wav`, RATE);
      const beep = new BeepDetector(RATE);
      expect(
        run((s) => beep.push(s), clip),
        name,
      ).toBeUndefined();
    }
  });

  it('a long greeting is a machine; a short "hello?" then silence is a person; silence is a person', async () => {
    const greeting = await clipAt('sense_and_sensibility_01_austen_64kb-0870.wav', RATE);
    const machine = run((s) => new MachineDetector(RATE).push(s), greeting);
    // (a fresh detector per chunk would never decide: check that the verdict needs the whole greeting)
    expect(machine).toBeUndefined();
    const detector = new MachineDetector(RATE);
    expect(run((s) => detector.push(s), greeting)).toMatchObject({ verdict: 'machine' });
    expect(detector.result?.atMs).toBeGreaterThan(3500);

    const hello = concat(greeting.subarray(0, RATE), new Int16Array(RATE * 2));
    const person = new MachineDetector(RATE);
    expect(run((s) => person.push(s), hello)).toMatchObject({ verdict: 'human' });

    const quiet = new MachineDetector(RATE);
    expect(run((s) => quiet.push(s), new Int16Array(RATE * 6))).toMatchObject({ verdict: 'human' });
  });

  it('a beep decides "machine" even after a short greeting', () => {
    const detector = new MachineDetector(RATE, { pauseMs: 2000 });
    const result = run((s) => detector.push(s), concat(tone(1000, 500), new Int16Array(RATE)));
    expect(result).toMatchObject({ verdict: 'machine', reason: expect.stringContaining('beep') });
  });
});
