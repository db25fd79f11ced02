import type { Clock } from '../../metrics/clock.ts';

/** −60 dBFS: RMS of full scale (32768) × 10^(−60/20). Audible as "the line is open", never as noise. */
export const COMFORT_NOISE_DBFS = -60;
const FRAME_MS = 20;

/**
 * Low-level noise in the gaps of the agent's speech, for a provider that expects a continuous outbound stream
 * (none of Twilio, Telnyx and Vonage documents that it needs one: it is off by default for all three). A 20 ms
 * frame goes out every 20 ms while `idle()` holds, i.e. while the provider's playback buffer is empty and
 * nothing else (speech, keypad tones) is playing; a frame is never queued behind real audio.
 */
export class ComfortNoise {
  private cancel: (() => void) | undefined;
  private seed = 0x2545f491;
  private readonly frame: number;
  private readonly rms: number;

  constructor(
    private readonly clock: Clock,
    sampleRate: number,
    private readonly idle: () => boolean,
    private readonly send: (samples: Int16Array) => void,
    dbfs = COMFORT_NOISE_DBFS,
  ) {
    this.frame = (sampleRate * FRAME_MS) / 1000;
    this.rms = 32768 * 10 ** (dbfs / 20);
    this.tick();
  }

  close(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  /** One frame of white noise at the target RMS (uniform in ±√3·rms has that RMS). */
  noiseFrame(): Int16Array {
    const out = new Int16Array(this.frame);
    const peak = Math.sqrt(3) * this.rms;
    for (let i = 0; i < out.length; i++) {
      // xorshift32: cheap, deterministic, enough for noise.
      this.seed ^= this.seed << 13;
      this.seed ^= this.seed >>> 17;
      this.seed ^= this.seed << 5;
      out[i] = Math.round(((this.seed >>> 0) / 0xffffffff - 0.5) * 2 * peak);
    }
    return out;
  }

  private tick(): void {
    if (this.idle()) this.send(this.noiseFrame());
    this.cancel = this.clock.schedule(FRAME_MS, () => this.tick());
  }
}
