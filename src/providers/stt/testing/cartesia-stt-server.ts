import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { STT, SttStream, Transcript } from '../contract.ts';
import { FakeSocketProvider, OrderedSender, type Rejection } from './fake-server.ts';

/**
 * A local server speaking Cartesia's realtime speech-to-text WebSocket (the manual-finalize endpoint,
 * `/stt/websocket?model=…&encoding=pcm_s16le&sample_rate=16000&language=…`, the key in `X-API-Key` or a bearer
 * token, the `Cartesia-Version` header required), from its public API reference: binary PCM in; `transcript`
 * messages out (`is_final: false` interims; on the text command `finalize`, the utterance's final piece with
 * `is_final: true`, its `words` timed in seconds since the connection's first audio, then `flush_done`); `done`
 * is answered by `done` and a 1000 close; an unknown command or a bad query gets an `error` message.
 *
 * Speech is heard by `recognizer`, a real local STT (pocketsphinx in the tests), one stream per connection: its
 * interims become the `is_final: false` transcripts and its final (asked for on `finalize`) the final piece.
 * Faults per connection: an upgrade rejected (status, headers), a drop after some audio, junk frames, a slow first
 * message, silence.
 */

export interface CartesiaSttConnectionPlan {
  reject?: Rejection;
  /** Cut the TCP connection (no close frame) after this much audio. */
  dropAfterAudioMs?: number;
  /** Send these raw text frames once the first audio arrives. */
  junkFirst?: string[];
  firstResultDelayMs?: number;
  /** Accept everything, answer nothing. */
  silent?: boolean;
}

export interface CartesiaSttServerOptions {
  apiKey: string;
  recognizer: STT;
  connections?: CartesiaSttConnectionPlan[];
}

export interface CartesiaSttConnectionRecord {
  index: number;
  query: URLSearchParams;
  version: string | undefined;
  audioBytes: number;
  commands: string[];
  finals: string[];
  closedWith?: number;
}

const MODELS = new Set(['ink-whisper', 'ink-2']);

export class FakeCartesiaSttServer extends FakeSocketProvider {
  readonly records: CartesiaSttConnectionRecord[] = [];

  constructor(private readonly options: CartesiaSttServerOptions) {
    super();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.http.port}`;
  }

  protected checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status: number, message: string): Rejection => ({
      status,
      body: JSON.stringify({ error: message }),
    });
    if (url.pathname !== '/stt/websocket') return json(404, `no route ${url.pathname}`);
    const planned = this.options.connections?.[index]?.reject;
    if (planned) return planned;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (req.headers['x-api-key'] !== this.options.apiKey && bearer !== this.options.apiKey)
      return json(401, 'Invalid API key');
    if (!req.headers['cartesia-version'] && !url.searchParams.get('cartesia_version'))
      return json(400, 'Cartesia-Version header is required');
    if (!MODELS.has(url.searchParams.get('model') ?? '')) return json(400, 'Invalid model');
    if (url.searchParams.get('encoding') !== 'pcm_s16le') return json(400, 'unsupported encoding');
    if (url.searchParams.get('sample_rate') !== '16000') return json(400, 'sample_rate must be 16000 here');
    return undefined;
  }

  protected serve(ws: WebSocket, req: IncomingMessage, index: number): void {
    const plan = this.options.connections?.[index] ?? {};
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: CartesiaSttConnectionRecord = {
      index,
      query: url.searchParams,
      version: (req.headers['cartesia-version'] as string | undefined) ?? undefined,
      audioBytes: 0,
      commands: [],
      finals: [],
    };
    this.records.push(record);
    const requestId = randomUUID();
    const language = url.searchParams.get('language') ?? 'en';
    const sender = new OrderedSender(ws, plan.firstResultDelayMs);
    const send = (m: object) => {
      if (!plan.silent) sender.send({ ...m, request_id: requestId });
    };
    const close = (code: number, reason: string) => {
      record.closedWith = code;
      ws.close(code, reason);
    };
    let positionMs = 0;
    let ended = false;
    let junkSent = false;
    /** What to do once the recogniser's final for each `finalize` arrives, in order. */
    const awaitingFinal: ((t: Transcript) => void)[] = [];
    const words = (t: Transcript) => {
      const tokens = t.text.split(/\s+/).filter(Boolean);
      const step = Math.max(0, t.endMs - t.startMs) / Math.max(1, tokens.length);
      return tokens.map((word, i) => ({
        word,
        start: (t.startMs + i * step) / 1000,
        end: (t.startMs + (i + 1) * step) / 1000,
      }));
    };
    const speech: SttStream = this.options.recognizer.stream({
      onInterim: (t) => {
        if (!ended && t.text.trim()) send({ type: 'transcript', is_final: false, text: t.text, language });
      },
      onFinal: (t) => awaitingFinal.shift()?.(t),
      onError: () => close(1011, 'Internal error'),
    });
    ws.on('close', () => speech.close());
    const finalize = (then: () => void) => {
      awaitingFinal.push((t) => {
        if (t.text.trim()) {
          record.finals.push(t.text.trim());
          send({
            type: 'transcript',
            is_final: true,
            text: t.text.trim(),
            duration: positionMs / 1000,
            language,
            words: words(t),
          });
        }
        send({ type: 'flush_done' });
        then();
      });
      speech.flush();
    };

    ws.on('message', (data, isBinary) => {
      if (ended) return;
      if (!isBinary) {
        const command = String(data);
        record.commands.push(command);
        if (command === 'finalize') return finalize(() => undefined);
        if (command === 'done') {
          return finalize(() => {
            ended = true;
            send({ type: 'done' });
            void sender.drained().then(() => close(1000, 'done'));
          });
        }
        send({ type: 'error', message: `Unknown command: ${command.slice(0, 40)}`, status_code: 400 });
        return;
      }
      const bytes = data as Buffer;
      if (bytes.byteLength % 2 !== 0) {
        send({ type: 'error', message: 'Audio must be whole 16-bit samples', status_code: 400 });
        return;
      }
      record.audioBytes += bytes.byteLength;
      if (plan.junkFirst && !junkSent) {
        junkSent = true;
        for (const junk of plan.junkFirst) sender.send(junk);
      }
      const samples = new Int16Array(bytes.byteLength / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
      speech.push({ samples, sampleRate: 16_000, timestampMs: positionMs });
      positionMs += samples.length / 16;
      if (plan.dropAfterAudioMs !== undefined && positionMs >= plan.dropAfterAudioMs) {
        ended = true;
        void sender.drained().then(() => ws.terminate());
      }
    });
  }
}
