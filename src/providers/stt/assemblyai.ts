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

export interface AssemblyAiSttOptions extends Partial<ReconnectOptions> {
  apiKey: string;
  /** Default `wss://streaming.assemblyai.com`; the socket is `<base>/v3/ws`. */
  baseUrl?: string;
  /** BCP-47 tag reported on transcripts; a stream's own `language` wins. Default `en`. */
  language?: string;
  /** `universal-streaming-english` (default) or `universal-streaming-multilingual`. */
  speechModel?: string;
  /** End-of-turn confidence above which a pause ends the turn (AssemblyAI's default 0.4). */
  endOfTurnConfidenceThreshold?: number;
  /** Silence (ms) that ends a turn once confident (default 400). */
  minEndOfTurnSilenceWhenConfidentMs?: number;
  /** Silence (ms) that ends a turn regardless (default 1280). */
  maxTurnSilenceMs?: number;
  /** Wait for the punctuated, formatted transcript of each turn (a little later). Default false. */
  formatTurns?: boolean;
  /** Audio per message: AssemblyAI takes 50–1000 ms chunks. Default 60 ms (three 20 ms frames). */
  chunkMs?: number;
  /** KeepAlive during silence. Default 0 (none: no inactivity_timeout is asked for). */
  keepAliveIntervalMs?: number;
  log?: SttLog;
}

/**
 * AssemblyAI Universal-Streaming (v3) over its WebSocket: binary PCM in, `Begin` / `SpeechStarted` / `Turn` /
 * `Termination` out. A turn's partial `Turn` messages are interims; the one with `end_of_turn: true` is the final,
 * and its end of turn reaches the turn detector as an `endOfSpeech` signal (as Deepgram's speech_final does). A
 * flush sends `ForceEndpoint`; a dropped connection reconnects and replays the audio not yet finalised.
 */
export class AssemblyAiStt implements STT {
  readonly name: string;
  constructor(private readonly options: AssemblyAiSttOptions) {
    if (!options.apiKey)
      throw new CloudSttError('config', 'assemblyai needs an API key (ASSEMBLYAI_API_KEY)');
    this.name = `assemblyai:${options.speechModel ?? 'universal-streaming-english'}`;
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): SttStream {
    return new AssemblyAiStream(this.name, this.options, listener, options);
  }
}

const Word = z.object({
  start: z.number(),
  end: z.number(),
  text: z.string(),
  word_is_final: z.boolean().optional(),
});
const ServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Begin'), id: z.string() }).passthrough(),
  z.object({ type: z.literal('SpeechStarted'), timestamp: z.number().optional() }).passthrough(),
  z
    .object({
      type: z.literal('Turn'),
      turn_order: z.number(),
      end_of_turn: z.boolean(),
      turn_is_formatted: z.boolean().optional(),
      transcript: z.string(),
      end_of_turn_confidence: z.number().optional(),
      words: z.array(Word).default([]),
    })
    .passthrough(),
  z.object({ type: z.literal('Termination') }).passthrough(),
  z.object({ type: z.literal('Error'), error: z.string() }).passthrough(),
]);
type Turn = Extract<z.infer<typeof ServerMessage>, { type: 'Turn' }>;
const KNOWN_TYPES = new Set(['Begin', 'SpeechStarted', 'Turn', 'Termination', 'Error']);

class AssemblyAiStream extends SocketSttStream {
  /** Session-clock start of each run of audio sent on this connection, by its offset in the connection's audio. */
  private runs: { offsetMs: number; startMs: number }[] = [];
  private sentMs = 0;
  private lastEndMs: number | undefined;
  private pending: AudioEntry[] = [];
  private pendingFlushes: number[] = [];
  private interim: { text: string; startMs: number; endMs: number } | undefined;
  private heardUntilMs = Number.NEGATIVE_INFINITY;
  private finalizedTurns = new Set<number>();
  private readonly language: string;

