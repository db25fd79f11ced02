import type { RawData } from 'ws';
import { z } from 'zod';
import { bytesFromInt16 } from '../../audio/frame.ts';
import { CloudSttError } from './cloud-errors.ts';
import {
  type AudioEntry,
  type FlushEntry,
  type ReconnectOptions,
  reconnectOptions,
  type SocketRequest,
  SocketSttStream,
  type SttLog,
} from './cloud-stream.ts';
import type { STT, SttListener, SttStream, SttStreamOptions } from './contract.ts';
import { parseServerMessage, type ServerMessageFormat } from './server-message.ts';
import { unreportedSound } from './unreported-sound.ts';

export interface DeepgramSttOptions extends Partial<ReconnectOptions> {
  apiKey: string;
  /** Default `nova-3`. */
  model?: string;
  /** Default `wss://api.deepgram.com`; tests point it at a local server. */
  baseUrl?: string;
  /** BCP-47 tag; a stream's own `language` wins. Default `en`. */
  language?: string;
  /** Silence (ms) after which Deepgram marks a result `speech_final`; false turns endpointing off. Default 300. */
  endpointingMs?: number | false;
  /** Gap (ms) after the last word for an `UtteranceEnd` event (Deepgram's minimum is 1000); 0 for none. */
  utteranceEndMs?: number;
  /** Send KeepAlive after this much time without audio (Deepgram closes after 10 s). Default 3000. */
  keepAliveIntervalMs?: number;
  /** Punctuation and formatting, which read better to an LLM. Default true. */
  smartFormat?: boolean;
  /** Further query parameters, passed as they are. */
  extraParams?: Record<string, string>;
  log?: SttLog;
}

/** Deepgram live transcription over its WebSocket API, with interim results, endpointing events and keep-alive. */
export class DeepgramStt implements STT {
  readonly name: string;
  constructor(private readonly options: DeepgramSttOptions) {
    if (!options.apiKey) throw new CloudSttError('config', 'deepgram needs an API key (DEEPGRAM_API_KEY)');
    this.name = `deepgram:${options.model ?? 'nova-3'}`;
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): SttStream {
    return new DeepgramStream(this.name, this.options, listener, options);
  }
}

const Alternative = z.object({
  transcript: z.string(),
  confidence: z.number().optional(),
  languages: z.array(z.string()).optional(),
});
const ServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('Results'),
    start: z.number(),
    duration: z.number(),
    is_final: z.boolean().optional(),
    speech_final: z.boolean().optional(),
    from_finalize: z.boolean().optional(),
    channel: z.object({ alternatives: z.array(Alternative).min(1) }),
  }),
  z.object({ type: z.literal('SpeechStarted'), timestamp: z.number() }),
  z.object({ type: z.literal('UtteranceEnd'), last_word_end: z.number() }),
  z.object({ type: z.literal('Metadata') }),
  z.object({
    type: z.literal('Error'),
    description: z.string().optional(),
    message: z.string().optional(),
    variant: z.string().optional(),
  }),
]);
type Results = Extract<z.infer<typeof ServerMessage>, { type: 'Results' }>;
const KNOWN_TYPES = new Set(['Results', 'SpeechStarted', 'UtteranceEnd', 'Metadata', 'Error']);

/**
 * Maps a connection's audio clock (seconds since the first byte sent on it) to the session clock. After a reconnect
 * the new connection's zero is the first replayed frame.
 */
export class OffsetMap {
  private runs: { offsetMs: number; startMs: number; endMs: number }[] = [];
  private sentMs = 0;

  add(entry: AudioEntry): void {
    const last = this.runs.at(-1);
    const duration = entry.endMs - entry.startMs;
    if (last && Math.abs(last.endMs - entry.startMs) < 0.5) last.endMs = entry.endMs;
    else this.runs.push({ offsetMs: this.sentMs, startMs: entry.startMs, endMs: entry.endMs });
    this.sentMs += duration;
    if (this.runs.length > 256) this.runs.splice(0, this.runs.length - 256);
  }

  toSessionMs(seconds: number): number {
    const offsetMs = seconds * 1000;
    let run = this.runs[0];
    if (!run) return offsetMs;
    for (const candidate of this.runs) {
      if (candidate.offsetMs > offsetMs) break;
      run = candidate;
    }
    return run.startMs + Math.max(0, offsetMs - run.offsetMs);
  }
}

class DeepgramStream extends SocketSttStream {
  private offsets = new OffsetMap();
  /** Flushes sent on this connection and not yet answered by a final. */
  private pendingFlushes: number[] = [];
  private interim: { text: string; startMs: number; endMs: number } | undefined;
  /** Audio up to here has its final; later results covering only older audio are duplicates. */
  private finalizedUntilMs = Number.NEGATIVE_INFINITY;
  /** How far this connection's results (interim or final) reach. */
  private heardUntilMs = Number.NEGATIVE_INFINITY;

  private readonly language: string;
  private readonly settings: DeepgramSttOptions;

  constructor(name: string, settings: DeepgramSttOptions, listener: SttListener, options: SttStreamOptions) {
    super(name, listener, reconnectOptions(settings), settings.apiKey, options.signal);
    this.settings = settings;
    this.language = options.language ?? settings.language ?? 'en';
    this.start();
  }

