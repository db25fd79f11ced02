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
import { OffsetMap } from './deepgram.ts';
import { parseServerMessage, type ServerMessageFormat } from './server-message.ts';
import { unreportedSound } from './unreported-sound.ts';

/** The API version this client speaks (the `Cartesia-Version` header), as the TTS client does. */
export const CARTESIA_STT_VERSION = '2025-04-16';

export interface CartesiaSttOptions extends Partial<ReconnectOptions> {
  apiKey: string;
  /** `ink-whisper` (default, multilingual) or another of Cartesia's STT models (`ink-2`: English only). */
  model?: string;
  /** Default `wss://api.cartesia.ai`; the socket is `<base>/stt/websocket`. */
  baseUrl?: string;
  /** ISO-639-1 code sent as `language`; a stream's own `language` wins. Default `en`. */
  language?: string;
  log?: SttLog;
}

/**
 * Cartesia's realtime speech-to-text (Ink) over its documented WebSocket, `/stt/websocket` (the "manual" endpoint:
 * no turn detection of its own; the session's turn detector decides). Binary PCM in; `transcript` messages out
 * (interims with `is_final: false`, and final pieces — deltas — with `is_final: true`); the text command `finalize`
 * ends the utterance and is answered by `flush_done` once its finals are sent; `done` closes the session (answered
 * by `done`); `error` messages carry `message`. One connection per stream, opened when the stream starts and
 * reused for every turn; a dropped connection reconnects and replays the audio not yet finalised.
 */
export class CartesiaStt implements STT {
  readonly name: string;
  constructor(private readonly options: CartesiaSttOptions) {
    if (!options.apiKey)
      throw new CloudSttError('config', 'cartesia stt needs an API key (CARTESIA_API_KEY)');
    this.name = `cartesia:${options.model ?? 'ink-whisper'}`;
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): SttStream {
    return new CartesiaSttStream(this.name, this.options, listener, options);
  }
}

const Word = z.object({ word: z.string(), start: z.number(), end: z.number() }).passthrough();
const ServerMessage = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('transcript'),
      is_final: z.boolean(),
      text: z.string(),
      duration: z.number().optional(),
      language: z.string().optional(),
      words: z.array(Word).optional(),
    })
    .passthrough(),
  z.object({ type: z.literal('flush_done') }).passthrough(),
  z.object({ type: z.literal('done') }).passthrough(),
  z
    .object({ type: z.literal('error'), message: z.string().optional(), title: z.string().optional() })
    .passthrough(),
]);
type TranscriptMessage = Extract<z.infer<typeof ServerMessage>, { type: 'transcript' }>;
const KNOWN_TYPES = new Set(['transcript', 'flush_done', 'done', 'error']);

/** The ISO-639-1 part of a BCP-47 tag (`en-US` → `en`), which is what Cartesia takes. */
const isoLanguage = (tag: string) => tag.split(/[-_]/)[0].toLowerCase();

class CartesiaSttStream extends SocketSttStream {
  private offsets = new OffsetMap();
  private pendingFlushes: number[] = [];
  /** The utterance so far: final pieces (deltas, concatenated as they come) and the live interim. */
  private finals = '';
  private interim: { text: string; startMs: number; endMs: number } | undefined;
  private spanMs: { startMs: number; endMs: number } | undefined;
  private heardUntilMs = Number.NEGATIVE_INFINITY;
  private readonly language: string;

  constructor(
    name: string,
    private readonly settings: CartesiaSttOptions,
    listener: SttListener,
    options: SttStreamOptions,
  ) {
    super(name, listener, reconnectOptions(settings), settings.apiKey, options.signal);
    this.language = options.language ?? settings.language ?? 'en';
    this.start();
  }

  protected request(): SocketRequest {
    const s = this.settings;
    const url = new URL('/stt/websocket', s.baseUrl ?? 'wss://api.cartesia.ai');
    // One base URL serves both of Cartesia's APIs: its https form names the same host.
    url.protocol = url.protocol.replace(/^http/, 'ws');
    const params = {
      model: s.model ?? 'ink-whisper',
      language: isoLanguage(this.language),
      encoding: 'pcm_s16le',
      sample_rate: '16000',
    };
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return {
      url: url.toString(),
      headers: { 'X-API-Key': s.apiKey, 'Cartesia-Version': CARTESIA_STT_VERSION },
    };
  }