  constructor(
    name: string,
    private readonly settings: AssemblyAiSttOptions,
    listener: SttListener,
    options: SttStreamOptions,
  ) {
    super(name, listener, reconnectOptions(settings), settings.apiKey, options.signal);
    this.language = options.language ?? settings.language ?? 'en';
    this.start();
  }

  protected request(): SocketRequest {
    const s = this.settings;
    const url = new URL('/v3/ws', s.baseUrl ?? 'wss://streaming.assemblyai.com');
    const params: Record<string, string> = {
      sample_rate: '16000',
      encoding: 'pcm_s16le',
      speech_model: s.speechModel ?? 'universal-streaming-english',
      format_turns: String(s.formatTurns ?? false),
    };
    if (s.endOfTurnConfidenceThreshold !== undefined)
      params.end_of_turn_confidence_threshold = String(s.endOfTurnConfidenceThreshold);
    if (s.minEndOfTurnSilenceWhenConfidentMs !== undefined)
      params.min_end_of_turn_silence_when_confident = String(s.minEndOfTurnSilenceWhenConfidentMs);
    if (s.maxTurnSilenceMs !== undefined) params.max_turn_silence = String(s.maxTurnSilenceMs);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return { url: url.toString(), headers: { Authorization: s.apiKey } };
  }

  protected resetConnectionState(): void {
    this.runs = [];
    this.sentMs = 0;
    this.lastEndMs = undefined;
    this.pending = [];
    this.pendingFlushes = [];
    this.interim = undefined;
    this.heardUntilMs = Number.NEGATIVE_INFINITY;
    this.finalizedTurns = new Set();
  }

  protected setup(): void {}

  protected sendAudio(entry: AudioEntry): void {
    this.pending.push(entry);
    const pendingMs = this.pending.reduce((n, e) => n + (e.endMs - e.startMs), 0);
    if (pendingMs >= (this.settings.chunkMs ?? 60)) this.sendPending();
  }

  /** Sends the buffered frames as one message, padded with silence to AssemblyAI's 50 ms minimum. */
  private sendPending(): void {
    if (this.pending.length === 0) return;
    for (const entry of this.pending) {
      if (this.lastEndMs === undefined || Math.abs(entry.startMs - this.lastEndMs) >= 0.5) {
        this.runs.push({ offsetMs: this.sentMs, startMs: entry.startMs });
        if (this.runs.length > 256) this.runs.shift();
      }
      this.sentMs += entry.endMs - entry.startMs;
      this.lastEndMs = entry.endMs;
    }
    const total = this.pending.reduce((n, e) => n + e.samples.length, 0);
    const samples = new Int16Array(Math.max(total, 800));
    let at = 0;
    for (const e of this.pending) {
      samples.set(e.samples, at);
      at += e.samples.length;
    }
    if (samples.length > total) {
      // The padding is audio the server hears: later offsets start after it.
      this.sentMs += ((samples.length - total) * 1000) / 16_000;
      this.lastEndMs = undefined;
    }
    this.pending = [];
    this.sendBinary(bytesFromInt16(samples));
  }

  private toSessionMs(offsetMs: number): number {
    let run = this.runs[0];
    if (!run) return offsetMs;
    for (const candidate of this.runs) {
      if (candidate.offsetMs > offsetMs) break;
      run = candidate;
    }
    return run.startMs + Math.max(0, offsetMs - run.offsetMs);
  }

  protected sendFlush(entry: FlushEntry): boolean {
    this.sendPending();
    if (!this.interim && !unreportedSound(this.journal, this.heardUntilMs)) {
      this.answerLocally(entry.id);
      return false;
    }
    this.sendJson({ type: 'ForceEndpoint' });
    this.pendingFlushes.push(entry.id);
    return true;
  }

  protected override sendGoodbye(): void {
    this.sendPending();
    this.sendJson({ type: 'Terminate' });
  }

  protected override keepAliveIntervalMs(): number {
    return this.settings.keepAliveIntervalMs ?? 0;
  }

