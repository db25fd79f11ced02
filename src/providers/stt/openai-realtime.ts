import type { RawData } from 'ws';
import { z } from 'zod';
import { bytesFromInt16 } from '../../audio/frame.ts';
import { Resampler } from '../../audio/resampler.ts';
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
import { SilenceGate } from './openai-silence-gate.ts';
import { parseServerMessage, type ServerMessageFormat } from './server-message.ts';

export interface OpenAiRealtimeSttOptions extends Partial<ReconnectOptions> {
  apiKey: string;
  /** Default `gpt-4o-mini-transcribe`. */
  model?: string;
  /** Default `wss://api.openai.com/v1` (an http(s) URL is taken as its ws(s) twin). */
  baseUrl?: string;
  /** The stream's `language` wins; either is cut to ISO-639-1 (`en-US` → `en`). Default `en`. */
  language?: string;
  /** `ga`: `session.update` with `type: "transcription"`. `beta`: `transcription_session.update` + OpenAI-Beta. */
  protocol?: 'ga' | 'beta';
  /** Vocabulary or style hints for the transcription model. */
  prompt?: string;
  /** OpenAI's input noise reduction; null (default) leaves the audio as it is. */
  noiseReduction?: 'near_field' | 'far_field' | null;
  /**
   * Audio quieter than this (dBFS) before an utterance's first louder frame is held back, all but the last
   * `preRollMs`: a commit then carries the utterance, not the minutes of silence before it (which would cost
   * transcription time, money, and invite hallucinated words). null sends everything. Default -50.
   */
  silenceGateDbfs?: number | null;
  /** Quiet audio kept before the first louder frame. Default 300. */
  preRollMs?: number;
  log?: SttLog;
}

/** The API refuses commits of less audio than this. */
const MIN_COMMIT_SAMPLES_24K = 2_400;

/**
 * OpenAI realtime transcription over its WebSocket (`?intent=transcription`). Our own VAD decides the turns, so the
 * server's turn detection is off and each end-of-speech hint commits the input buffer; the transcript streams back
 * as deltas (interims) and a `completed` event (the final). Audio is resampled 16 → 24 kHz per connection.
 */
export class OpenAiRealtimeStt implements STT {
  readonly name: string;
  constructor(private readonly options: OpenAiRealtimeSttOptions) {
    if (!options.apiKey)
      throw new CloudSttError('config', 'openai-realtime needs an API key (OPENAI_API_KEY)');
    this.name = `openai-realtime:${options.model ?? 'gpt-4o-mini-transcribe'}`;
  }

  stream(listener: SttListener, options: SttStreamOptions = {}): SttStream {
    return new OpenAiRealtimeStream(this.name, this.options, listener, options);
  }
}

const ServerEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('input_audio_buffer.committed'), item_id: z.string() }),
  z.object({
    type: z.literal('conversation.item.input_audio_transcription.delta'),
    item_id: z.string(),
    delta: z.string().optional(),
  }),
  z.object({
    type: z.literal('conversation.item.input_audio_transcription.completed'),
    item_id: z.string(),
    transcript: z.string(),
  }),
  z.object({
    type: z.literal('conversation.item.input_audio_transcription.failed'),
    item_id: z.string(),
    error: z.object({ message: z.string().optional(), code: z.string().nullish() }).optional(),
  }),
  z.object({
    type: z.literal('error'),
    error: z.object({
      type: z.string().optional(),
      code: z.string().nullish(),
      message: z.string().optional(),
      event_id: z.string().nullish(),
    }),
  }),
]);
type ServerEvent = z.infer<typeof ServerEvent>;
const HANDLED = new Set(ServerEvent.options.map((o) => o.shape.type.value));

interface PendingCommit {
  flushId: number;
  eventId: string;
  itemId?: string;
  text: string;
  startMs: number;
  endMs: number;
}