  protected resetConnectionState(): void {
    this.offsets = new OffsetMap();
    this.pendingFlushes = [];
    this.finals = '';
    this.interim = undefined;
    this.spanMs = undefined;
    this.heardUntilMs = Number.NEGATIVE_INFINITY;
  }

  protected setup(): void {}

  protected sendAudio(entry: AudioEntry): void {
    this.offsets.add(entry);
    this.sendBinary(bytesFromInt16(entry.samples));
  }

  protected sendFlush(entry: FlushEntry): boolean {
    if (!this.interim && !this.finals && !unreportedSound(this.journal, this.heardUntilMs)) {
      // Nothing heard awaits a final and nothing unheard could hold words: answer now.
      this.answerLocally(entry.id);
      return false;
    }
    this.sendText('finalize');
    this.pendingFlushes.push(entry.id);
    return true;
  }

  protected override sendGoodbye(): void {
    this.sendText('done');
  }

  protected override onResultTimeout(heardSinceFlush: boolean): void {
    if (!heardSinceFlush) {
      super.onResultTimeout(false);
      return;
    }
    // The connection is alive but the finalize went unanswered: settle on what was heard.
    const id = this.pendingFlushes.shift();
    if (id !== undefined) this.answerLocally(id);
    this.flushAnswered();
  }

  /** Built once: the stream's messages are parsed against it. */
  private readonly messageFormat: ServerMessageFormat<z.infer<typeof ServerMessage>> = {
    vendor: 'cartesia',
    schema: ServerMessage,
    known: KNOWN_TYPES,
    redact: (text) => this.redact(text),
  };

  protected handleMessage(data: RawData, isBinary: boolean): void {
    const message = parseServerMessage(this.messageFormat, data, isBinary);
    if (!message) return;
    switch (message.type) {
      case 'transcript':
        this.onTranscript(message);
        return;
      case 'flush_done':
        this.onFlushDone();
        return;
      case 'error':
        throw new CloudSttError(
          'protocol',
          `cartesia error: ${this.redact(message.message ?? message.title ?? 'unknown')}`,
        );
      case 'done':
        return;
    }
  }

  /** The span a message covers on the session clock: its words, else what this connection has heard so far. */
  private span(message: TranscriptMessage): { startMs: number; endMs: number } {
    const words = message.words ?? [];
    if (words.length) {
      return {
        startMs: this.offsets.toSessionMs(words[0].start),
        endMs: this.offsets.toSessionMs((words.at(-1) as { end: number }).end),
      };
    }
    const endMs = this.journal.lastAudioEndMs() ?? 0;
    return { startMs: this.spanMs?.startMs ?? endMs, endMs };
  }

  private onTranscript(message: TranscriptMessage): void {
    const span = this.span(message);
    this.heardUntilMs = Math.max(this.heardUntilMs, span.endMs);
    this.spanMs = {
      startMs: Math.min(this.spanMs?.startMs ?? span.startMs, span.startMs),
      endMs: span.endMs,
    };
    if (message.is_final) {
      // Final pieces are deltas: concatenated as sent (Cartesia's docs: without stripping whitespace).
      this.finals += message.text;
      this.interim = undefined;
      return;
    }
    const live = `${this.finals}${message.text}`.trim();
    if (!live || live === this.interim?.text) return;
    this.interim = { text: live, ...this.spanMs };
    this.emitInterim({ text: live, language: this.language, ...this.spanMs });
  }

  private onFlushDone(): void {
    const id = this.pendingFlushes.shift();
    if (id === undefined) return;
    this.healthy();
    const text = (this.finals || this.interim?.text || '').trim();
    const endMs = this.spanMs?.endMs ?? this.journal.lastAudioEndMs() ?? 0;
    const startMs = this.spanMs?.startMs ?? endMs;
    this.journal.trimAudioUntil(endMs);
    this.journal.trimSegment(id);
    this.finals = '';
    this.interim = undefined;
    this.spanMs = undefined;
    this.flushAnswered();
    this.emitFinal({ text, language: this.language, startMs, endMs });
  }

  private answerLocally(flushId: number): void {
    const text = (this.finals || this.interim?.text || '').trim();
    const endMs = this.spanMs?.endMs ?? this.journal.lastAudioEndMs() ?? 0;
    const startMs = this.spanMs?.startMs ?? endMs;
    this.journal.trimSegment(flushId);
    if (this.spanMs) this.journal.trimAudioUntil(endMs);
    this.finals = '';
    this.interim = undefined;
    this.spanMs = undefined;
    this.emitFinal({ text, language: this.language, startMs, endMs });
  }
}
