import WebSocket from 'ws';
import { bytesFromInt16, int16FromBytes } from '../../../audio/frame.ts';
import { g711Decode, g711Encode } from '../../../audio/g711.ts';
import { Resampler } from '../../../audio/resampler.ts';
import { readWavFile } from '../../../audio/wav.ts';
import type { Provider } from './fake-webhook.ts';

export type { Provider, Webhook } from './fake-webhook.ts';
export {
  callWebhook,
  PUBLIC_URL,
  postWebhook,
  streamOf,
  TELNYX_PUBLIC_KEY,
  TWILIO_AUTH_TOKEN,
  VONAGE_SECRET,
} from './fake-webhook.ts';

/**
 * A fake phone provider for one call, speaking its documented wire protocol: it answers the webhook (signed as
 * the provider signs; fake-webhook.ts), opens the media stream, plays a caller's audio in real time in the wire format, and
 * plays what it receives through a modelled playback buffer: marks come back when playback reaches them, a
 * `clear` empties the buffer (Twilio/Telnyx return the pending marks, Vonage says `websocket:cleared`).
 */
export const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

/** A LibriVox clip at the provider's rate (8 kHz for the G.711 providers, 16 kHz for Vonage). */
export async function clipAt(name: string, rate: number): Promise<Int16Array> {
  const wav = await readWavFile(`${LIBRIVOX}/${name}`);
  return Resampler.resampleClip(wav.samples, wav.sampleRate, rate);
}

/** Time of the first voiced sample of a clip (energy over a 10 ms window), in ms. */
export function onsetMs(samples: Int16Array, rate: number): number {
  const win = rate / 100;
  for (let i = 0; i + win <= samples.length; i += win) {
    let sum = 0;
    for (let j = i; j < i + win; j++) sum += samples[j] * samples[j];
    if (Math.sqrt(sum / win) > 500) return (i * 1000) / rate;
  }
  return 0;
}

export interface FakeCallOptions {
  provider: Provider;
  url: string;
  token: string;
  callId: string;
  /** Overrides of the start message (a wrong codec). */
  startOverride?: Record<string, unknown>;
  /** Never send `start` / `websocket:connected`. */
  noStart?: boolean;
  /** The network between the provider's media edge and the server, each way (a bench models the path with it). */
  oneWayDelayMs?: number;
}

/** One call's stream as the provider runs it. */
export class FakeCall {
  readonly ws: WebSocket;
  readonly rate: number;
  private sequence = 0;
  private playheadEnd = 0;
  private readonly markTimers = new Map<string, NodeJS.Timeout>();
  /** Agent audio as it plays at the fake's "ear": [start, end] in performance.now() ms. */
  readonly played: { start: number; end: number; samples: Int16Array }[] = [];
  readonly clears: number[] = [];
  readonly marksEchoed: string[] = [];
  readonly texts: Record<string, unknown>[] = [];
  mediaMessages = 0;
  closed: { code: number; reason: string } | undefined;
  private sending = false;

