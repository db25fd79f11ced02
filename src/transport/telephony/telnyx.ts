import { TelnyxWebhook } from 'telnyx/lib/webhooks';
import { G711_SAMPLE_RATE, type G711Law, g711Decode, g711Encode } from '../../audio/g711.ts';
import { requireDigit } from './twilio.ts';
import {
  decodePayload,
  field,
  type PhoneWire,
  parseJson,
  requireString,
  SequenceCheck,
  TelephonyProtocolError,
  type WireEvent,
} from './wire.ts';

const P = 'telnyx';
const LAWS: Record<string, G711Law> = { PCMU: 'mulaw', PCMA: 'alaw' };

/**
 * Telnyx media streaming, bidirectional RTP mode: JSON text `connected`, `start` (media_format), `media` (base64
 * RTP payloads), `mark`, `dtmf`, `error`, `stop` in; `media`, `mark`, `clear` out. The outbound codec is the
 * inbound one (the TeXML sets both). `parameters` are the stream URL's query (set by our webhook).
 */
export function createTelnyxWire(query: Record<string, string> = {}): PhoneWire {
  let law: G711Law | undefined;
  const sequence = new SequenceCheck(P);
  return {
    provider: P,
    sampleRate: G711_SAMPLE_RATE,
    frameMs: 20,
    parse(data, isBinary): WireEvent {
      if (isBinary)
        throw new TelephonyProtocolError(`${P}: unexpected binary message (media streaming is JSON text)`);
      const message = parseJson(data, P);
      const event = message.event;
      if (event === 'connected') return { kind: 'connected' };
      sequence.check(message.sequence_number);
      if (event === 'start') {
        if (law !== undefined) throw new TelephonyProtocolError(`${P}: a second start message`);
        const start = field(message, 'start');
        const format = field(start, 'media_format');
        const encoding = field(format, 'encoding');
        const rate = field(format, 'sample_rate');
        const chosen = typeof encoding === 'string' ? LAWS[encoding] : undefined;
        if (!chosen || rate !== 8000 || (field(format, 'channels') ?? 1) !== 1)
          throw new TelephonyProtocolError(
            `${P}: unsupported media format ${JSON.stringify(format)} (expected PCMU or PCMA, 8000 Hz, mono)`,
          );
        law = chosen;
        return {
          kind: 'start',
          start: {
            callId: requireString(field(start, 'call_control_id'), 'start.call_control_id', P),
            streamId: requireString(message.stream_id, 'stream_id', P),
            sampleRate: G711_SAMPLE_RATE,
            parameters: query,
          },
        };
      }
      if (law === undefined)
        throw new TelephonyProtocolError(`${P}: "${String(event)}" before the stream's start message`);
      if (event === 'media') {
        const media = field(message, 'media');
        const track = field(media, 'track');
        if (track !== undefined && track !== 'inbound')
          return { kind: 'ignored', reason: `track ${String(track)}` };
        return { kind: 'media', samples: g711Decode(law, decodePayload(field(media, 'payload'), P)) };
      }
      if (event === 'mark')
        return { kind: 'mark', name: requireString(field(field(message, 'mark'), 'name'), 'mark.name', P) };
      if (event === 'dtmf')
        return { kind: 'dtmf', digit: requireDigit(field(field(message, 'dtmf'), 'digit')) };
      if (event === 'stop') return { kind: 'stop' };
      if (event === 'error') {
        const payload = field(message, 'payload');
        return {
          kind: 'ignored',
          reason: `error from Telnyx: ${JSON.stringify(payload ?? message).slice(0, 200)}`,
        };
      }
      throw new TelephonyProtocolError(`${P}: unknown event ${JSON.stringify(event)}`);
    },
    media: (samples) =>
      JSON.stringify({
        event: 'media',
        media: { payload: Buffer.from(g711Encode(law ?? 'mulaw', samples)).toString('base64') },
      }),
    mark: (name) => JSON.stringify({ event: 'mark', mark: { name } }),
    clear: () => JSON.stringify({ event: 'clear' }),
  };
}

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );

/** TeXML answering a call with a bidirectional RTP stream (PCMU both ways); then Telnyx asks `nextUrl`. */
export function telnyxStreamTexml(streamUrl: string, nextUrl: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>' +
    `<Stream url="${escapeXml(streamUrl)}" track="inbound_track" codec="PCMU" bidirectionalMode="rtp" bidirectionalCodec="PCMU" />` +
    `</Connect><Redirect method="POST">${escapeXml(nextUrl)}</Redirect></Response>`
  );
}

/** The answer to a call that finds every line busy: Telnyx says `message` and hangs up (TeXML Say, Hangup). */
export function telnyxBusyTexml(message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Say>${escapeXml(message)}</Say><Hangup/></Response>`;
}

export function telnyxAfterStreamTexml(action: { transferTo?: string }): string {
  const body = action.transferTo ? `<Dial>${escapeXml(action.transferTo)}</Dial>` : '<Hangup/>';
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;
}

/** Telnyx-Signature-Ed25519 over `timestamp|body`, checked by the official SDK (within its 5 min window). */
export async function validTelnyxSignature(
  publicKey: string,
  body: string,
  headers: Record<string, string>,
): Promise<boolean> {
  try {
    // The SDK's verifier itself: `webhooks.unwrap` would also parse the body as JSON, and TeXML posts forms.
    await new TelnyxWebhook(publicKey).verify(body, headers);
    return true;
  } catch {
    return false;
  }
}
