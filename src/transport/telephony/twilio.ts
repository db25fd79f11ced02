import twilio from 'twilio';
import { G711_SAMPLE_RATE, g711Decode, g711Encode } from '../../audio/g711.ts';
import {
  decodePayload,
  field,
  type PhoneWire,
  parseJson,
  requireString,
  SequenceCheck,
  stringRecord,
  TelephonyProtocolError,
  type WireEvent,
} from './wire.ts';

const P = 'twilio';

/**
 * Twilio Media Streams, bidirectional (`<Connect><Stream>`): JSON text messages `connected`, `start`, `media`
 * (base64 μ-law 8 kHz), `mark`, `dtmf`, `stop` in; `media`, `mark`, `clear` out, each naming the streamSid.
 */
export function createTwilioWire(): PhoneWire {
  let streamSid: string | undefined;
  const sequence = new SequenceCheck(P);
  const out = (message: Record<string, unknown>) => JSON.stringify({ streamSid, ...message });
  return {
    provider: P,
    sampleRate: G711_SAMPLE_RATE,
    frameMs: 20,
    parse(data, isBinary): WireEvent {
      if (isBinary)
        throw new TelephonyProtocolError(`${P}: unexpected binary message (Media Streams are JSON text)`);
      const message = parseJson(data, P);
      const event = message.event;
      if (event === 'connected') return { kind: 'connected' };
      sequence.check(message.sequenceNumber);
      if (event === 'start') {
        if (streamSid !== undefined) throw new TelephonyProtocolError(`${P}: a second start message`);
        const start = field(message, 'start');
        const format = field(start, 'mediaFormat');
        const encoding = field(format, 'encoding');
        const rate = field(format, 'sampleRate');
        const channels = field(format, 'channels');
        if (encoding !== 'audio/x-mulaw' || rate !== 8000 || (channels !== undefined && channels !== 1))
          throw new TelephonyProtocolError(
            `${P}: unsupported media format ${JSON.stringify(format)} (expected audio/x-mulaw, 8000 Hz, mono)`,
          );
        streamSid = requireString(message.streamSid ?? field(start, 'streamSid'), 'streamSid', P);
        return {
          kind: 'start',
          start: {
            callId: requireString(field(start, 'callSid'), 'start.callSid', P),
            streamId: streamSid,
            sampleRate: G711_SAMPLE_RATE,
            parameters: stringRecord(field(start, 'customParameters')),
          },
        };
      }
      if (streamSid === undefined)
        throw new TelephonyProtocolError(`${P}: "${String(event)}" before the stream's start message`);
      if (event === 'media') {
        const media = field(message, 'media');
        const track = field(media, 'track');
        if (track !== undefined && track !== 'inbound')
          return { kind: 'ignored', reason: `track ${String(track)}` };
        return { kind: 'media', samples: g711Decode('mulaw', decodePayload(field(media, 'payload'), P)) };
      }
      if (event === 'mark')
        return { kind: 'mark', name: requireString(field(field(message, 'mark'), 'name'), 'mark.name', P) };
      if (event === 'dtmf')
        return { kind: 'dtmf', digit: requireDigit(field(field(message, 'dtmf'), 'digit')) };
      if (event === 'stop') return { kind: 'stop' };
      throw new TelephonyProtocolError(`${P}: unknown event ${JSON.stringify(event)}`);
    },
    media: (samples) =>
      out({
        event: 'media',
        media: { payload: Buffer.from(g711Encode('mulaw', samples)).toString('base64') },
      }),
    mark: (name) => out({ event: 'mark', mark: { name } }),
    clear: () => out({ event: 'clear' }),
  };
}

export function requireDigit(value: unknown): string {
  if (typeof value !== 'string' || !/^[0-9*#A-D]$/.test(value))
    throw new TelephonyProtocolError(`malformed DTMF digit ${JSON.stringify(value)}`);
  return value;
}

/** TwiML answering a call with a bidirectional stream; when it ends, Twilio asks `nextUrl` what comes next. */
export function twilioStreamTwiml(
  streamUrl: string,
  parameters: Record<string, string>,
  nextUrl: string,
): string {
  const response = new twilio.twiml.VoiceResponse();
  const stream = response.connect().stream({ url: streamUrl });
  for (const [name, value] of Object.entries(parameters)) stream.parameter({ name, value });
  response.redirect({ method: 'POST' }, nextUrl);
  return response.toString();
}

/** The answer to a call that finds every line busy: Twilio says `message` in its own voice and hangs up. */
export function twilioBusyTwiml(message: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(message);
  response.hangup();
  return response.toString();
}

/** What Twilio does after the stream ends: dial a number (transfer) or hang up. */
export function twilioAfterStreamTwiml(action: { transferTo?: string }): string {
  const response = new twilio.twiml.VoiceResponse();
  if (action.transferTo) response.dial(action.transferTo);
  else response.hangup();
  return response.toString();
}

/** X-Twilio-Signature (HMAC-SHA1 of the URL and sorted form parameters), checked by the official SDK. */
export function validTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string>,
): boolean {
  if (!signature) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}