  protected request(): SocketRequest {
    const s = this.settings;
    const url = new URL('/v1/listen', s.baseUrl ?? 'wss://api.deepgram.com');
    const endpointing = s.endpointingMs ?? 300;
    const params: Record<string, string> = {
      model: s.model ?? 'nova-3',
      encoding: 'linear16',
      sample_rate: '16000',
      channels: '1',
      interim_results: 'true',
      vad_events: 'true',
      endpointing: endpointing === false ? 'false' : String(endpointing),
      language: this.language,
      smart_format: String(s.smartFormat ?? true),
    };
    const utteranceEnd = s.utteranceEndMs ?? 1000;
    if (utteranceEnd > 0) params.utterance_end_ms = String(utteranceEnd);
    for (const [key, value] of Object.entries({ ...params, ...s.extraParams }))
      url.searchParams.set(key, value);
    return { url: url.toString(), headers: { Authorization: `Token ${s.apiKey}` } };
  }

  protected resetConnectionState(): void {
    this.offsets = new OffsetMap();
    this.pendingFlushes = [];
    this.interim = undefined;
    this.heardUntilMs = Number.NEGATIVE_INFINITY;
  }

  protected setup(): void {}

  protected sendAudio(entry: AudioEntry): void {
    this.offsets.add(entry);
    this.sendBinary(bytesFromInt16(entry.samples));
  }

  protected sendFlush(entry: FlushEntry): boolean {
    this.sendJson({ type: 'Finalize' });
    if (!this.interim && !unreportedSound(this.journal, this.heardUntilMs)) {
      // Nothing heard awaits a final and nothing unheard could hold words, and Deepgram need not answer a
      // Finalize when it has nothing buffered: answer now rather than make the turn wait.
      this.answerFlushLocally(entry.id);
      return false;
    }
    this.pendingFlushes.push(entry.id);
    return true;
  }

  protected override sendGoodbye(): void {
    this.sendJson({ type: 'CloseStream' });
  }

  protected override keepAliveIntervalMs(): number {
    return this.settings.keepAliveIntervalMs ?? 3000;
  }

  protected override sendKeepAlive(): void {
    this.sendJson({ type: 'KeepAlive' });
  }

  protected override onResultTimeout(heardSinceFlush: boolean): void {
    if (!heardSinceFlush) {
      super.onResultTimeout(false);
      return;
    }
    // The connection is alive but the Finalize went unanswered: settle on what was heard.
    const id = this.pendingFlushes.shift();
    if (id !== undefined) this.answerFlushLocally(id);
    this.flushAnswered();
  }

  /** Built once: the stream's messages are parsed against it. */
  private readonly messageFormat: ServerMessageFormat<z.infer<typeof ServerMessage>> = {
    vendor: 'deepgram',
    schema: ServerMessage,
    known: KNOWN_TYPES,
    redact: (text) => this.redact(text),
  };

  protected handleMessage(data: RawData, isBinary: boolean): void {
    const message = parseServerMessage(this.messageFormat, data, isBinary);
    if (!message) return;
    switch (message.type) {
      case 'Results':
        this.onResults(message);
        return;
      case 'SpeechStarted':
        this.emitSpeechEvent('speechStarted', this.offsets.toSessionMs(message.timestamp));
        return;
      case 'UtteranceEnd':
        this.emitSpeechEvent('utteranceEnd', this.offsets.toSessionMs(message.last_word_end));
        return;
      case 'Error':
        throw new CloudSttError(
          'protocol',
          `deepgram error: ${this.redact(message.description ?? message.message ?? message.variant ?? 'unknown')}`,
        );
      case 'Metadata':
        return;
    }
  }

  private onResults(message: Results): void {
    const alternative = message.channel.alternatives[0];
    const text = alternative.transcript.trim();
    const startMs = this.offsets.toSessionMs(message.start);
    const endMs = this.offsets.toSessionMs(message.start + message.duration);
    const language = alternative.languages?.[0] ?? this.language;
    this.heardUntilMs = Math.max(this.heardUntilMs, endMs);
    if (!message.is_final) {
      if (!text || endMs <= this.finalizedUntilMs) return;
      if (text === this.interim?.text) return;
      this.interim = { text, startMs, endMs };
      this.emitInterim({ text, confidence: alternative.confidence, language, startMs, endMs });
      return;
    }
    this.healthy();
    this.journal.trimAudioUntil(endMs);
    const answersFlush = this.pendingFlushes.length > 0;
    const duplicate = endMs <= this.finalizedUntilMs;
    this.finalizedUntilMs = Math.max(this.finalizedUntilMs, endMs);
    this.interim = undefined;
    if (answersFlush) {
      // Deepgram finalises everything buffered on a Finalize: the first final after it answers it.
      const id = this.pendingFlushes.shift() as number;
      this.journal.trimSegment(id);
      this.flushAnswered();
    }
    if ((text || answersFlush) && !duplicate) {
      this.emitFinal({ text, confidence: alternative.confidence, language, startMs, endMs });
    } else if (answersFlush) {
      this.emitFinal({ text: '', language, startMs: endMs, endMs });
    }
    if (message.speech_final) this.emitSpeechEvent('endOfSpeech', endMs);
  }

  private answerFlushLocally(flushId: number): void {
    const interim = this.interim;
    this.interim = undefined;
    const endMs = interim?.endMs ?? this.journal.lastAudioEndMs() ?? 0;
    this.journal.trimSegment(flushId);
    if (interim) {
      this.journal.trimAudioUntil(interim.endMs);
      this.finalizedUntilMs = Math.max(this.finalizedUntilMs, interim.endMs);
    }
    this.emitFinal({
      text: interim?.text ?? '',
      language: this.language,
      startMs: interim?.startMs ?? endMs,
      endMs,
    });
  }
}
