/** DTMF: digits the caller pressed, gathered into one input, and digits the agent sends as in-band tones. */

const LOW: Record<string, number> = {};
const HIGH: Record<string, number> = {};
const KEYPAD = ['123A', '456B', '789C', '*0#D'];
const ROWS = [697, 770, 852, 941];
const COLUMNS = [1209, 1336, 1477, 1633];
KEYPAD.forEach((row, r) => {
  [...row].forEach((key, c) => {
    LOW[key] = ROWS[r];
    HIGH[key] = COLUMNS[c];
  });
});

export const DTMF_DIGITS = /^[0-9*#A-D]+$/;

/**
 * The dual tones of `digits` at `sampleRate` (ITU-T Q.23 frequencies; 100 ms tone, 70 ms gap, each tone at
 * about -9 dBFS): sent in the media stream, they pass G.711 and reach the far end like a keypad's.
 */
export function dtmfTones(digits: string, sampleRate: number, toneMs = 100, gapMs = 70): Int16Array {
  if (!DTMF_DIGITS.test(digits))
    throw new Error(`not DTMF digits: ${JSON.stringify(digits)} (0-9, *, #, A-D)`);
  const tone = Math.round((toneMs * sampleRate) / 1000);
  const gap = Math.round((gapMs * sampleRate) / 1000);
  const out = new Int16Array(digits.length * (tone + gap));
  [...digits].forEach((digit, d) => {
    const low = (2 * Math.PI * LOW[digit]) / sampleRate;
    const high = (2 * Math.PI * HIGH[digit]) / sampleRate;
    const base = d * (tone + gap);
    for (let i = 0; i < tone; i++)
      out[base + i] = Math.round(5000 * (Math.sin(low * i) + Math.sin(high * i)));
  });
  return out;
}

/**
 * Gathers the caller's key presses into one entry: it is complete on `#`, or once no key came for `gapMs`.
 * `onEntry` gets the digits (with the `#`).
 */
export class DtmfCollector {
  private digits = '';
  private cancel: (() => void) | undefined;

  constructor(
    private readonly schedule: (ms: number, callback: () => void) => () => void,
    private readonly gapMs: number,
    private readonly onEntry: (digits: string) => void,
  ) {}

  push(digit: string): void {
    this.cancel?.();
    this.digits += digit;
    if (digit === '#' || this.digits.length >= 32) {
      this.flush();
      return;
    }
    this.cancel = this.schedule(this.gapMs, () => this.flush());
  }

  close(): void {
    this.cancel?.();
    this.digits = '';
  }

  private flush(): void {
    this.cancel?.();
    this.cancel = undefined;
    const digits = this.digits;
    this.digits = '';
    if (digits) this.onEntry(digits);
  }
}
