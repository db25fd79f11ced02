import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Rejection } from '../../testing/http-fakes.ts';
import { SocketFake, type SocketFakeOptions, type SocketFaultPlan, tone } from './socket-fake.ts';

/**
 * A local stand-in for Deepgram's streaming text-to-speech WebSocket (`/v1/speak?model=…&encoding=linear16&
 * sample_rate=…`, `Authorization: Token KEY`), from its public docs: `Metadata` on connect; `Speak {text}`
 * buffers text (at most 2000 characters a message); `Flush` synthesises the buffer as binary PCM frames and
 * answers `Flushed {sequence_id}`; `Clear` drops the buffer and stops audio in flight, answering `Cleared`;
 * `Close` closes with 1000. More than `flushLimit` flushes gives a `Warning` and no audio. A refused upgrade
 * carries `dg-error`; a message that is not valid closes the socket with 1008. Audio is a tone of
 * `msPerCharacter` per character. Faults per connection: refused, slow first audio, a TCP drop after some
 * frames, a malformed text message, silence.
 */

const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('Speak'), text: z.string().max(2000) }).strict(),
  z.object({ type: z.literal('Flush') }).strict(),
  z.object({ type: z.literal('Clear') }).strict(),
  z.object({ type: z.literal('Close') }).strict(),
]);

export type AuraConnectionPlan = SocketFaultPlan;

export interface AuraServerOptions extends SocketFakeOptions {
  apiKey: string;
  /** Flushes accepted per connection (Deepgram documents 20 per 60 s). Default 20. */
  flushLimit?: number;
}

export interface AuraConnectionRecord {
  query: URLSearchParams;
  /** Text of each flush, in order. */
  flushed: string[];
  clears: number;
  closedWith?: number;
}

export class FakeDeepgramAuraServer extends SocketFake<AuraConnectionPlan, AuraServerOptions> {
  readonly records: AuraConnectionRecord[] = [];

  protected checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const error = (status: number, code: string, message: string): Rejection => ({
      status,
      headers: { 'dg-error': message, 'dg-request-id': randomUUID() },
      body: JSON.stringify({ err_code: code, err_msg: message, request_id: randomUUID() }),
    });
    if (url.pathname !== '/v1/speak') return error(404, 'NOT_FOUND', `no route ${url.pathname}`);
    if (req.headers.authorization !== `Token ${this.options.apiKey}`)
      return error(401, 'INVALID_AUTH', 'Invalid credentials.');
    const rate = Number(url.searchParams.get('sample_rate') ?? 24000);
    if (
      !['linear16', 'mulaw', 'alaw'].includes(url.searchParams.get('encoding') ?? 'linear16') ||
      ![8000, 16000, 24000, 32000, 48000].includes(rate)
    ) {
      return error(400, 'UNSUPPORTED_AUDIO_FORMAT', 'Unsupported encoding or sample_rate.');
    }
    if (!(url.searchParams.get('model') ?? 'aura-asteria-en').startsWith('aura-'))
      return error(400, 'INVALID_MODEL', 'No such model.');
    return this.options.connections?.[index]?.reject;
  }

  protected serve(ws: WebSocket, req: IncomingMessage, tcp: Socket, plan: AuraConnectionPlan): void {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const record: AuraConnectionRecord = { query, flushed: [], clears: 0 };
    this.records.push(record);
    const rate = Number(query.get('sample_rate') ?? 24000);
    const model = query.get('model') ?? 'aura-asteria-en';
    ws.send(
      JSON.stringify({
        type: 'Metadata',
        request_id: randomUUID(),
        model_name: model,
        model_version: '2026-01-01',
        model_uuid: randomUUID(),
      }),
    );
    ws.on('close', (code) => {
      record.closedWith = code;
    });
    let buffer = '';
    let sequence = 0;
    let clearEpoch = 0;
    const pacer = this.pacer(ws, tcp, plan);
    let flushes = 0;
    let work: Promise<void> = Promise.resolve();
    const send = (m: object) => ws.readyState === 1 && ws.send(JSON.stringify(m));
    const synthesize = async (text: string, epoch: number, id: number) => {
      const sent = await pacer.play(
        text,
        rate,
        () => epoch === clearEpoch,
        '{"type":"Flushed","seq',
        (at, n) => ws.send(tone(at, n, rate, 180), { binary: true }),
      );
      if (sent === undefined) return;
      if (epoch === clearEpoch) send({ type: 'Flushed', sequence_id: id });
    };
    ws.on('message', (data, binary) => {
      if (plan.silent) return;
      let parsed: z.infer<typeof ClientMessage>;
      try {
        if (binary) throw new Error('binary');
        parsed = ClientMessage.parse(JSON.parse(String(data)));
      } catch {
        return ws.close(1008, 'DATA-0000: invalid message');
      }
      switch (parsed.type) {
        case 'Speak':
          buffer += parsed.text;
          return;
        case 'Flush': {
          flushes++;
          if (flushes > (this.options.flushLimit ?? 20)) {
            return send({
              type: 'Warning',
              description: 'Flush limit reached; wait until the 60 second window passes.',
              code: 'FLUSH_LIMIT',
            });
          }
          const text = buffer;
          buffer = '';
          record.flushed.push(text);
          const epoch = clearEpoch;
          const id = sequence++;
          work = work.then(() => synthesize(text, epoch, id));
          return;
        }
        case 'Clear': {
          record.clears++;
          buffer = '';
          clearEpoch++;
          const id = sequence++;
          // In flight audio stops at the next chunk; Cleared follows it.
          work = work.then(() => void send({ type: 'Cleared', sequence_id: id }));
          return;
        }
        case 'Close':
          return ws.close(1000);
      }
    });
  }
}
