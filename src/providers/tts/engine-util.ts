/** Shared plumbing for the embedded local TTS engines (flite, espeak-ng, festival). */

/** A local engine cannot run here: a library, a voice or a program is missing. Names the Debian package. */
export class TtsEngineUnavailableError extends Error {
  override readonly name = 'TtsEngineUnavailableError';
  constructor(
    message: string,
    /** The Debian package that provides what is missing (`scripts/setup.sh` installs the engines). */
    readonly debianPackage: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${message} (install the Debian package ${debianPackage}; scripts/setup.sh installs the TTS engines)`,
      options,
    );
  }
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Runs jobs one at a time. The native engines keep global state (espeak-ng) or share a voice object between
 * callers (flite), and festival answers one request at a time, so every synthesis on an engine goes through one.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Waits for the jobs before it, then runs `job`. If `signal` aborts while waiting, rejects at once and the
   * job never runs; once started, a job owns the engine until it settles (the engine must finish or stop).
   */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.tail = previous.then(() => done);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(abortError(signal!));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      void previous.then(() => {
        signal?.removeEventListener('abort', onAbort);
        // Aborted while waiting: already rejected; hand the turn on without running.
        if (signal?.aborted) return release();
        Promise.resolve().then(job).then(resolve, reject).finally(release);
      });
    });
  }
}

/** Resolves with `promise`, or rejects as soon as `signal` aborts (the work behind `promise` carries on). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Flite and festival read 8-bit text: typographic quotes and dashes from an LLM would be spelt out as garbage,
 * so they become their ASCII look-alikes and anything else outside Latin-1 is dropped.
 */
export function toLatin1Text(text: string): string {
  return text
    .replace(/[\u2018\u2019\u201a\u2032]/g, "'")
    .replace(/[\u201c\u201d\u201e\u2033]/g, '"')
    .replace(/[\u2013\u2014\u2212]/g, ', ')
    .replace(/\u2026/g, '...')
    .replace(/[\u00a0\u2000-\u200b\u202f]/g, ' ')
    .replace(/[\u0100-\uffff]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Splits `samples` into pieces of at most `chunk` samples without copying. */
export function* chunked(samples: Int16Array, chunk: number): Generator<Int16Array> {
  for (let offset = 0; offset < samples.length; offset += chunk) {
    yield samples.subarray(offset, Math.min(offset + chunk, samples.length));
  }
}
