import { describe, expect, it } from 'vitest';
import { backoffMs, CloudSttError, kindOfStatus, parseRetryAfter, redactSecret } from './cloud-errors.ts';
import { isFatalSttError } from './contract.ts';

describe('cloud STT errors', () => {
  it('reads Retry-After as seconds, an HTTP date, or retry-after-ms', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('1', '250')).toBe(250);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:03 GMT', undefined, now)).toBe(3000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('classifies statuses and knows what is worth retrying', () => {
    expect(kindOfStatus(401)).toBe('auth');
    expect(kindOfStatus(429)).toBe('rate-limit');
    expect(kindOfStatus(503)).toBe('server');
    expect(kindOfStatus(400)).toBe('bad-request');
    expect(new CloudSttError('rate-limit', 'x').retryable).toBe(true);
    expect(new CloudSttError('network', 'x').retryable).toBe(true);
    expect(new CloudSttError('auth', 'x').retryable).toBe(false);
    const fatal = new CloudSttError('server', 'boom', { status: 503 }).asFatal('deepgram gave up');
    expect(fatal.message).toBe('deepgram gave up: boom');
    expect(isFatalSttError(fatal)).toBe(true);
    expect(isFatalSttError(new CloudSttError('server', 'boom'))).toBe(false);
    expect(isFatalSttError(new Error('plain'))).toBe(false);
  });

  it('removes keys and key-shaped text', () => {
    const secret = 'dg-0123456789abcdef';
    expect(redactSecret(`bad key ${secret}!`, secret)).toBe('bad key ***!');
    expect(redactSecret('Incorrect API key provided: sk-abcd***wxyz.', undefined)).toBe(
      'Incorrect API key provided: sk-***.',
    );
    expect(redactSecret('header was Token abcdefgh12345678', undefined)).toBe('header was Token ***');
    expect(redactSecret('Authorization: Bearer sk-proj-1234567890', undefined)).not.toContain('1234567890');
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 100, 1000, () => 0)).toBe(50);
    expect(backoffMs(1, 100, 1000, () => 1)).toBe(100);
    expect(backoffMs(3, 100, 1000, () => 1)).toBe(400);
    expect(backoffMs(10, 100, 1000, () => 1)).toBe(1000);
  });
});