  constructor(readonly options: FakeCallOptions) {
    this.rate = options.provider === 'vonage' ? 16000 : 8000;
    this.ws = new WebSocket(options.url);
    const delay = options.oneWayDelayMs ?? 0;
    this.ws.on('message', (data, isBinary) => {
      if (delay > 0) setTimeout(() => this.receive(data as Buffer, isBinary), delay);
      else this.receive(data as Buffer, isBinary);
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.sending = false;
    });
  }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    const { provider, token, callId } = this.options;
    if (provider === 'vonage') {
      if (!this.options.noStart)
        this.sendJson({
          event: 'websocket:connected',
          'content-type': 'audio/l16;rate=16000',
          token,
          call: callId,
          ...this.options.startOverride,
        });
      return;
    }
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    if (this.options.noStart) return;
    if (provider === 'twilio') {
      this.sendJson({
        event: 'start',
        sequenceNumber: String(++this.sequence),
        streamSid: 'MZ0001',
        start: {
          accountSid: 'AC0001',
          streamSid: 'MZ0001',
          callSid: callId,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: { token },
          ...this.options.startOverride,
        },
      });
    } else {
      this.sendJson({
        event: 'start',
        sequence_number: String(++this.sequence),
        stream_id: 'stream-0001',
        start: {
          call_control_id: callId,
          media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
          ...this.options.startOverride,
        },
      });
    }
  }

  sendJson(message: Record<string, unknown>): void {
    this.sendRaw(JSON.stringify(message));
  }

  private sendRaw(data: string | Uint8Array): void {
    const delay = this.options.oneWayDelayMs ?? 0;
    const send = () => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  }

  /** One 20 ms frame of caller audio in the wire format. */
  sendFrame(samples: Int16Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const { provider } = this.options;
    if (provider === 'vonage') {
      this.sendRaw(bytesFromInt16(samples));
      return;
    }
    const payload = Buffer.from(g711Encode('mulaw', samples)).toString('base64');
    const seq = String(++this.sequence);
    if (provider === 'twilio')
      this.sendJson({
        event: 'media',
        sequenceNumber: seq,
        streamSid: 'MZ0001',
        media: { track: 'inbound', chunk: seq, timestamp: '0', payload },
      });
    else
      this.sendJson({
        event: 'media',
        sequence_number: seq,
        stream_id: 'stream-0001',
        media: { track: 'inbound', chunk: seq, timestamp: '0', payload },
      });
  }

  /**
   * Plays `samples` into the call in real time (20 ms frames, drift-corrected), then silence until `stop()`.
   * Resolves when the clip has been sent; returns the clock time its first frame went out.
   */
  async speak(samples: Int16Array): Promise<number> {
    const frame = this.rate / 50;
    const startedAt = performance.now();
    this.sending = true;
    for (let i = 0, n = 0; i < samples.length && this.sending; i += frame, n++) {
      const chunk = new Int16Array(frame);
      chunk.set(samples.subarray(i, i + frame));
      this.sendFrame(chunk);
      const due = startedAt + (n + 1) * 20;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    }
    return startedAt;
  }

  /** Silence in real time (a phone line never goes quiet on the wire) until `until()` holds or the deadline. */
  async silence(until: () => boolean, timeoutMs: number): Promise<void> {
    const frame = new Int16Array(this.rate / 50);
    const startedAt = performance.now();
    this.sending = true;
    for (let n = 0; this.sending && !until(); n++) {
      if (performance.now() - startedAt > timeoutMs)
        throw new Error(`timed out after ${timeoutMs} ms; ${this.describe()}`);
      this.sendFrame(frame);
      const due = startedAt + (n + 1) * 20;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    }
  }

  dtmf(digit: string): void {
    const { provider } = this.options;
    if (provider === 'vonage') {
      this.sendJson({ event: 'websocket:dtmf', digit, duration: 250 });
      return;
    }
    const seq = String(++this.sequence);
    if (provider === 'twilio')
      this.sendJson({
        event: 'dtmf',
        sequenceNumber: seq,
        streamSid: 'MZ0001',
        dtmf: { track: 'inbound_track', digit },
      });
    else this.sendJson({ event: 'dtmf', sequence_number: seq, stream_id: 'stream-0001', dtmf: { digit } });
  }

  /** The caller hangs up. */
  hangUp(): void {
    this.sending = false;
    const { provider } = this.options;
    if (provider === 'vonage') return void this.ws.close(1000);
    const seq = String(++this.sequence);
    if (provider === 'twilio')
      this.sendJson({
        event: 'stop',
        sequenceNumber: seq,
        streamSid: 'MZ0001',
        stop: { accountSid: 'AC0001', callSid: this.options.callId },
      });
    else
      this.sendJson({
        event: 'stop',
        sequence_number: seq,
        stream_id: 'stream-0001',
        stop: { call_control_id: this.options.callId },
      });
  }

  /** Skips a sequence number: the next message arrives out of order. */
  skipSequence(): void {
    this.sequence++;
  }

  stopSending(): void {
    this.sending = false;
  }

  /** Agent audio heard (played, not cut by a clear), in ms. */
  heardMs(): number {
    const now = performance.now();
    return this.played.reduce((ms, p) => ms + Math.max(0, Math.min(now, p.end) - p.start), 0);
  }

  /** The first played sample above a speech-like level, at the fake's ear. */
  firstAudibleAt(): number | undefined {
    return this.played.find((p) => p.samples.some((s) => Math.abs(s) > 1000))?.start;
  }

  describe(): string {
    return `heard ${Math.round(this.heardMs())} ms, ${this.clears.length} clears, ${this.marksEchoed.length} marks, closed ${JSON.stringify(this.closed)}`;
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.enqueue(int16FromBytes(data));
      return;
    }
    const message = JSON.parse(data.toString()) as Record<string, unknown>;
    this.texts.push(message);
    const event = (message.event ?? message.action) as string;
    if (event === 'media') {
      const payload = (message.media as { payload: string }).payload;
      this.enqueue(g711Decode('mulaw', Buffer.from(payload, 'base64')));
    } else if (event === 'mark' || event === 'notify') {
      const name =
        event === 'mark'
          ? (message.mark as { name: string }).name
          : (message.payload as { mark: string }).mark;
      const delay = Math.max(0, this.playheadEnd - performance.now());
      const timer = setTimeout(() => this.echoMark(name, message.payload), delay);
      this.markTimers.set(name, timer);
    } else if (event === 'clear') {
      const now = performance.now();
      this.clears.push(now);
      for (const p of this.played) if (p.end > now) p.end = Math.max(p.start, now);
      this.playheadEnd = now;
      const pending = [...this.markTimers.entries()];
      this.markTimers.clear();
      for (const [name, timer] of pending) {
        clearTimeout(timer);
        if (this.options.provider !== 'vonage') this.echoMark(name, undefined);
      }
      if (this.options.provider === 'vonage') this.sendJson({ event: 'websocket:cleared' });
    }
  }

  private enqueue(samples: Int16Array): void {
    this.mediaMessages++;
    const now = performance.now();
    const start = Math.max(now, this.playheadEnd);
    const end = start + (samples.length * 1000) / this.rate;
    this.playheadEnd = end;
    this.played.push({ start, end, samples });
  }

  private echoMark(name: string, payload: unknown): void {
    this.markTimers.delete(name);
    this.marksEchoed.push(name);
    const { provider } = this.options;
    if (provider === 'vonage') {
      this.sendJson({ event: 'websocket:notify', payload });
      return;
    }
    const seq = String(++this.sequence);
    if (provider === 'twilio')
      this.sendJson({ event: 'mark', sequenceNumber: seq, streamSid: 'MZ0001', mark: { name } });
    else this.sendJson({ event: 'mark', sequence_number: seq, stream_id: 'stream-0001', mark: { name } });
  }
}
