import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Rejection } from '../../testing/http-fakes.ts';
import { SocketFake, type SocketFakeOptions, type SocketFaultPlan, tone } from './socket-fake.ts';

/**
 * A local stand-in for Cartesia's TTS WebSocket (`/tts/websocket`), from its public API reference: the key in
 * `X-API-Key` (or `?api_key=`), the version in `Cartesia-Version` (or `?cartesia_version=`). Each generation
 * request carries `model_id`, `voice`, `context_id`, `output_format` (`raw`/`pcm_s16le`), `transcript`,
 * `continue`, optionally `add_timestamps`, `language` and `flush`; `{context_id, cancel: true}` cancels a
 * context. Out come `chunk` (base64 PCM), `timestamps` (`word_timestamps` in seconds from the context's start),
 * `flush_done` (with `flush_id`), `done`, and `error` messages, all with their `context_id`. Text of a context
 * is generated at a flush or at `continue: false`; audio is a tone of `msPerCharacter` per character, so a test
 * can tell which text produced it. Faults per connection: a refused upgrade, a slow first chunk, a TCP drop
 * after some chunks, a malformed message, silence.
 */

const Request = z
  .object({
    model_id: z.string().min(1),
    transcript: z.string(),
    voice: z.object({ mode: z.literal('id'), id: z.string().min(1) }).strict(),
    language: z.string().optional(),
    context_id: z.string().min(1),
    output_format: z
      .object({
        container: z.literal('raw'),
        encoding: z.enum(['pcm_s16le', 'pcm_f32le', 'pcm_mulaw', 'pcm_alaw']),
        sample_rate: z.union([
          z.literal(8000),
          z.literal(16000),
          z.literal(22050),
          z.literal(24000),
          z.literal(44100),
          z.literal(48000),
        ]),
      })
      .strict(),
    add_timestamps: z.boolean().optional(),
    continue: z.boolean().optional(),
    flush: z.boolean().optional(),
    max_buffer_delay_ms: z.number().int().min(0).max(5000).optional(),
  })
  .strict();
const Cancel = z.object({ context_id: z.string().min(1), cancel: z.literal(true) }).strict();

export type CartesiaConnectionPlan = SocketFaultPlan;

export interface CartesiaServerOptions extends SocketFakeOptions {
  apiKey: string;
}

export interface CartesiaContextRecord {
  contextId: string;
  /** The transcript pieces as received, in order. */
  pieces: string[];
  flushes: number;
  continued: boolean[];
  cancelled: boolean;
  done: boolean;
}

export class FakeCartesiaServer extends SocketFake<CartesiaConnectionPlan, CartesiaServerOptions> {
  readonly contexts = new Map<string, CartesiaContextRecord>();
  /** Error messages the server sent (bad requests). */
  readonly errors: string[] = [];

  /** All text received for a context, joined. */
  textOf(contextId: string): string {
    return this.contexts.get(contextId)?.pieces.join('') ?? '';
  }

  protected checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status: number, message: string, headers: Record<string, string> = {}): Rejection => ({
      status,
      headers,
      body: JSON.stringify({ error: message }),
    });
    if (url.pathname !== '/tts/websocket') return json(404, `no route ${url.pathname}`);
    const key = req.headers['x-api-key'] ?? url.searchParams.get('api_key');
    if (key !== this.options.apiKey) return json(401, 'Invalid API key');
    if (!req.headers['cartesia-version'] && !url.searchParams.get('cartesia_version')) {
      return json(400, 'Cartesia-Version header is required');
    }
    return this.options.connections?.[index]?.reject;
  }

  protected serve(ws: WebSocket, _req: IncomingMessage, tcp: Socket, plan: CartesiaConnectionPlan): void {
    const pacer = this.pacer(ws, tcp, plan);
    const buffers = new Map<
      string,
      { text: string; samples: number; flushId: number; queue: Promise<void> }
    >();
    const send = (m: object) => ws.readyState === 1 && ws.send(JSON.stringify(m));
    const error = (contextId: string, status: number, title: string, message: string) => {
      this.errors.push(`${title}: ${message}`);
      send({
        type: 'error',
        context_id: contextId,
        status_code: status,
        done: true,
        title,
        message,
        error_code: 'invalid_request',
      });
    };
    const generate = async (contextId: string, text: string, rate: number, timestamps: boolean) => {
      const state = buffers.get(contextId);
      const record = this.contexts.get(contextId);
      if (!state || !record) return;
      const msPerChar = this.options.msPerCharacter ?? 5;
      const words = [...text.matchAll(/\S+/g)];
      const startSamples = state.samples;
      const totalSamples = await pacer.play(
        text,
        rate,
        () => !record.cancelled,
        '{"type":"chunk","data":"AAAA',
        (at, n) =>
          send({
            type: 'chunk',
            context_id: contextId,
            data: tone(startSamples + at, n, rate, 220).toString('base64'),
            done: false,
            status_code: 206,
            step_time: 5,
          }),
      );
      if (totalSamples === undefined) return;
      state.samples += totalSamples;
      if (timestamps && words.length) {
        const trimmedStart = text.length - text.trimStart().length;
        const at = (index: number) =>
          (startSamples + ((index - trimmedStart) * msPerChar * rate) / 1000) / rate;
        send({
          type: 'timestamps',
          context_id: contextId,
          done: false,
          status_code: 206,
          word_timestamps: {
            words: words.map((w) => w[0]),
            start: words.map((w) => at(w.index ?? 0)),
            end: words.map((w) => at((w.index ?? 0) + w[0].length)),
          },
        });
      }
    };
    ws.on('message', (data) => {
      if (plan.silent) return;
      let json: unknown;
      try {
        json = JSON.parse(String(data));
      } catch {
        return error('', 400, 'Invalid JSON', 'The message is not valid JSON.');
      }
      const cancel = Cancel.safeParse(json);
      if (cancel.success) {
        const record = this.contexts.get(cancel.data.context_id);
        if (record) record.cancelled = true;
        return;
      }
      const parsed = Request.safeParse(json);
      const contextId = (json as { context_id?: string })?.context_id ?? '';
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return error(contextId, 400, 'Invalid request', `${issue.path.join('.')}: ${issue.message}`);
      }
      const m = parsed.data;
      let record = this.contexts.get(m.context_id);
      if (!record) {
        record = {
          contextId: m.context_id,
          pieces: [],
          flushes: 0,
          continued: [],
          cancelled: false,
          done: false,
        };
        this.contexts.set(m.context_id, record);
        buffers.set(m.context_id, { text: '', samples: 0, flushId: 0, queue: Promise.resolve() });
      }
      const state = buffers.get(m.context_id);
      if (!state || record.done)
        return error(m.context_id, 400, 'Context closed', 'This context has already finished.');
      record.pieces.push(m.transcript);
      record.continued.push(m.continue === true);
      state.text += m.transcript;
      const rate = m.output_format.sample_rate;
      if (m.flush || !m.continue) {
        const text = state.text;
        state.text = '';
        const flush = m.flush === true;
        if (flush) record.flushes++;
        const final = !m.continue;
        if (final) record.done = true;
        state.queue = state.queue.then(async () => {
          if (text.trim()) await generate(m.context_id, text, rate, m.add_timestamps === true);
          if (record.cancelled || ws.readyState !== 1) return;
          if (flush)
            send({
              type: 'flush_done',
              context_id: m.context_id,
              done: false,
              flush_done: true,
              flush_id: ++state.flushId,
              status_code: 206,
            });
          if (final) send({ type: 'done', context_id: m.context_id, done: true, status_code: 206 });
        });
      }
    });
  }
}
