/** The three media-stream protocols, reduced to what a call needs: one shape in, one shape out. */

export type PhoneProvider = 'twilio' | 'telnyx' | 'vonage';

/** What a provider's stream told us, in one shape for every provider. */
export type WireEvent =
  | { kind: 'connected' }
  | { kind: 'start'; start: StreamStart }
  | { kind: 'media'; samples: Int16Array }
  | { kind: 'mark'; name: string }
  /** The provider emptied its playback buffer after our `clear` (Vonage acknowledges it; Twilio returns the marks). */
  | { kind: 'cleared' }
  | { kind: 'dtmf'; digit: string }
  | { kind: 'stop' }
  | { kind: 'ignored'; reason: string };

export interface StreamStart {
  /** The provider's id of the call (Twilio CallSid, Telnyx call_control_id, Vonage call uuid when passed). */
  callId: string;
  streamId: string;
  sampleRate: number;
  /** Custom parameters of the stream instruction (TwiML <Parameter>, NCCO headers, the URL query for Telnyx). */
  parameters: Record<string, string>;
}

/** One message that breaks the provider's documented protocol: the call ends with this reason in the log. */
export class TelephonyProtocolError extends Error {
  override name = 'TelephonyProtocolError';
}

/** A provider's stream protocol for one call: stateful (the stream id, the codec, the sequence numbers). */
export interface PhoneWire {
  readonly provider: PhoneProvider;
  /** The rate of the audio in both directions; known once the stream has started. */
  readonly sampleRate: number;
  /** Frames the provider wants from us are this long (Vonage: exactly 20 ms; others accept any multiple). */
  readonly frameMs: number;
  /** Parses one WebSocket message. Throws TelephonyProtocolError for anything outside the protocol. */
  parse(data: Buffer, isBinary: boolean): WireEvent;
  /** One chunk of the agent's audio at `sampleRate`, ready to send. */
  media(samples: Int16Array): string | Buffer;
  /** A playback receipt request: the provider echoes `name` once the audio sent before it has played. */
  mark(name: string): string;
  /** Drops what the provider has buffered for playback. */
  clear(): string;
}

export function parseJson(data: Buffer, provider: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    throw new TelephonyProtocolError(`${provider}: malformed message, not JSON (${preview(data)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new TelephonyProtocolError(`${provider}: malformed message, not a JSON object (${preview(data)})`);
  return json as Record<string, unknown>;
}

export function field(object: unknown, key: string): unknown {
  return typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[key] : undefined;
}

export function requireString(value: unknown, what: string, provider: string): string {
  if (typeof value !== 'string' || value === '')
    throw new TelephonyProtocolError(`${provider}: malformed ${what}: expected a non-empty string`);
  return value;
}

/** A base64 media payload, decoded; bad base64 or an empty payload is a protocol error. */
export function decodePayload(value: unknown, provider: string): Buffer {
  const text = requireString(value, 'media.payload', provider);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new TelephonyProtocolError(`${provider}: malformed media.payload: not base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0) throw new TelephonyProtocolError(`${provider}: empty media payload`);
  if (bytes.length > 8000)
    throw new TelephonyProtocolError(`${provider}: media payload of ${bytes.length} bytes exceeds 1 s`);
  return bytes;
}

/**
 * Sequence numbers (Twilio `sequenceNumber`, Telnyx `sequence_number`) count every message of a stream from 1.
 * One that does not follow the last means lost or reordered messages: the audio timeline can no longer be trusted.
 */
export class SequenceCheck {
  private last = 0;

  constructor(private readonly provider: string) {}

  check(value: unknown): void {
    if (value === undefined) return;
    const n = typeof value === 'string' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      throw new TelephonyProtocolError(
        `${this.provider}: malformed sequence number ${JSON.stringify(value)}`,
      );
    if (n !== this.last + 1)
      throw new TelephonyProtocolError(
        `${this.provider}: out-of-order sequence number ${n} after ${this.last} (messages lost or reordered)`,
      );
    this.last = n;
  }
}

export function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}

function preview(data: Buffer): string {
  const text = data.subarray(0, 60).toString('utf8');
  return data.length > 60 ? `${text}…` : text;
}
