import { createHash, timingSafeEqual } from 'node:crypto';
import { verifySignature } from '@vonage/jwt';
import { bytesFromInt16, int16FromBytes } from '../../audio/frame.ts';
import { requireDigit } from './twilio.ts';
import {
  field,
  type PhoneWire,
  parseJson,
  stringRecord,
  TelephonyProtocolError,
  type WireEvent,
} from './wire.ts';

const P = 'vonage';
const RATES = new Set([8000, 16000]);

/**
 * Vonage Voice WebSocket (NCCO `connect` to a `websocket` endpoint): a `websocket:connected` text message with
 * the content type and our headers, then binary 16-bit little-endian linear PCM (20 ms frames) both ways;
 * text events `websocket:dtmf`, `websocket:notify` (our marks come back), `websocket:cleared`; commands
 * `{"action":"notify"}` and `{"action":"clear"}`. Vonage has no stop message: the socket closes.
 */
export function createVonageWire(): PhoneWire {
  let rate: number | undefined;
  const wire: PhoneWire = {
    provider: P,
    get sampleRate() {
      return rate ?? 16000;
    },
    frameMs: 20,
    parse(data, isBinary): WireEvent {
      if (isBinary) {
        if (rate === undefined) throw new TelephonyProtocolError(`${P}: audio before websocket:connected`);
        if (data.length % 2 !== 0)
          throw new TelephonyProtocolError(`${P}: audio frame of odd length ${data.length}`);
        if (data.length === 0 || data.length > rate * 2)
          throw new TelephonyProtocolError(`${P}: audio frame of ${data.length} bytes (expected 20 ms)`);
        return { kind: 'media', samples: int16FromBytes(data) };
      }
      const message = parseJson(data, P);
      const event = message.event;
      if (event === 'websocket:connected') {
        if (rate !== undefined) throw new TelephonyProtocolError(`${P}: a second websocket:connected`);
        const contentType = String(message['content-type'] ?? '');
        const match = /^audio\/l16;rate=(\d+)$/i.exec(contentType.replace(/\s+/g, ''));
        const parsed = match ? Number(match[1]) : Number.NaN;
        if (!RATES.has(parsed))
          throw new TelephonyProtocolError(
            `${P}: unsupported content-type ${JSON.stringify(contentType)} (expected audio/l16;rate=16000 or 8000)`,
          );
        rate = parsed;
        const parameters = stringRecord(message);
        return {
          kind: 'start',
          start: {
            callId: parameters.call ?? parameters.uuid ?? 'unknown',
            streamId: parameters.call ?? 'vonage',
            sampleRate: parsed,
            parameters,
          },
        };
      }
      if (rate === undefined)
        throw new TelephonyProtocolError(`${P}: "${String(event)}" before websocket:connected`);
      if (event === 'websocket:dtmf')
        return { kind: 'dtmf', digit: requireDigit(message.digit ?? field(message.dtmf, 'digits')) };
      if (event === 'websocket:notify') {
        const name = field(message.payload, 'mark');
        if (typeof name !== 'string') return { kind: 'ignored', reason: 'notify without our mark' };
        return { kind: 'mark', name };
      }
      if (event === 'websocket:cleared') return { kind: 'cleared' };
      if (typeof event === 'string' && event.startsWith('websocket:'))
        return { kind: 'ignored', reason: event };
      throw new TelephonyProtocolError(`${P}: unknown event ${JSON.stringify(event)}`);
    },
    media(samples) {
      // Vonage plays exact 20 ms frames: a short last chunk is padded with silence.
      const frame = (wire.sampleRate * wire.frameMs) / 1000;
      if (samples.length === frame) return Buffer.from(bytesFromInt16(samples));
      const padded = new Int16Array(Math.ceil(samples.length / frame) * frame);
      padded.set(samples);
      return Buffer.from(bytesFromInt16(padded));
    },
    mark: (name) => JSON.stringify({ action: 'notify', payload: { mark: name } }),
    clear: () => JSON.stringify({ action: 'clear' }),
  };
  return wire;
}

/** The NCCO answering a call: connect it to our WebSocket at 16 kHz L16, with our headers (the call's token). */
export function vonageStreamNcco(streamUrl: string, headers: Record<string, string>): unknown[] {
  return [
    {
      action: 'connect',
      endpoint: [{ type: 'websocket', uri: streamUrl, 'content-type': 'audio/l16;rate=16000', headers }],
    },
  ];
}

/** The answer to a call that finds every line busy: Vonage says `message` (a talk action); the call then ends. */
export function vonageBusyNcco(message: string): unknown[] {
  return [{ action: 'talk', text: message }];
}

/**
 * A signed Vonage webhook: `Authorization: Bearer <JWT>` signed (HS256) with the signature secret, checked by
 * the official SDK (@vonage/jwt); a body must match the token's `payload_hash` (SHA-256, hex).
 */
export function validVonageSignature(
  secret: string,
  authorization: string | undefined,
  body: string,
): boolean {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return false;
  if (!verifySignature(token, secret)) return false;
  if (body === '') return true;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  const expected = field(claims, 'payload_hash');
  if (typeof expected !== 'string') return false;
  const actual = createHash('sha256').update(body).digest('hex');
  return expected.length === actual.length && timingSafeEqual(Buffer.from(expected), Buffer.from(actual));
}
