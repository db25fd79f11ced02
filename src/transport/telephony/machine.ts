/**
 * Answering-machine / voicemail detection from the caller-side audio of the first seconds of a call.
 *
 * - The greeting: a person answers with a short "hello?" and waits; a machine talks on ("Hi, you've reached…").
 *   Speech frames are found by level (20 ms frames over `speechRms`); pauses shorter than `pauseMs` join two
 *   stretches of speech into one. More than `greetingMs` of speech before the first pause: a machine. A pause
 *   after less than that: a person. Nothing said for `noSpeechMs`: treated as a person (we speak first).
 * - The beep: a steady tone between 800 and 2000 Hz for at least 300 ms (a Goertzel filter bank, 25 Hz apart,
 *   on 20 ms frames: one filter must hold most of the frame's energy, on the same frequency ±50 Hz, frame after
 *   frame). A beep is a machine whatever the greeting said, and is when a message may start.
 */

export type MachineVerdict = 'human' | 'machine';

export interface AnsweringMachineOptions {
  detect: boolean;
  /** `leaveMessage`: wait for the beep, say `message`, hang up. `hangUp`: end the call at once. */
  onMachine: 'leaveMessage' | 'hangUp';
  message: string;
  /** Speech before the first pause beyond this is a machine's greeting. Default 3500 ms. */
  greetingMs: number;
  /** Silence this long ends the greeting. Default 800 ms. */
  pauseMs: number;
  /** No speech at all this long after the call starts: a person (silent, waiting for us). Default 5000 ms. */
  noSpeechMs: number;
  /** After a machine's greeting, the longest wait for its beep before the message is left anyway. Default 20 s. */
  beepWaitMs: number;
  /** Frame RMS (PCM16) over which a frame counts as speech. Default 400 (about −38 dBFS). */
  speechRms: number;
}

export const DEFAULT_ANSWERING_MACHINE: AnsweringMachineOptions = {
  detect: false,
  onMachine: 'hangUp',
  message: '',
  greetingMs: 3500,
  pauseMs: 800,
  noSpeechMs: 5000,
  beepWaitMs: 20_000,
  speechRms: 400,
};

export interface MachineDetection {
  verdict: MachineVerdict;
  /** Why, for the log: "greeting of 3.6 s of speech without a pause", "beep at 1000 Hz", … */
  reason: string;
  /** Audio analysed until the verdict, in ms. */
  atMs: number;
  /** Speech heard in the greeting so far, in ms. */
  speechMs: number;
}

const FRAME_MS = 20;
const BEEP_LOW_HZ = 800;
const BEEP_HIGH_HZ = 2000;
const BEEP_STEP_HZ = 25;
const BEEP_MIN_MS = 300;
/** Share of a frame's energy in the strongest filter for the frame to count as a tone. */
const BEEP_PURITY = 0.5;
/** A tone quieter than this (frame RMS) is line noise, not a beep. */
const BEEP_MIN_RMS = 300;

/** Cuts any chunking of the audio into 20 ms frames. */
class Framer {
  private readonly buffer: Int16Array;
  private filled = 0;

  constructor(readonly size: number) {
    this.buffer = new Int16Array(size);
  }

  *push(samples: Int16Array): Generator<Int16Array> {
    let offset = 0;
    while (offset < samples.length) {
      const n = Math.min(this.size - this.filled, samples.length - offset);
      this.buffer.set(samples.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.size) {
        this.filled = 0;
        yield this.buffer;
      }
    }
  }
}

function energy(frame: Int16Array): number {
  let sum = 0;
  for (const x of frame) sum += x * x;
  return sum;
}

/**
 * Steady-tone (voicemail beep) detector. `push` returns the tone's frequency once a tone of at least 300 ms has
 * ended (or after 2 s of it: some beeps run on), so a message starts after the beep, not over it.
 */
export class BeepDetector {
  private readonly framer: Framer;
  private readonly coefficients: { hz: number; k: number }[] = [];
  private runFrames = 0;
  private runHz = 0;

