import {
  type AnsweringMachineOptions,
  BeepDetector,
  DEFAULT_ANSWERING_MACHINE,
  type MachineDetection,
  MachineDetector,
} from './machine.ts';

export interface MachineGateHooks {
  /** The verdict, once (for the log and the `onAnsweringMachine` listener). */
  verdict(detection: MachineDetection): void;
  /** A person: the caller's audio held during detection goes to the session, in order, then all that follows. */
  release(frames: { samples: Int16Array; arrivedAt: number }[]): void;
  /** A machine and `leaveMessage`: its beep has played (or never came): speak the message, then hang up. */
  leaveMessage(reason: string): void;
  /** A machine and `hangUp`. */
  hangUp(reason: string): void;
}

/** Detection holds at most this much caller audio (20 ms frames): past the longest greeting it can take. */
const MAX_HELD_FRAMES = 600;

/**
 * Sits between the caller's audio and the session at the start of a call. While it listens for a person or a
 * machine, the session hears nothing (a machine's greeting must not be answered as a turn). A person: the held
 * audio is replayed to the session, keeping its place on the timeline, and the call goes on as any call. A
 * machine: the session never hears it; the call is ended or, after the beep, the message is left.
 */
export class AnsweringMachineGate {
  private state: 'detecting' | 'open' | 'awaitingBeep' | 'closed' = 'detecting';
  private readonly options: AnsweringMachineOptions;
  private readonly detector: MachineDetector;
  private beep: BeepDetector | undefined;
  private waitedMs = 0;
  private held: { samples: Int16Array; arrivedAt: number }[] = [];

  constructor(
    private readonly sampleRate: number,
    options: Partial<AnsweringMachineOptions>,
    private readonly hooks: MachineGateHooks,
  ) {
    this.options = { ...DEFAULT_ANSWERING_MACHINE, ...options };
    this.detector = new MachineDetector(sampleRate, this.options);
  }

  /** True while the gate keeps the caller's audio from the session (held or dropped). */
  get holding(): boolean {
    return this.state !== 'open';
  }

  /** One chunk of the caller's audio; returns false when it should go to the session as usual. */
  push(samples: Int16Array, arrivedAt: number): boolean {
    if (this.state === 'open') return false;
    if (this.state === 'closed') return true;
    if (this.state === 'awaitingBeep') {
      this.waitedMs += (samples.length * 1000) / this.sampleRate;
      const hz = this.beep?.push(samples);
      if (hz !== undefined) this.leave(`after the beep (${hz} Hz)`);
      else if (this.waitedMs >= this.options.beepWaitMs)
        this.leave(`no beep within ${this.options.beepWaitMs / 1000} s`);
      return true;
    }
    if (this.held.length < MAX_HELD_FRAMES) this.held.push({ samples, arrivedAt });
    const detection = this.detector.push(samples);
    if (!detection) return true;
    this.hooks.verdict(detection);
    if (detection.verdict === 'human') {
      this.state = 'open';
      const held = this.held;
      this.held = [];
      this.hooks.release(held);
      return true;
    }
    this.held = [];
    if (this.options.onMachine === 'hangUp') {
      this.state = 'closed';
      this.hooks.hangUp(`answering machine (${detection.reason})`);
    } else if (/beep/.test(detection.reason)) this.leave('after the beep');
    else {
      this.state = 'awaitingBeep';
      this.beep = new BeepDetector(this.sampleRate);
    }
    return true;
  }

  private leave(reason: string): void {
    this.state = 'closed';
    this.hooks.leaveMessage(reason);
  }
}
