import { type AudioFrame, frameDurationMs, PIPELINE_SAMPLE_RATE } from '../audio/frame.ts';
import { ProsodyMeter } from '../audio/prosody.ts';
import type { Clock } from '../metrics/clock.ts';
import type { SttStream, Transcript } from '../providers/stt/contract.ts';
import type { VadStream } from '../providers/vad/contract.ts';
import type { AgentSessionEvents } from './events.ts';
import type { AudioProgress } from './heard-silence.ts';
import type { InterruptionArbiter } from './interruption.ts';
import type { AgentSessionOptions } from './options.ts';
import type { Speech } from './speech.ts';
import { isCancelRequest } from './tool-runner.ts';
import type { TurnTracker } from './turn-tracker.ts';

export interface UserStreamsDeps {
  options: Pick<AgentSessionOptions, 'vad' | 'stt' | 'language'>;
  clock: Clock;
  tracker: TurnTracker;
  interruptions: InterruptionArbiter;
  /** Utterances that stop a running tool ("cancel", "stop that"). */
  cancelPhrases: readonly string[];
  isClosed(): boolean;
  /** The reply being spoken now: user speech may pause it, a spoken "cancel" may stop its tool. */
  activeSpeech(): Speech | undefined;
  /** The user started speaking again: a reply prepared for the earlier words is stale. */
  discardPreparedReply(): void;
  onTranscript(event: AgentSessionEvents['transcript']): void;
  onSttFallback(): void;
  /** The language the STT stream is opened in (the session's, which may change); default `options.language`. */
  sttLanguage?(): string | undefined;
  /** A final transcript as the STT gave it (its `language` included). */
  onFinalTranscript?(transcript: Transcript): void;
  onError(source: 'vad' | 'stt', error: unknown): void;
  /** Something the session state is derived from may have changed. */
  onChange(): void;
}

/**
 * The listening half of a session: the VAD and the STT run on the same audio, in parallel, and this routes what
 * they report. Speech onset and end go to the turn tracker and the interruption arbiter; a transcript goes to
 * the arbiter first (a backchannel over paused playout ends there), then to the tracker and out as an event.
 */
export class UserStreams {
  private vadStream: VadStream | undefined;
  private sttStream: SttStream | undefined;
  /** Audio fed to the STT since the last committed turn (its usage metric). */
  private sttAudioMs = 0;
  /** The last seconds of the user's audio: its prosody at each end of speech goes to the turn detector. */
  private readonly prosody = new ProsodyMeter();
  /** Session-clock end of the latest frame pushed. */
  private receivedUntilMs = 0;

  constructor(private readonly deps: UserStreamsDeps) {}

  open(): void {
    const { vad, language } = this.deps.options;
    this.vadStream = vad.stream({
      onSpeechStart: (event) => this.speechStarted(event.atMs, event.lookBackMs ?? 0),
      onSpeechEnd: (event) => this.speechEnded(event.atMs),
      onError: (error) => this.deps.onError('vad', error),
    });
    this.sttStream = this.openStt(this.deps.sttLanguage ? this.deps.sttLanguage() : language);
  }

  /**
   * The session switched language: a new STT stream in it takes over from the next frame (the old one is
   * closed; words it had not finalised are lost, as at a switch they belong to the utterance that decided it).
   * If the new stream cannot be opened the old one stays and the error is reported.
   */
  reopenStt(language: string): void {
    if (this.deps.isClosed() || !this.sttStream) return;
    let next: SttStream;
    try {
      next = this.openStt(language);
    } catch (error) {
      this.deps.onError('stt', error);
      return;
    }
    const previous = this.sttStream;
    this.sttStream = next;
    previous.close();
  }

  private openStt(language: string | undefined): SttStream {
    const { stt } = this.deps.options;
    return stt.stream(
      {
        onInterim: (transcript) => this.interimReceived(transcript),
        onFinal: (transcript) => this.finalReceived(transcript),
        onError: (error) => this.deps.onError('stt', error),
        onFallback: () => this.deps.onSttFallback(),
        // A cloud STT's own endpointing is one more input to the turn detector, never the decision.
        onSpeechEvent: (event) => {
          if (this.deps.isClosed()) return;
          if (event.type === 'endOfSpeech')
            this.deps.tracker.sttTurnSignal({ endpointed: true, source: stt.name });
          if (event.type === 'utteranceEnd')
            this.deps.tracker.sttTurnSignal({ utteranceEnd: true, source: stt.name });
        },
      },
      { language },
    );
  }