  protected override sendKeepAlive(): void {
    this.sendJson({ type: 'KeepAlive' });
  }

  protected override onResultTimeout(heardSinceFlush: boolean): void {
    if (!heardSinceFlush) {
      super.onResultTimeout(false);
      return;
    }
    const id = this.pendingFlushes.shift();
    if (id !== undefined) this.answerLocally(id);
    this.flushAnswered();
  }

  protected override closeError(code: number, reason: string): CloudSttError {
    // AssemblyAI closes with 1008 for a bad key and 3005-style codes for bad requests or sessions it ends.
    const detail = `${this.provider} closed the connection (${code}${reason ? ` ${reason}` : ''})`;
    if (code === 1008 || code === 4001 || code === 4002) return new CloudSttError('auth', detail);
    if (code >= 3000 && code < 4000 && code !== 3005) return new CloudSttError('bad-request', detail);
    return super.closeError(code, reason);
  }

  /** Built once: the stream's messages are parsed against it. */
  private readonly messageFormat: ServerMessageFormat<z.infer<typeof ServerMessage>> = {
    vendor: 'assemblyai',
    schema: ServerMessage,
    known: KNOWN_TYPES,
    redact: (text) => this.redact(text),
  };

  protected handleMessage(data: RawData, isBinary: boolean): void {
    const message = parseServerMessage(this.messageFormat, data, isBinary);
    if (!message) return;
    switch (message.type) {
      case 'Turn':
        this.onTurn(message);
        return;
      case 'SpeechStarted':
        if (message.timestamp !== undefined)
          this.emitSpeechEvent('speechStarted', this.toSessionMs(message.timestamp));
        return;
      case 'Error':
        throw new CloudSttError('protocol', `assemblyai error: ${this.redact(message.error)}`);
      default:
        return;
    }
  }

  private onTurn(turn: Turn): void {
    const words = turn.words;
    const startMs = words.length ? this.toSessionMs(words[0].start) : (this.journal.lastAudioEndMs() ?? 0);
    const endMs = words.length ? this.toSessionMs((words.at(-1) as { end: number }).end) : startMs;
    this.heardUntilMs = Math.max(this.heardUntilMs, endMs);
    const text = (turn.transcript || words.map((w) => w.text).join(' ')).trim();
    if (!turn.end_of_turn) {
      // The hypothesis so far: final words, then the ones still changing.
      const live =
        words
          .map((w) => w.text)
          .join(' ')
          .trim() || text;
      if (!live || live === this.interim?.text) return;
      this.interim = { text: live, startMs, endMs };
      this.emitInterim({ text: live, language: this.language, startMs, endMs });
      return;
    }
    if (this.settings.formatTurns && !turn.turn_is_formatted) {
      // The formatted copy follows: only the signal now.
      this.emitSpeechEvent('endOfSpeech', endMs);
      return;
    }
    if (this.finalizedTurns.has(turn.turn_order)) return;
    this.finalizedTurns.add(turn.turn_order);
    this.healthy();
    this.journal.trimAudioUntil(endMs);
    this.interim = undefined;
    const id = this.pendingFlushes.shift();
    if (id !== undefined) {
      this.journal.trimSegment(id);
      this.flushAnswered();
    }
    // The signal first: the session asks its turn detector when the final arrives, and should have it then.
    if (!this.settings.formatTurns) this.emitSpeechEvent('endOfSpeech', endMs);
    this.emitFinal({ text, language: this.language, startMs, endMs });
  }

  private answerLocally(flushId: number): void {
    const interim = this.interim;
    this.interim = undefined;
    const endMs = interim?.endMs ?? this.journal.lastAudioEndMs() ?? 0;
    this.journal.trimSegment(flushId);
    if (interim) this.journal.trimAudioUntil(interim.endMs);
    this.emitFinal({
      text: interim?.text ?? '',
      language: this.language,
      startMs: interim?.startMs ?? endMs,
      endMs,
    });
  }
}
