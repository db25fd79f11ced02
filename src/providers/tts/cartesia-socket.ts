import WebSocket from 'ws';
import { DEFAULT_FRAME_MS, samplesForMs } from '../../audio/frame.ts';
import { AsyncQueue } from '../../util/async-queue.ts';
import { HttpStatusError } from '../llm/openai-retry.ts';
import type { TtsAudio, WordTiming } from './contract.ts';
import { TtsRequestError } from './openai-pcm.ts';

/**
 * Pieces the WebSocket TTS clients share (Cartesia, Deepgram Aura; ElevenLabs opens its sockets here too): opening a socket whose refused upgrade
 * becomes an HttpStatusError (status and headers kept, so `retry-after` is honoured), and cutting a segment's
 * PCM into 20 ms frames with its word timings.
 */

export interface OpenSocketOptions {
  url: string;
  headers: Record<string, string>;
  connectTimeoutMs: number;
  /** Provider name for messages. */
  name: string;
  /** The detail of a refused upgrade's body. Default: its first 200 characters. */
  detail?: (body: string) => string;
  /** Offer permessage-deflate. Default false. */
  perMessageDeflate?: boolean;
}

/** Connects; rejects with HttpStatusError on a refused upgrade (401, 429, 5xx), a TypeError('fetch failed') else. */
export function openSocket(options: OpenSocketOptions): Promise<WebSocket> {
  const { url, headers, connectTimeoutMs, name } = options;
  const detail = options.detail ?? ((body: string) => body.slice(0, 200) || 'no details');
  return new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url, {
      headers,
      handshakeTimeout: connectTimeoutMs,
      perMessageDeflate: options.perMessageDeflate ?? false,
    });
    const fail = (error: Error) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.terminate();
      reject(error);
    };
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (part: Buffer) => {
        body += part;
      });
      response.on('end', () => {
        const h = new Headers();
        for (const [key, value] of Object.entries(response.headers)) {
          if (typeof value === 'string') h.set(key, value);
        }
        const status = response.statusCode ?? 0;
        fail(new HttpStatusError(status, `${name}: HTTP ${status}: ${detail(body)}`, h));
      });
    });
    socket.once('error', (error: Error & { code?: string }) => {
      const why = error.code ? ` (${error.code})` : '';
      fail(
        new TypeError('fetch failed', {
          cause: new TtsRequestError(`${name}: ${error.message}${why}`, { cause: error }),
        }),
      );
    });
    socket.once('open', () => {
      socket.removeAllListeners('error');
      socket.removeAllListeners('unexpected-response');
      // Errors after the handshake arrive with the close that follows them.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

/** A base URL as a socket URL: http → ws, https → wss (ws and wss kept). */
export function socketBase(base: string): URL {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:')
    throw new RangeError(`not an http(s) or ws(s) URL: ${base}`);
  return url;
}

/** The error a reply fails with: a TtsRequestError naming the provider, never a key. */
export function ttsError(error: unknown): Error {
  if (error instanceof TtsRequestError) return error;
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof TypeError && cause instanceof TtsRequestError) return cause;
  return new TtsRequestError(error instanceof Error ? error.message : String(error), { cause: error });
}

/**
 * PCM of numbered segments into 20 ms frames on an output queue. Audio of a segment is carried until a whole
 * frame is there (the rest goes out when the segment ends); word timings join the next frame of their segment
 * (timings with no audio left in their segment are dropped).
 */
export class SegmentFramer {
  readonly output = new AsyncQueue<TtsAudio>();
  /** Samples emitted per segment. */
  readonly segmentSamples: number[] = [];
  private readonly frameSamples: number;
  private carry = new Int16Array(0);
  private carrySegment = 0;
  private carryWords: WordTiming[] | undefined;
  private emitted = 0;

  constructor(private readonly sampleRate: number) {
    this.frameSamples = samplesForMs(DEFAULT_FRAME_MS, sampleRate);
  }

  /** Milliseconds of audio a segment has produced so far (where its next sample starts). */
  segmentMs(segment: number): number {
    return (
      (((this.segmentSamples[segment] ?? 0) + (segment === this.carrySegment ? this.carry.length : 0)) *
        1000) /
      this.sampleRate
    );
  }

  words(segment: number, words: WordTiming[]): void {
    if (!words.length) return;
    this.toSegment(segment);
    this.carryWords = [...(this.carryWords ?? []), ...words];
  }

  push(segment: number, samples: Int16Array): void {
    this.toSegment(segment);
    const joined = new Int16Array(this.carry.length + samples.length);
    joined.set(this.carry);
    joined.set(samples, this.carry.length);
    // The last whole frame stays in the carry until more audio or the segment's end, so word timings that come
    // after their audio (as timestamps messages do) still find a frame of their segment.
    let offset = 0;
    for (; offset + 2 * this.frameSamples <= joined.length; offset += this.frameSamples) {
      this.pushFrame(joined.slice(offset, offset + this.frameSamples), segment);
    }
    this.carry = joined.slice(offset);
  }

  /** Sends what is left of the current segment. */
  drain(): void {
    const carry = this.carry;
    this.carry = new Int16Array(0);
    for (let offset = 0; offset < carry.length; offset += this.frameSamples) {
      this.pushFrame(carry.slice(offset, offset + this.frameSamples), this.carrySegment);
    }
    this.carryWords = undefined;
  }

  private toSegment(segment: number): void {
    if (segment === this.carrySegment) return;
    this.drain();
    this.carrySegment = segment;
  }

  private pushFrame(samples: Int16Array, segment: number): void {
    const words = this.carryWords;
    this.carryWords = undefined;
    while (this.segmentSamples.length <= segment) this.segmentSamples.push(0);
    this.segmentSamples[segment] += samples.length;
    this.output.push({
      segment,
      frame: { samples, sampleRate: this.sampleRate, timestampMs: (this.emitted * 1000) / this.sampleRate },
      ...(words ? { words } : {}),
    });
    this.emitted += samples.length;
  }
}
