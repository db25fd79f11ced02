import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * flock(2) on an open descriptor, for writers in other processes that take it too (another repartee-docs on the
 * same folder: a second worker, a stdio and an HTTP instance). It is advisory: programs that do not ask for it are
 * not held back (those are met by the version checks). The call is made non-blocking and retried with a short
 * back-off, so the JavaScript thread never waits inside the kernel. Where the C library cannot be bound (not
 * Linux, no koffi), locking is skipped and only the checks remain.
 */

type FlockCall = (fd: number, operation: number) => number;

const LOCK_EX = 2;
const LOCK_NB = 4;

let bound: FlockCall | null | undefined;

function flockCall(): FlockCall | null {
  if (bound !== undefined) return bound;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(name: string): { func(signature: string): FlockCall };
    };
    bound = koffi.load('libc.so.6').func('int flock(int fd, int operation)');
  } catch {
    bound = null;
  }
  return bound;
}

export interface FlockOptions {
  /** Give up after this long (another process holds the lock). */
  timeoutMs: number;
}

/**
 * Takes an exclusive lock on `fd` (released when the descriptor is closed). True when locked or when locking is
 * not available; false when another process kept it for `timeoutMs`.
 */
export async function lockExclusive(fd: number, { timeoutMs }: FlockOptions): Promise<boolean> {
  const flock = flockCall();
  if (!flock) return true;
  const deadline = performance.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    if (flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    if (performance.now() >= deadline) return false;
    await delay(wait);
    wait = Math.min(wait * 2, 25);
  }
}