  /** One 16 kHz frame to both streams; a failing stream is reported and never stops the other. */
  push(frame: AudioFrame): void {
    const durationMs = frameDurationMs(frame);
    this.receivedUntilMs = Math.max(this.receivedUntilMs, frame.timestampMs + durationMs);
    if (frame.sampleRate === PIPELINE_SAMPLE_RATE) this.prosody.push(frame.samples);
    try {
      this.vadStream?.push(frame);
    } catch (error) {
      this.deps.onError('vad', error);
    }
    try {
      this.sttStream?.push(frame);
      this.sttAudioMs += durationMs;
    } catch (error) {
      this.deps.onError('stt', error);
    }
  }

  /**
   * How far the user's audio has arrived and been judged by the VAD, when the VAD can say (see
   * `VadStream.settledUntilMs`): a commit waits until the silence it rests on has really been heard.
   */
  audioProgress(): AudioProgress | undefined {
    const settledUntilMs = this.vadStream?.settledUntilMs;
    if (settledUntilMs === undefined) return undefined;
    return { receivedUntilMs: this.receivedUntilMs, settledUntilMs };
  }

  /** Whether the STT is still working on audio it was given (its final is late, not lost). */
  sttBusy(): boolean {
    return this.sttStream?.busy === true;
  }

  /** The STT audio of the turn being committed; the count starts again for the next one. */
  takeSttAudioMs(): number {
    const ms = this.sttAudioMs;
    this.sttAudioMs = 0;
    return ms;
  }

  close(): void {
    this.vadStream?.close();
    this.sttStream?.close();
  }

  private speechStarted(atMs: number, lookBackMs: number): void {
    const { tracker, interruptions } = this.deps;
    if (this.deps.isClosed()) return;
    tracker.speechStarted(atMs, lookBackMs);
    // The user kept talking: whatever was prepared for the earlier words is stale.
    this.deps.discardPreparedReply();
    // The interruption's clock starts where the user really began: the VAD's onset less its look-back.
    interruptions.userSpeechStarted(atMs - lookBackMs, this.deps.activeSpeech());
    this.deps.onChange();
  }

  private speechEnded(atMs: number): void {
    if (this.deps.isClosed()) return;
    try {
      this.deps.tracker.prosodyMeasured(this.prosody.measure());
    } catch (error) {
      this.deps.onError('vad', error); // the turn goes on without prosody
    }
    this.deps.tracker.speechEnded(atMs);
    // The end of speech is a hint to the STT to settle its final now rather than wait for more audio.
    this.sttStream?.flush();
    this.deps.interruptions.userSpeechEnded();
    this.deps.onChange();
  }

  private interimReceived(transcript: Transcript): void {
    const { tracker, interruptions, clock } = this.deps;
    this.cancelToolOnRequest(transcript.text);
    if (this.deps.isClosed() || interruptions.transcriptReceived(transcript.text, false)) return;
    tracker.interimReceived(transcript);
    this.deps.onTranscript({ text: tracker.liveTranscript, final: false, atMs: clock.now() });
  }

  private finalReceived(transcript: Transcript): void {
    const { tracker, interruptions, clock } = this.deps;
    this.cancelToolOnRequest(transcript.text);
    if (this.deps.isClosed() || interruptions.transcriptReceived(transcript.text, true)) return;
    this.deps.onFinalTranscript?.(transcript);
    tracker.finalReceived(transcript);
    if (transcript.text.trim()) {
      this.deps.onTranscript({ text: transcript.text.trim(), final: true, atMs: clock.now() });
    }
  }

  /** A spoken "cancel" stops a running tool even where words would not interrupt the agent. */
  private cancelToolOnRequest(text: string): void {
    const speech = this.deps.activeSpeech();
    if (this.deps.isClosed() || !speech?.isRunningTool) return;
    if (isCancelRequest(text, this.deps.cancelPhrases)) speech.abort('interrupted');
  }
}
