import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { decodeWords } from './coded-speech.ts';
import { FakeSocketProvider, OrderedSender, type Rejection } from './fake-server.ts';

export interface RealtimeConnectionPlan {
  /** Refuse the upgrade, e.g. `{ status: 429, headers: { 'retry-after': '1' } }`. */
  reject?: Rejection;
  /** Cut the TCP connection (no close frame) when this many commits have arrived, before answering the last. */
  dropOnCommit?: number;
  /** Cut the connection once this much audio (ms) is in the input buffer. */
  dropAfterAudioMs?: number;
  /** Hold the first message after the session events back this long. */
  firstResultDelayMs?: number;
  /** Accept everything and answer nothing after the session events: a stalled connection. */
  silent?: boolean;
  /** Raw text frames sent when the first audio arrives (malformed messages). */
  junkFirst?: string[];
  /** Answer the n-th commit (1-based) with a server_error event instead of a transcript. */
  serverErrorOnCommit?: number;
}

export interface RealtimeServerOptions {
  apiKey: string;
  vocabulary: readonly string[];
  connections?: RealtimeConnectionPlan[];
}

const TRANSCRIPTION_MODELS = [
  'gpt-4o-transcribe',
  'gpt-4o-mini-transcribe',
  'whisper-1',
  'gpt-live-transcribe',
];
const Transcription = z
  .object({
    model: z.enum(TRANSCRIPTION_MODELS),
    language: z
      .string()
      .regex(/^[a-z]{2}$/, 'language must be an ISO-639-1 code such as "en"')
      .optional(),
    prompt: z.string().optional(),
  })
  .strict();
const GaSessionUpdate = z.object({
  type: z.literal('session.update'),
  event_id: z.string().optional(),
  session: z.object({
    type: z.literal('transcription'),
    audio: z.object({
      input: z.object({
        format: z.object({ type: z.literal('audio/pcm'), rate: z.literal(24_000) }).strict(),
        transcription: Transcription,
        turn_detection: z.null(),
        noise_reduction: z
          .object({ type: z.enum(['near_field', 'far_field']) })
          .nullable()
          .optional(),
      }),
    }),
    include: z.array(z.string()).optional(),
  }),
});
const BetaSessionUpdate = z.object({
  type: z.literal('transcription_session.update'),
  event_id: z.string().optional(),
  session: z.object({
    input_audio_format: z.literal('pcm16'),
    input_audio_transcription: Transcription,
    turn_detection: z.null(),
    input_audio_noise_reduction: z
      .object({ type: z.enum(['near_field', 'far_field']) })
      .nullable()
      .optional(),
  }),
});
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ClientEvent = z.discriminatedUnion('type', [
  GaSessionUpdate,
  BetaSessionUpdate,
  z.object({
    type: z.literal('input_audio_buffer.append'),
    event_id: z.string().optional(),
    audio: z
      .string()
      .refine((s) => s.length % 4 === 0 && BASE64.test(s), 'audio must be base64')
      .refine((s) => Buffer.from(s, 'base64').byteLength % 2 === 0, 'pcm16 needs an even byte count'),
  }),
  z.object({ type: z.literal('input_audio_buffer.commit'), event_id: z.string().optional() }),
  z.object({ type: z.literal('input_audio_buffer.clear'), event_id: z.string().optional() }),
]);
type ClientEvent = z.infer<typeof ClientEvent>;

export interface RealtimeConnectionRecord {
  index: number;
  beta: boolean;
  session?: ClientEvent;
  audioMs: number;
  commits: number;
  transcripts: string[];
  errors: string[];
}

/**
 * A local server speaking OpenAI's realtime transcription protocol (`/v1/realtime?intent=transcription`): the GA
 * `session.update` (type `transcription`) or the beta `transcription_session.update` (with `OpenAI-Beta:
 * realtime=v1`), base64 `input_audio_buffer.append` at 24 kHz, manual `input_audio_buffer.commit` (at least 100 ms),
 * `conversation.item.input_audio_transcription.delta` / `.completed`, and `error` events shaped like the API's.
 * Transcripts come from decoding tone-coded audio (see coded-speech.ts).
 */
export class FakeOpenAiRealtimeServer extends FakeSocketProvider {
  readonly records: RealtimeConnectionRecord[] = [];

  constructor(private readonly options: RealtimeServerOptions) {
    super();
  }

  /** The base URL a client takes (`ws://127.0.0.1:PORT/v1`). */
  get url(): string {
    return `ws://127.0.0.1:${this.http.port}/v1`;
  }

