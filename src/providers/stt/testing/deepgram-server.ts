import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { CodedSpeechDecoder, type DecodedWord } from './coded-speech.ts';
import { FakeSocketProvider, OrderedSender, type Rejection } from './fake-server.ts';

/** How one connection (in the order they arrive) misbehaves. */
export interface DeepgramConnectionPlan {
  /** Refuse the upgrade, e.g. `{ status: 429, headers: { 'retry-after': '1' } }`. */
  reject?: Rejection;
  /** Cut the TCP connection (no close frame) once this many words were heard on it. */
  dropAfterWords?: number;
  /** Close with a code (1011, 1008, …) once this many words were heard. */
  closeAfterWords?: { words: number; code: number; reason: string };
  /** Hold the first message back this long. */
  firstResultDelayMs?: number;
  /** Accept audio and say nothing at all: a stalled connection. */
  silent?: boolean;
  /** Send these raw text frames first, once the first audio arrives (malformed messages). */
  junkFirst?: string[];
}

export interface DeepgramServerOptions {
  apiKey: string;
  vocabulary: readonly string[];
  connections?: DeepgramConnectionPlan[];
  /**
   * Deepgram documents that a Finalize "may" be answered with `from_finalize: true`, typically when audio is
   * buffered. This fake answers only when there are words to finalise unless this is set.
   */
  answerEmptyFinalize?: boolean;
  /**
   * The language (BCP-47, `en`, `es`) of each vocabulary word. With `language=multi` (the multilingual model's
   * code-switching), each word carries its `language` and each alternative the `languages` heard in it, most
   * words first, as Deepgram documents. Words without one count as `en`.
   */
  wordLanguages?: Readonly<Record<string, string>>;
}

const ControlMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('KeepAlive') }).strict(),
  z.object({ type: z.literal('Finalize'), channel: z.number().int().optional() }).strict(),
  z.object({ type: z.literal('CloseStream') }).strict(),
]);

export interface DeepgramConnectionRecord {
  index: number;
  query: URLSearchParams;
  audioBytes: number;
  control: string[];
  wordsHeard: string[];
  closedWith?: number;
}

/**
 * A local server speaking Deepgram's live transcription protocol (`/v1/listen`): `Authorization: Token KEY`, query
 * parameters for the audio format, binary linear16 in, `Results` / `SpeechStarted` / `UtteranceEnd` / `Metadata`
 * out, `KeepAlive` / `Finalize` / `CloseStream` control messages, HTTP errors with `dg-error` at the upgrade and
 * close codes 1008/1011. Transcripts come from decoding tone-coded audio (see coded-speech.ts).
 */
export class FakeDeepgramServer extends FakeSocketProvider {
  readonly records: DeepgramConnectionRecord[] = [];

  constructor(private readonly options: DeepgramServerOptions) {
    super();
  }

  /** The base URL a client takes (`ws://127.0.0.1:PORT`). */
  get url(): string {
    return `ws://127.0.0.1:${this.http.port}`;
  }

  private plan(index: number): DeepgramConnectionPlan {
    return this.options.connections?.[index] ?? {};
  }