class OpenAiRealtimeStream extends SocketSttStream {
  private resampler: Resampler | undefined;
  private pending: PendingCommit[] = [];
  private segment: { startMs: number; endMs: number; samples24k: number } | undefined;
  private gate: SilenceGate;
  private sessionEventId = '';
  private connectionCount = 0;
  private readonly language: string;
  private readonly settings: OpenAiRealtimeSttOptions;

  constructor(
    name: string,
    settings: OpenAiRealtimeSttOptions,
    listener: SttListener,
    options: SttStreamOptions,
  ) {
    super(name, listener, reconnectOptions(settings), settings.apiKey, options.signal);
    this.settings = settings;
    this.language = (options.language ?? settings.language ?? 'en').split(/[-_]/)[0].toLowerCase();
    this.gate = this.newGate();
    this.start();
  }

  private newGate(): SilenceGate {
    const threshold = this.settings.silenceGateDbfs === undefined ? -50 : this.settings.silenceGateDbfs;
    return new SilenceGate(threshold, this.settings.preRollMs ?? 300);
  }

  override close(): void {
    super.close();
    this.resampler?.destroy();
    this.resampler = undefined;
  }

  protected request(): SocketRequest {
    const base = (this.settings.baseUrl ?? 'wss://api.openai.com/v1')
      .replace(/^http/, 'ws')
      .replace(/\/+$/, '');
    const url = new URL(`${base}/realtime`);
    url.searchParams.set('intent', 'transcription');
    const headers: Record<string, string> = { Authorization: `Bearer ${this.settings.apiKey}` };
    if (this.settings.protocol === 'beta') headers['OpenAI-Beta'] = 'realtime=v1';
    return { url: url.toString(), headers };
  }

  protected resetConnectionState(): void {
    this.pending = [];
    this.segment = undefined;
    this.gate = this.newGate();
    this.resampler?.destroy();
    this.resampler = undefined;
  }

  protected async setup(): Promise<void> {
    // One resampler per connection: its filter state follows the audio this connection was sent, replay included.
    const resampler = await Resampler.create(16_000, 24_000);
    this.resampler?.destroy();
    this.resampler = resampler;
    this.sessionEventId = `session_update_${++this.connectionCount}`;
    const transcription = {
      model: this.settings.model ?? 'gpt-4o-mini-transcribe',
      language: this.language,
      ...(this.settings.prompt ? { prompt: this.settings.prompt } : {}),
    };
    const noise = this.settings.noiseReduction ? { type: this.settings.noiseReduction } : null;
    if (this.settings.protocol === 'beta') {
      this.sendJson({
        type: 'transcription_session.update',
        event_id: this.sessionEventId,
        session: {
          input_audio_format: 'pcm16',
          input_audio_transcription: transcription,
          turn_detection: null,
          input_audio_noise_reduction: noise,
        },
      });
    } else {
      this.sendJson({
        type: 'session.update',
        event_id: this.sessionEventId,
        session: {
          type: 'transcription',
          audio: {
            input: {
              format: { type: 'audio/pcm', rate: 24_000 },
              transcription,
              turn_detection: null,
              noise_reduction: noise,
            },
          },
        },
      });
    }
  }

  protected sendAudio(entry: AudioEntry): void {
    const { send, dropped } = this.gate.offer(entry);
    for (const quiet of dropped) this.journal.drop(quiet); // never to be sent, so no replay needs it
    for (const frame of send) this.transmit(frame);
  }

  private transmit(entry: AudioEntry): void {
    const resampler = this.resampler;
    if (!resampler) return;
    const samples = resampler.process(entry.samples);
    if (this.segment) {
      this.segment.endMs = entry.endMs;
      this.segment.samples24k += samples.length;
    } else {
      this.segment = { startMs: entry.startMs, endMs: entry.endMs, samples24k: samples.length };
    }
    if (samples.length === 0) return;
    this.sendJson({
      type: 'input_audio_buffer.append',
      audio: Buffer.from(bytesFromInt16(samples)).toString('base64'),
    });
  }