  constructor(readonly sampleRate: number) {
    this.framer = new Framer((sampleRate * FRAME_MS) / 1000);
    for (let hz = BEEP_LOW_HZ; hz <= BEEP_HIGH_HZ; hz += BEEP_STEP_HZ)
      this.coefficients.push({ hz, k: 2 * Math.cos((2 * Math.PI * hz) / sampleRate) });
  }

  /** The tone of one frame: its frequency, or undefined when the frame is not a steady tone in the band. */
  toneOf(frame: Int16Array): number | undefined {
    const total = energy(frame);
    if (Math.sqrt(total / frame.length) < BEEP_MIN_RMS) return undefined;
    let best = 0;
    let bestHz = 0;
    for (const { hz, k } of this.coefficients) {
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < frame.length; i++) {
        const s0 = frame[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      const power = s1 * s1 + s2 * s2 - k * s1 * s2;
      if (power > best) {
        best = power;
        bestHz = hz;
      }
    }
    // A sinusoid at the filter's frequency gives 2·power/N equal to the frame's energy.
    return (2 * best) / frame.length / total >= BEEP_PURITY ? bestHz : undefined;
  }

  push(samples: Int16Array): number | undefined {
    let heard: number | undefined;
    for (const frame of this.framer.push(samples)) {
      const hz = this.toneOf(frame);
      const steady = hz !== undefined && this.runFrames > 0 && Math.abs(hz - this.runHz) <= 50;
      const longEnough = this.runFrames * FRAME_MS >= BEEP_MIN_MS;
      if (steady) {
        this.runFrames++;
        if (this.runFrames * FRAME_MS >= 2000) heard ??= this.finish();
        continue;
      }
      if (longEnough) heard ??= this.finish();
      this.runFrames = hz === undefined ? 0 : 1;
      this.runHz = hz ?? 0;
    }
    return heard;
  }

  private finish(): number {
    const hz = this.runHz;
    this.runFrames = 0;
    this.runHz = 0;
    return hz;
  }
}

/** Human or machine from the greeting's shape and the beep; `push` returns the verdict once, when it is known. */
export class MachineDetector {
  private readonly options: AnsweringMachineOptions;
  private readonly framer: Framer;
  private readonly beep: BeepDetector;
  private analysedMs = 0;
  private speechMs = 0;
  private silentMs = 0;
  private spoke = false;
  private verdict: MachineDetection | undefined;

  constructor(
    readonly sampleRate: number,
    options: Partial<AnsweringMachineOptions> = {},
  ) {
    this.options = { ...DEFAULT_ANSWERING_MACHINE, ...options };
    this.framer = new Framer((sampleRate * FRAME_MS) / 1000);
    this.beep = new BeepDetector(sampleRate);
  }

  get result(): MachineDetection | undefined {
    return this.verdict;
  }

  push(samples: Int16Array): MachineDetection | undefined {
    if (this.verdict) return undefined;
    const beepHz = this.beep.push(samples);
    if (beepHz !== undefined)
      return this.decide('machine', `a voicemail beep at ${beepHz} Hz`, this.analysedMs);
    for (const frame of this.framer.push(samples)) {
      this.analysedMs += FRAME_MS;
      const rms = Math.sqrt(energy(frame) / frame.length);
      if (rms >= this.options.speechRms && this.beep.toneOf(frame) === undefined) {
        this.spoke = true;
        this.speechMs += FRAME_MS;
        this.silentMs = 0;
      } else this.silentMs += FRAME_MS;
      const seconds = (this.speechMs / 1000).toFixed(1);
      if (this.speechMs > this.options.greetingMs)
        return this.decide('machine', `a greeting of over ${seconds} s of speech without a pause`);
      if (this.spoke && this.silentMs >= this.options.pauseMs)
        return this.decide('human', `a short greeting (${seconds} s of speech) then a pause`);
      if (!this.spoke && this.analysedMs >= this.options.noSpeechMs)
        return this.decide('human', `nothing said for ${this.analysedMs / 1000} s`);
    }
    return undefined;
  }

  private decide(verdict: MachineVerdict, reason: string, atMs = this.analysedMs): MachineDetection {
    this.verdict = { verdict, reason, atMs, speechMs: this.speechMs };
    return this.verdict;
  }
}
