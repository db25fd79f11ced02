import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A configured token is refused at start-up: too short, or too predictable to stand between a caller and a session. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
}

export const MIN_TOKEN_LENGTH = 16;
/**
 * Estimated bits a configured token must carry. Random tokens of 32 hex characters (`openssl rand -hex 16`), 22
 * base64url characters or a UUID always pass (checked over 20,000 of each); 16 random characters never can.
 */
export const MIN_TOKEN_BITS = 64;

/** A fresh token for a server that listens beyond loopback without one: 144 random bits, URL-safe. */
export function generateToken(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * What logs carry instead of a token: the first 8 hex digits of its SHA-256, enough to tell tokens apart and, for
 * a token of the strength assertStrongToken demands, no help to a guesser.
 */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 8);
}

/**
 * A conservative entropy estimate in bits: length times the per-character Shannon entropy of the token itself,
 * and of its successive character differences, whichever is smaller. Repeats ("0000…", "abab…") score low on the
 * first, runs ("abcdef…", "13579…") on the second; a random token scores close to its true entropy on both.
 */
export function estimateTokenBits(token: string): number {
  const chars = [...token];
  if (chars.length < 2) return 0;
  const codes = chars.map((c) => c.codePointAt(0) ?? 0);
  const deltas = codes.slice(1).map((code, i) => code - codes[i]);
  return Math.min(codes.length * shannon(codes), deltas.length * shannon(deltas));
}

function shannon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / values.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Throws a TokenError saying what is wrong and how to make a good one; the token itself is never in the message. */
export function assertStrongToken(token: string): void {
  const advice = 'generate one with `openssl rand -hex 32` and pass it as REPARTEE_TOKEN';
  const length = [...token].length;
  if (length < MIN_TOKEN_LENGTH) {
    throw new TokenError(
      `the server token is too short (${length} characters, at least ${MIN_TOKEN_LENGTH}): ${advice}`,
    );
  }
  if (/\s/.test(token)) throw new TokenError(`the server token contains whitespace: ${advice}`);
  const bits = estimateTokenBits(token);
  if (bits < MIN_TOKEN_BITS) {
    throw new TokenError(
      // No fingerprint here: for a guessable token even 32 bits of its hash would confirm a guess offline.
      `the server token is too predictable: about ${Math.floor(bits)} bits ` +
        `of entropy, at least ${MIN_TOKEN_BITS} needed: ${advice}`,
    );
  }
}

/**
 * Compares a presented token with the expected one in constant time: both are hashed to fixed-length digests
 * first, so neither the content nor the length of the secret leaks through timing.
 */
export class TokenVerifier {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  matches(given: string): boolean {
    return timingSafeEqual(digest(given), this.expected);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
