import type { RawData } from 'ws';
import type { z } from 'zod';
import { CloudSttError } from './cloud-errors.ts';

export interface ServerMessageFormat<T> {
  /** Names the vendor in errors: `deepgram sent malformed JSON: …`. */
  vendor: string;
  schema: z.ZodType<T>;
  /** The message types the schema describes; others are newer kinds of the vendor's, not ours to fail on. */
  known: ReadonlySet<string>;
  /** Scrubs the key from the text of a message quoted in an error. */
  redact: (text: string) => string;
}

/**
 * A vendor's text message: parsed, its type checked against what we know, validated. `undefined` for a type we do
 * not know; a binary or malformed message, one without a type, or a known type of the wrong shape is a protocol
 * error naming the vendor.
 */
export function parseServerMessage<T>(
  format: ServerMessageFormat<T>,
  data: RawData,
  isBinary: boolean,
): T | undefined {
  const { vendor } = format;
  if (isBinary) throw new CloudSttError('protocol', `${vendor} sent a binary message`);
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch {
    throw new CloudSttError(
      'protocol',
      `${vendor} sent malformed JSON: ${format.redact(data.toString().slice(0, 80))}`,
    );
  }
  const type = (json as { type?: unknown })?.type;
  if (typeof type !== 'string')
    throw new CloudSttError('protocol', `${vendor} sent a message without a type`);
  if (!format.known.has(type)) return undefined;
  const parsed = format.schema.safeParse(json);
  if (!parsed.success)
    throw new CloudSttError(
      'protocol',
      `${vendor} sent an unexpected ${type} message: ${parsed.error.message}`,
    );
  return parsed.data;
}
