import type { Clock } from '../metrics/clock.ts';
import { LlmError, type LlmErrorCode } from '../providers/llm/errors.ts';
import type { ApologyClip, ApologyVia, ApologyVoice } from './apology.ts';
import { ApologyPlayback } from './apology-playback.ts';
import type { AudioOutput, PlayoutReceipt } from './io.ts';

/** What failed: an `output` failure (nobody can hear the reply) gets no apology. */
export type FailureSource = 'llm' | 'tts' | 'output';

export interface SpeechFailureInfo {
  source: FailureSource;
  error: Error;
  /** Session-clock time the failure became known. */
  atMs: number;
}

/** The apology a failed speech played: what it was, what of it the user heard, and when it started. */
export interface ApologyRecord {
  via: ApologyVia;
  text: string;
  heard: string;
  /** When its first sample was heard at the client; undefined if it never was (interrupted before). */
  firstPlayedAtMs?: number;
}

export interface SpeechFailureDeps {
  clock: Clock;
  /** Absent or disabled: a failure is reported but nothing is said. */
  apology?: ApologyVoice;
  output: AudioOutput;
  speechId: number;
  signal: AbortSignal;
  onError(error: Error, source: FailureSource): void;
  /** Nothing more can be said of this reply: its LLM request is stopped. */
  stopGeneration(): void;
  onApologyPlayed(atMs: number, via: ApologyVia): void;
  onPlayoutStopped(receipt: PlayoutReceipt): void;
  onChange(): void;
}

/**
 * The failure of one speech (its LLM or its TTS gave up) and the apology that follows what was already said.
 * The first failure counts; the error goes out at once (JSON clients see it), the apology's audio is fetched at
 * once too (so it is ready when the reply's last words have played), and it plays after them.
 */
export class SpeechFailure {
  private failure: SpeechFailureInfo | undefined;
  private clip: Promise<ApologyClip> | undefined;
  private playback: ApologyPlayback | undefined;
  private pausedBeforeStart = false;
  private pending = false;

  constructor(private readonly deps: SpeechFailureDeps) {}

  get info(): SpeechFailureInfo | undefined {
    return this.failure;
  }
  /** An apology is due or playing: the speech is not over. */
  get isBusy(): boolean {
    return this.pending;
  }
  get isPaused(): boolean {
    return this.playback ? this.playback.isPaused : this.pausedBeforeStart;
  }
  get hasPlayed(): boolean {
    return this.playback?.firstPlayedAtMs !== undefined;
  }

  fail(error: unknown, source: FailureSource): void {
    if (this.failure || this.deps.signal.aborted) return;
    const asError = error instanceof Error ? error : new Error(String(error));
    this.failure = { source, error: asError, atMs: this.deps.clock.now() };
    this.deps.onError(asError, source);
    this.deps.stopGeneration();
    if (source !== 'output' && !isConfigurationError(asError) && this.deps.apology?.enabled) {
      this.pending = true;
      this.clip = this.deps.apology.clip(this.deps.signal);
    }
    this.deps.onChange();
  }

  /** After the reply's own audio has played: the apology, to its end (or the speech's abort). */
  async playApology(): Promise<void> {
    try {
      if (!this.clip || this.deps.signal.aborted) return;
      // clip() settles with the tone at worst; should it ever throw, the speech ends without an apology.
      const clip = await this.clip.catch(() => undefined);
      if (!clip) return;
      if (this.deps.signal.aborted) return;
      const { output, clock, speechId, signal } = this.deps;
      this.playback = new ApologyPlayback({
        clip,
        output,
        clock,
        speechId,
        signal,
        onFirstPlayed: (atMs) => this.deps.onApologyPlayed(atMs, clip.via),
        onPlayoutStopped: (receipt) => this.deps.onPlayoutStopped(receipt),
      });
      if (this.pausedBeforeStart) this.playback.pause();
      await this.playback.run();
    } finally {
      this.pending = false;
      this.deps.onChange();
    }
  }

  pause(): void {
    if (this.playback) this.playback.pause();
    else if (this.pending) this.pausedBeforeStart = true;
  }

  resume(): void {
    this.pausedBeforeStart = false;
    this.playback?.resume();
  }

  stop(): void {
    this.playback?.stop();
  }

  /** The apology as played, once the speech has ended; undefined when none was due. */
  async record(): Promise<ApologyRecord | undefined> {
    const clip = await this.clip?.catch(() => undefined);
    if (!clip) return undefined;
    return {
      via: clip.via,
      text: clip.text,
      heard: this.playback?.heard() ?? '',
      ...(this.playback?.firstPlayedAtMs !== undefined
        ? { firstPlayedAtMs: this.playback.firstPlayedAtMs }
        : {}),
    };
  }
}

const CONFIGURATION_CODES: readonly LlmErrorCode[] = ['bad-spec', 'model-missing', 'missing-api-key'];

/**
 * A failure no retry by the user can fix (no LLM configured, a missing key or model): asking them to say it
 * again would be a lie, so nothing is said; the error event tells the client, and the notice the owner speaks at
 * start (see config/providers.ts NO_LLM_NOTICE) tells the user.
 */
function isConfigurationError(error: Error): boolean {
  if (error.name === 'LlmNotConfiguredError') return true;
  return error instanceof LlmError && CONFIGURATION_CODES.includes(error.code);
}
