import pino from 'pino';

/** Structured logs on stderr, so stdout stays for command output. */
export function createLogger(level = process.env.REPARTEE_LOG_LEVEL ?? 'info') {
  return pino({ level, base: undefined }, pino.destination(2));
}

export type Logger = ReturnType<typeof createLogger>;
