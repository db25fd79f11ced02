import { afterEach } from 'vitest';
import { PIPELINE_SAMPLE_RATE, splitIntoFrames } from '../../../audio/frame.ts';
import { type Clock, MonotonicClock } from '../../../metrics/clock.ts';
import type { SttLog } from '../cloud-stream.ts';
import type { SttFallbackEvent, SttListener, SttSpeechEvent, SttStream, Transcript } from '../contract.ts';
import { encodeWords, spacedWords } from './coded-speech.ts';

/** Everything a stream told its listener, in order. */
export class RecordingListener implements SttListener {
  readonly interims: Transcript[] = [];
  readonly finals: Transcript[] = [];
  readonly errors: Error[] = [];
  readonly speechEvents: SttSpeechEvent[] = [];
  readonly fallbacks: SttFallbackEvent[] = [];

  onInterim(t: Transcript): void {
    this.interims.push(t);
  }
  onFinal(t: Transcript): void {
    this.finals.push(t);
  }
  onError(e: Error): void {
    this.errors.push(e);
  }
  onSpeechEvent(e: SttSpeechEvent): void {
    this.speechEvents.push(e);
  }
  onFallback(e: SttFallbackEvent): void {
    this.fallbacks.push(e);
  }

  /** All final text so far, joined. */
  get text(): string {
    return this.finals
      .map((f) => f.text.trim())
      .filter(Boolean)
      .join(' ');
  }
}

/** Pushes 16 kHz PCM as 20 ms frames stamped from `startMs`; returns the time after the last frame. */
export function feed(stream: SttStream, samples: Int16Array, startMs: number): number {
  for (const frame of splitIntoFrames(samples, PIPELINE_SAMPLE_RATE, startMs)) stream.push(frame);
  return startMs + (samples.length * 1000) / PIPELINE_SAMPLE_RATE;
}

/**
 * A real-time clock that records every delay asked of it and lets a test shorten chosen ones: tests check the
 * backoff a client chose (e.g. honouring Retry-After) without sleeping through it.
 */
export class RecordingClock implements Clock {
  readonly delays: number[] = [];
  private readonly real = new MonotonicClock();
  constructor(private readonly shorten: (ms: number) => number = (ms) => ms) {}
  now(): number {
    return this.real.now();
  }
  schedule(ms: number, callback: () => void): () => void {
    this.delays.push(ms);
    return this.real.schedule(this.shorten(ms), callback);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.delays.push(ms);
    return this.real.sleep(this.shorten(ms), signal);
  }
}

/** A log that keeps its lines for assertions. */
export class MemoryLog implements SttLog {
  readonly lines: { level: 'info' | 'warn'; message: string; details: object }[] = [];
  info(details: object, message: string): void {
    this.lines.push({ level: 'info', message, details });
  }
  warn(details: object, message: string): void {
    this.lines.push({ level: 'warn', message, details });
  }
  count(message: string): number {
    return this.lines.filter((l) => l.message === message).length;
  }
  get text(): string {
    return this.lines.map((l) => `${l.message} ${JSON.stringify(l.details)}`).join('\n');
  }
}

/** The words the provider tests speak in tone-coded audio (and the fake servers decode). */
export const TEST_VOCABULARY: readonly string[] = [
  'hello',
  'world',
  'how',
  'are',
  'you',
  'fine',
  'thanks',
  'bye',
];

/** Speech for `text` (TEST_VOCABULARY words) starting 100 ms into a clip of `durationMs`. */
export function codedSpeech(text: string, durationMs: number): Int16Array {
  return encodeWords(TEST_VOCABULARY, spacedWords(text, 100), durationMs);
}

/** Reconnect backoff short enough for tests. */
export const FAST_BACKOFF = { initialBackoffMs: 5, maxBackoffMs: 20 };

/**
 * Starts fake servers built by `make` (from a test's options) and closes them after each test. Call at the top
 * level of a test file.
 */
export function fakeServers<O, S extends { start(): Promise<S>; close(): Promise<void> }>(
  make: (options: Partial<O>) => S,
): (options?: Partial<O>) => Promise<S> {
  const servers: S[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (options = {}) => {
    const server = await make(options).start();
    servers.push(server);
    return server;
  };
}
