import { performance } from 'node:perf_hooks';
import type { Clock } from '../../../src/metrics/clock.ts';
import type { STT, SttListener, SttStream, SttStreamOptions } from '../../../src/providers/stt/contract.ts';
import type { TurnDetector, TurnDetectorInput } from '../../../src/providers/turn/contract.ts';
import type { VAD, VadListener, VadStream } from '../../../src/providers/vad/contract.ts';

/**
 * Pass-through observers around the real providers of a benchmark session: they change nothing the session sees,
 * record what the providers reported and when, and let the driver wait until the engines have processed every
 * frame pushed so far (their compute time is then off the virtual clock, their algorithmic delays on it).
 */

export interface VadObservation {
  kind: 'start' | 'end';
  /** Where the VAD places the event (first or last voiced audio). */
  atMs: number;
  /** When the session heard of it. */
  noticedAtMs: number;
}

type Idle = { idle?: () => Promise<void>; whenIdle?: () => Promise<void> };

export class ObservedVad implements VAD {
  readonly name: string;
  readonly events: VadObservation[] = [];
  private readonly streams: (VadStream & Idle)[] = [];

  constructor(
    private readonly inner: VAD,
    private readonly clock: Clock,
  ) {
    this.name = inner.name;
  }

  stream(listener: VadListener): VadStream {
    const stream = this.inner.stream({
      onSpeechStart: (event) => {
        this.events.push({ kind: 'start', atMs: event.atMs, noticedAtMs: this.clock.now() });
        listener.onSpeechStart(event);
      },
      onSpeechEnd: (event) => {
        this.events.push({ kind: 'end', atMs: event.atMs, noticedAtMs: this.clock.now() });
        listener.onSpeechEnd(event);
      },
      onError: listener.onError && ((error) => listener.onError?.(error)),
    }) as VadStream & Idle;
    this.streams.push(stream);
    return stream;
  }

  async settled(): Promise<void> {
    for (const s of this.streams) await (s.idle?.() ?? s.whenIdle?.());
  }
}

export class ObservedStt implements STT {
  readonly name: string;
  readonly finals: { text: string; atMs: number }[] = [];
  private readonly streams: (SttStream & Idle)[] = [];

  constructor(
    private readonly inner: STT,
    private readonly clock: Clock,
  ) {
    this.name = inner.name;
  }

  stream(listener: SttListener, options?: SttStreamOptions): SttStream {
    const stream = this.inner.stream(
      {
        ...listener,
        onFinal: (transcript) => {
          this.finals.push({ text: transcript.text, atMs: this.clock.now() });
          listener.onFinal(transcript);
        },
      },
      options,
    ) as SttStream & Idle;
    this.streams.push(stream);
    return stream;
  }

  async settled(): Promise<void> {
    for (const s of this.streams) await (s.whenIdle?.() ?? s.idle?.());
  }
}

export interface DetectorCall {
  /** Session clock when the session asked. */
  atMs: number;
  /** Real time the detector took, ms (an async detector's verdict is that much later in a live session). */
  wallMs: number;
  input: TurnDetectorInput;
  probability: number;
}

/** Records every question the session asks its detector, with the input, so other detectors can be asked too. */
export class ObservedDetector implements TurnDetector {
  readonly name: string;
  readonly calls: DetectorCall[] = [];
  readonly explain?: TurnDetector['explain'];

  constructor(
    private readonly inner: TurnDetector,
    private readonly clock: Clock,
  ) {
    this.name = inner.name;
    const explain = inner.explain?.bind(inner);
    if (explain) {
      this.explain = async (input) => {
        const atMs = this.clock.now();
        const start = performance.now();
        const result = await explain(input);
        const { signal: _signal, ...kept } = input;
        this.calls.push({
          atMs,
          wallMs: performance.now() - start,
          input: kept,
          probability: result.probability,
        });
        return result;
      };
    }
  }

  /** Stays synchronous for a synchronous detector, so observing it does not move the session's timing. */
  endOfTurnProbability(input: TurnDetectorInput): number | Promise<number> {
    const atMs = this.clock.now();
    const start = performance.now();
    const record = (probability: number) => {
      const { signal: _signal, ...kept } = input;
      this.calls.push({ atMs, wallMs: performance.now() - start, input: kept, probability });
      return probability;
    };
    const result = this.inner.endOfTurnProbability(input);
    return typeof result === 'number' ? record(result) : result.then(record);
  }

  close(): void | Promise<void> {
    return this.inner.close?.();
  }
}