  protected checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const error = (status: number, type: string, code: string | null, message: string): Rejection => ({
      status,
      body: JSON.stringify({ error: { message, type, code, param: null } }),
    });
    if (url.pathname !== '/v1/realtime') return error(404, 'invalid_request_error', null, 'Not found');
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${this.options.apiKey}`) {
      const given = auth.replace(/^Bearer /, '');
      const masked = given.length > 8 ? `${given.slice(0, 4)}***${given.slice(-4)}` : '***';
      return error(
        401,
        'invalid_request_error',
        'invalid_api_key',
        `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      );
    }
    const planned = this.options.connections?.[index]?.reject;
    if (planned) return planned;
    if (url.searchParams.get('intent') !== 'transcription')
      return error(
        400,
        'invalid_request_error',
        'invalid_intent',
        'this server only takes intent=transcription',
      );
    return undefined;
  }

  protected serve(ws: WebSocket, req: IncomingMessage, index: number): void {
    const plan = this.options.connections?.[index] ?? {};
    const beta = req.headers['openai-beta'] === 'realtime=v1';
    const record: RealtimeConnectionRecord = {
      index,
      beta,
      audioMs: 0,
      commits: 0,
      transcripts: [],
      errors: [],
    };
    this.records.push(record);
    const sender = new OrderedSender(ws, 0);
    let delayed = plan.firstResultDelayMs ?? 0;
    const event = (type: string, body: object) => ({ type, event_id: `event_${randomUUID()}`, ...body });
    const send = (message: object | string) => {
      if (plan.silent) return;
      if (delayed > 0) {
        sender.pause(delayed);
        delayed = 0;
      }
      sender.send(message);
    };
    const error = (
      type: string,
      code: string,
      message: string,
      eventId?: string,
      param: string | null = null,
    ) => {
      record.errors.push(code);
      send(event('error', { error: { type, code, message, param, event_id: eventId ?? null } }));
    };
    // A fresh session always announces itself, before any plan applies.
    sender.send(
      event(beta ? 'transcription_session.created' : 'session.created', {
        session: beta
          ? { id: `sess_${index}`, object: 'realtime.transcription_session', input_audio_format: 'pcm16' }
          : {
              type: 'transcription',
              id: `sess_${index}`,
              object: 'realtime.transcription_session',
              audio: { input: { format: { type: 'audio/pcm', rate: 24_000 } } },
            },
      }),
    );
    let buffer: Int16Array[] = [];
    let bufferSamples = 0;
    let previousItem: string | null = null;
    let junkSent = false;
    let ended = false;

    ws.on('message', (data, isBinary) => {
      if (ended) return;
      if (isBinary) return error('invalid_request_error', 'invalid_event', 'binary frames are not accepted');
      let json: unknown;
      try {
        json = JSON.parse(data.toString());
      } catch {
        return error('invalid_request_error', 'invalid_json', 'The event is not valid JSON.');
      }
      const parsed = ClientEvent.safeParse(json);
      const eventId = (json as { event_id?: string })?.event_id;
      if (!parsed.success) {
        const type = (json as { type?: unknown })?.type;
        const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        return error('invalid_request_error', 'invalid_value', `Invalid ${String(type)}: ${issues}`, eventId);
      }
      const message = parsed.data;
      switch (message.type) {
        case 'session.update':
        case 'transcription_session.update':
          if ((message.type === 'transcription_session.update') !== beta)
            return error(
              'invalid_request_error',
              'invalid_value',
              `${message.type} needs the other protocol`,
              eventId,
            );
          record.session = message;
          sender.send(
            event(beta ? 'transcription_session.updated' : 'session.updated', { session: message.session }),
          );
          return;
        case 'input_audio_buffer.append': {
          const bytes = Buffer.from(message.audio, 'base64');
          const samples = new Int16Array(bytes.byteLength / 2);
          for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
          buffer.push(samples);
          bufferSamples += samples.length;
          record.audioMs += samples.length / 24;
          if (plan.junkFirst && !junkSent) {
            junkSent = true;
            for (const junk of plan.junkFirst) sender.send(junk);
          }
          if (plan.dropAfterAudioMs !== undefined && record.audioMs >= plan.dropAfterAudioMs) {
            ended = true;
            ws.terminate();
          }
          return;
        }
        case 'input_audio_buffer.clear':
          buffer = [];
          bufferSamples = 0;
          send(event('input_audio_buffer.cleared', {}));
          return;
        case 'input_audio_buffer.commit': {
          record.commits++;
          if (plan.dropOnCommit === record.commits) {
            ended = true;
            ws.terminate();
            return;
          }
          const ms = bufferSamples / 24;
          if (ms < 100) {
            return error(
              'invalid_request_error',
              'input_audio_buffer_commit_empty',
              `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${ms.toFixed(2)}ms of audio.`,
              eventId,
            );
          }
          const itemId = `item_${randomUUID().slice(0, 8)}`;
          const all = new Int16Array(bufferSamples);
          let offset = 0;
          for (const chunk of buffer) {
            all.set(chunk, offset);
            offset += chunk.length;
          }
          buffer = [];
          bufferSamples = 0;
          send(event('input_audio_buffer.committed', { previous_item_id: previousItem, item_id: itemId }));
          previousItem = itemId;
          if (plan.serverErrorOnCommit === record.commits)
            return error(
              'server_error',
              'server_error',
              'The server had an error while processing your request.',
            );
          const words = decodeWords(this.options.vocabulary, all, 24_000).map((w) => w.word);
          words.forEach((word, i) => {
            send(
              event('conversation.item.input_audio_transcription.delta', {
                item_id: itemId,
                content_index: 0,
                delta: i === 0 ? word : ` ${word}`,
              }),
            );
          });
          const transcript = words.join(' ');
          record.transcripts.push(transcript);
          send(
            event('conversation.item.input_audio_transcription.completed', {
              item_id: itemId,
              content_index: 0,
              transcript,
              usage: { type: 'duration', seconds: Math.ceil(ms / 1000) },
            }),
          );
          return;
        }
      }
    });
  }
}
