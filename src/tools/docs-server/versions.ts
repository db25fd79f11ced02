import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { DocsError } from './errors.ts';

/**
 * A document's version: the first 16 hex digits of the SHA-256 of its bytes. It names content, not time, so a
 * version read by one client and checked by another means the same text (timestamps are too coarse on Linux to
 * tell two quick writes apart).
 */
export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** A version as clients may type it: 16 hex digits, any case, surrounding space or quotes ignored. */
export function normaliseVersion(input: string): string {
  const version = input
    .trim()
    .replace(/^["'`]|["'`]$/g, '')
    .toLowerCase();
  if (!/^[0-9a-f]{16}$/.test(version)) {
    throw new DocsError(
      'invalid',
      `"${input.slice(0, 40)}" is not a version; use the one read or list returned`,
    );
  }
  return version;
}

/**
 * Every byte of an opened file, read by position from the start (so it can be read again later through the same
 * descriptor, and a file that grows while being read is read to its new end). More than `limit` bytes: too large.
 */
export async function readAllAt(handle: FileHandle, limit: number, display: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, total);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > limit)
      throw new DocsError('too_large', `${display} is over ${limit} bytes; the limit is ${limit} bytes`);
    chunks.push(chunk.subarray(0, bytesRead));
  }
  return Buffer.concat(chunks, total);
}