  protected sendFlush(entry: FlushEntry): boolean {
    const segment = this.segment;
    this.segment = undefined;
    this.gate.reset();
    if (!segment || segment.samples24k < MIN_COMMIT_SAMPLES_24K) {
      // Too little audio to transcribe (the API refuses it): settle the flush here, with nothing heard.
      if (segment) this.sendJson({ type: 'input_audio_buffer.clear' });
      this.journal.trimSegment(entry.id);
      const atMs = segment?.endMs ?? 0;
      this.emitFinal({ text: '', language: this.language, startMs: segment?.startMs ?? atMs, endMs: atMs });
      return false;
    }
    const eventId = `commit_${entry.id}_${this.connectionCount}`;
    this.pending.push({
      flushId: entry.id,
      eventId,
      text: '',
      startMs: segment.startMs,
      endMs: segment.endMs,
    });
    this.sendJson({ type: 'input_audio_buffer.commit', event_id: eventId });
    return true;
  }

  /** Built once: the stream's messages are parsed against it. */
  private readonly messageFormat: ServerMessageFormat<ServerEvent> = {
    vendor: 'openai-realtime',
    schema: ServerEvent,
    known: HANDLED,
    redact: (text) => this.redact(text),
  };

  protected handleMessage(data: RawData, isBinary: boolean): void {
    // Events we do not handle (session.*, rate limits, …) come back undefined: nothing to do.
    const event = parseServerMessage(this.messageFormat, data, isBinary);
    if (event) this.onEvent(event);
  }

  private onEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'input_audio_buffer.committed': {
        const commit = this.pending.find((p) => p.itemId === undefined);
        if (commit) commit.itemId = event.item_id;
        return;
      }
      case 'conversation.item.input_audio_transcription.delta': {
        const commit = this.pending.find((p) => p.itemId === event.item_id);
        if (!commit || !event.delta) return;
        commit.text += event.delta;
        const text = commit.text.trim();
        if (text)
          this.emitInterim({ text, language: this.language, startMs: commit.startMs, endMs: commit.endMs });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed':
        this.healthy();
        this.settle(
          this.pending.find((p) => p.itemId === event.item_id),
          event.transcript,
        );
        return;
      case 'conversation.item.input_audio_transcription.failed': {
        const commit = this.pending.find((p) => p.itemId === event.item_id);
        this.report(
          new CloudSttError(
            'server',
            `openai-realtime could not transcribe an utterance: ${this.redact(event.error?.message ?? 'unknown error')}`,
          ),
        );
        this.settle(commit, commit?.text ?? '');
        return;
      }
      case 'error':
        this.onErrorEvent(event.error);
        return;
    }
  }

  private onErrorEvent(error: Extract<ServerEvent, { type: 'error' }>['error']): void {
    const detail = this.redact(`${error.message ?? 'unknown error'}${error.code ? ` (${error.code})` : ''}`);
    if (error.event_id && error.event_id === this.sessionEventId) {
      // The session configuration was refused (model, language): retrying the same cannot help.
      this.failConnection(new CloudSttError('bad-request', `openai-realtime refused the session: ${detail}`));
      return;
    }
    if (error.type === 'server_error') {
      this.failConnection(new CloudSttError('server', `openai-realtime server error: ${detail}`));
      return;
    }
    const commit = error.event_id ? this.pending.find((p) => p.eventId === error.event_id) : undefined;
    if (commit) this.settle(commit, commit.text);
    this.report(new CloudSttError('protocol', `openai-realtime error: ${detail}`));
  }

  private settle(commit: PendingCommit | undefined, transcript: string): void {
    if (!commit) return;
    this.pending.splice(this.pending.indexOf(commit), 1);
    this.journal.trimSegment(commit.flushId);
    this.flushAnswered();
    this.emitFinal({
      text: transcript.trim(),
      language: this.language,
      startMs: commit.startMs,
      endMs: commit.endMs,
    });
  }
}