  protected checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const error = (status: number, code: string, message: string): Rejection => ({
      status,
      headers: { 'dg-error': message, 'dg-request-id': randomUUID() },
      body: JSON.stringify({ err_code: code, err_msg: message, request_id: randomUUID() }),
    });
    if (url.pathname !== '/v1/listen') return error(404, 'NOT_FOUND', `no route ${url.pathname}`);
    if (req.headers.authorization !== `Token ${this.options.apiKey}`)
      return error(401, 'INVALID_AUTH', 'Invalid credentials.');
    const planned = this.plan(index).reject;
    if (planned) return planned;
    const q = url.searchParams;
    if (q.get('encoding') !== 'linear16') return error(400, 'Bad Request', 'encoding must be linear16 here');
    if (q.get('sample_rate') !== '16000') return error(400, 'Bad Request', 'sample_rate must be 16000 here');
    if ((q.get('channels') ?? '1') !== '1') return error(400, 'Bad Request', 'channels must be 1');
    return undefined;
  }

  protected serve(ws: WebSocket, req: IncomingMessage, index: number): void {
    const plan = this.plan(index);
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const record: DeepgramConnectionRecord = { index, query, audioBytes: 0, control: [], wordsHeard: [] };
    this.records.push(record);
    const sender = new OrderedSender(ws, plan.firstResultDelayMs);
    const send = (message: object | string) => {
      if (!plan.silent) sender.send(message);
    };
    const endpointingMs = query.get('endpointing') === 'false' ? 0 : Number(query.get('endpointing') ?? 10);
    const utteranceEndMs = Number(query.get('utterance_end_ms') ?? 0);
    const interim = query.get('interim_results') === 'true';
    const vadEvents = query.get('vad_events') === 'true';
    const requestId = randomUUID();
    let segment: DecodedWord[] = [];
    let segmentStartMs = 0;
    let awaitingUtteranceEnd = false;
    let junkSent = false;
    let ended = false;

    const multi = query.get('language') === 'multi';
    const languageOf = (word: string) => this.options.wordLanguages?.[word] ?? 'en';
    const languagesOf = (words: DecodedWord[]) => {
      const counts = new Map<string, number>();
      for (const w of words) counts.set(languageOf(w.word), (counts.get(languageOf(w.word)) ?? 0) + 1);
      return [...counts].sort((a, b) => b[1] - a[1]).map(([language]) => language);
    };
    const results = (words: DecodedWord[], fromMs: number, toMs: number, extra: object) => ({
      type: 'Results',
      channel_index: [0, 1],
      duration: (toMs - fromMs) / 1000,
      start: fromMs / 1000,
      is_final: false,
      speech_final: false,
      channel: {
        alternatives: [
          {
            transcript: words.map((w) => w.word).join(' '),
            confidence: words.length ? 0.98 : 0,
            ...(multi ? { languages: languagesOf(words) } : {}),
            words: words.map((w) => ({
              word: w.word,
              start: w.startMs / 1000,
              end: w.endMs / 1000,
              confidence: 0.98,
              ...(multi ? { language: languageOf(w.word) } : {}),
            })),
          },
        ],
      },
      metadata: { request_id: requestId, model_info: { name: query.get('model') ?? 'nova-3' } },
      ...extra,
    });
    const finalize = (extra: object) => {
      const toMs = decoder.positionMs;
      send(results(segment, segmentStartMs, toMs, { is_final: true, ...extra }));
      segment = [];
      segmentStartMs = toMs;
    };
    const decoder = new CodedSpeechDecoder(
      this.options.vocabulary,
      16_000,
      (word) => {
        segment.push(word);
        record.wordsHeard.push(word.word);
        awaitingUtteranceEnd = utteranceEndMs > 0;
        if (interim) send(results(segment, segmentStartMs, word.endMs, {}));
      },
      (atMs) => {
        if (vadEvents) send({ type: 'SpeechStarted', channel: [0, 1], timestamp: atMs / 1000 });
      },
    );
    const fail = (code: number, reason: string) => {
      ended = true;
      record.closedWith = code;
      ws.close(code, reason);
    };

    ws.on('message', (data, isBinary) => {
      if (ended) return;
      if (isBinary) {
        const bytes = data as Buffer;
        if (bytes.byteLength % 2 !== 0) return fail(1008, 'DATA-0000: odd byte count for linear16');
        record.audioBytes += bytes.byteLength;
        if (plan.junkFirst && !junkSent) {
          junkSent = true;
          for (const junk of plan.junkFirst) sender.send(junk);
        }
        const samples = new Int16Array(bytes.byteLength / 2);
        for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
        decoder.push(samples);
        if (plan.dropAfterWords !== undefined && record.wordsHeard.length >= plan.dropAfterWords) {
          ended = true;
          void sender.drained().then(() => ws.terminate());
          return;
        }
        const closeAt = plan.closeAfterWords;
        if (closeAt && record.wordsHeard.length >= closeAt.words) return fail(closeAt.code, closeAt.reason);
        if (segment.length > 0 && endpointingMs > 0 && decoder.silenceMs >= endpointingMs)
          finalize({ speech_final: true });
        if (awaitingUtteranceEnd && decoder.silenceMs >= utteranceEndMs) {
          awaitingUtteranceEnd = false;
          decoder.resetSpeechStart();
          const lastWordEnd = decoder.positionMs - decoder.silenceMs;
          send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: lastWordEnd / 1000 });
        }
        return;
      }
      let parsed: z.infer<typeof ControlMessage>;
      try {
        parsed = ControlMessage.parse(JSON.parse(data.toString()));
      } catch {
        return fail(1008, 'DATA-0000: unrecognised text message');
      }
      record.control.push(parsed.type);
      if (parsed.type === 'Finalize') {
        decoder.finish();
        if (segment.length > 0 || this.options.answerEmptyFinalize) finalize({ from_finalize: true });
      } else if (parsed.type === 'CloseStream') {
        decoder.finish();
        if (segment.length > 0) finalize({});
        send({
          type: 'Metadata',
          transaction_key: 'deprecated',
          request_id: requestId,
          created: new Date().toISOString(),
          duration: decoder.positionMs / 1000,
          channels: 1,
        });
        ended = true;
        void sender.drained().then(() => ws.close(1000));
      }
    });
  }
}
