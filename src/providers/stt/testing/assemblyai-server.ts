import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { rmsDbfs } from '../../../audio/level.ts';
import type { STT, SttStream, Transcript } from '../contract.ts';
import { CodedSpeechDecoder } from './coded-speech.ts';
import { FakeSocketProvider, OrderedSender, type Rejection } from './fake-server.ts';

/**
 * A local server speaking AssemblyAI's Universal-Streaming v3 protocol (`/v3/ws?sample_rate=16000&encoding=
 * pcm_s16le&…`, the key in `Authorization`), from its public docs: `Begin` on connect; binary PCM in, in chunks of
 * 50–1000 ms (others close the socket with 3007, "Input duration violation"); `SpeechStarted`, partial `Turn`
 * messages (`end_of_turn: false`, words with `word_is_final`) and one `Turn` with `end_of_turn: true` per turn
 * (a formatted copy with `turn_is_formatted: true` after it when `format_turns=true`); `ForceEndpoint` ends the
 * turn now; `Terminate` gets `Termination` and a 1000 close. A bad key closes with 1008 after the upgrade, as the
 * service does. The turn ends after `max_turn_silence` (default 1280 ms) of silence, or after
 * `min_end_of_turn_silence_when_confident` (default 400 ms) when the words so far end a sentence; over real speech,
 * after that shorter pause alone (the fake's stand-in for the end-of-turn model).
 *
 * Words come from tone-coded audio (`vocabulary`, see coded-speech.ts), or, for real speech, from `recognizer`: a
 * real local STT (pocketsphinx in the session tests) that hears the audio as it arrives; its interims become the
 * partial `Turn` messages and its final (asked for at the pause, or on `ForceEndpoint` / `Terminate`) the
 * `end_of_turn` one, words spread over the span it reports. The client's code path is the same either way.
 */

export interface AssemblyAiConnectionPlan {
  reject?: Rejection;
  /** Cut the TCP connection (no close frame) after this many words. */
  dropAfterWords?: number;
  /** Cut the TCP connection after this much audio. */
  dropAfterAudioMs?: number;
  /** Send these raw text frames once the first audio arrives. */
  junkFirst?: string[];
  firstResultDelayMs?: number;
  silent?: boolean;
}

export interface AssemblyAiServerOptions {
  apiKey: string;
  vocabulary?: readonly string[];
  /** Real speech: the recogniser that hears it (one stream per connection), e.g. a PocketsphinxSTT. */
  recognizer?: STT;
  connections?: AssemblyAiConnectionPlan[];
}

export interface AssemblyAiConnectionRecord {
  index: number;
  query: URLSearchParams;
  audioBytes: number;
  chunkMs: number[];
  control: string[];
  turns: string[];
  closedWith?: number;
}

interface HeardWord {
  text: string;
  start: number;
  end: number;
}

const SENTENCE_END = /[.?!]$/;

const VOICED_DBFS = -45;

/** A transcript's words spread evenly over the span it reports (the recogniser gives no word times). */
function spread(t: Transcript): HeardWord[] {
  const tokens = t.text.split(/\s+/).filter(Boolean);
  const span = Math.max(0, t.endMs - t.startMs) / Math.max(1, tokens.length);
  return tokens.map((text, i) => ({
    text,
    start: Math.round(t.startMs + i * span),
    end: Math.round(t.startMs + (i + 1) * span),
  }));
}

export class FakeAssemblyAiServer extends FakeSocketProvider {
  readonly records: AssemblyAiConnectionRecord[] = [];

  constructor(private readonly options: AssemblyAiServerOptions) {
    super();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.http.port}`;
  }

  protected checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status: number, error: string): Rejection => ({ status, body: JSON.stringify({ error }) });
    if (url.pathname !== '/v3/ws') return json(404, `no route ${url.pathname}`);
    const planned = this.options.connections?.[index]?.reject;
    if (planned) return planned;
    if (url.searchParams.get('sample_rate') !== '16000') return json(400, 'sample_rate must be 16000 here');
    if ((url.searchParams.get('encoding') ?? 'pcm_s16le') !== 'pcm_s16le')
      return json(400, 'unsupported encoding');
    return undefined;
  }

  protected serve(ws: WebSocket, req: IncomingMessage, index: number): void {
    const plan = this.options.connections?.[index] ?? {};
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const record: AssemblyAiConnectionRecord = {
      index,
      query,
      audioBytes: 0,
      chunkMs: [],
      control: [],
      turns: [],
    };
    this.records.push(record);
    const close = (code: number, reason: string) => {
      record.closedWith = code;
      ws.close(code, reason);
    };
    if (req.headers.authorization !== this.options.apiKey) {
      close(1008, 'Invalid API key');
      return;
    }
    const sender = new OrderedSender(ws, plan.firstResultDelayMs);
    const send = (m: object) => {
      if (!plan.silent) sender.send(m);
    };
    send({ type: 'Begin', id: randomUUID(), expires_at: Math.floor(Date.now() / 1000) + 600 });
    const formatted = query.get('format_turns') === 'true';
    const confidentMs = Number(query.get('min_end_of_turn_silence_when_confident') ?? 400);
    const maxSilenceMs = Number(query.get('max_turn_silence') ?? 1280);
    let turnOrder = 0;
    let words: HeardWord[] = [];
    let heardWords = 0;
    let positionMs = 0;
    let speaking = false;
    let junkSent = false;
    let ended = false;

    const turnMessage = (endOfTurn: boolean, format = false) => {
      const text = words.map((w) => w.text).join(' ');
      return {
        type: 'Turn',
        turn_order: turnOrder,
        turn_is_formatted: format,
        end_of_turn: endOfTurn,
        transcript: format
          ? `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.?!]$/.test(text) ? '' : '.'}`
          : text,
        end_of_turn_confidence: endOfTurn ? 0.9 : 0.1,
        words: words.map((w) => ({ ...w, confidence: 0.95, word_is_final: true })),
        utterance: '',
      };
    };
    const endTurn = () => {
      if (words.length === 0) return;
      send(turnMessage(true));
      if (formatted) send(turnMessage(true, true));
      record.turns.push(words.map((w) => w.text).join(' '));
      words = [];
      turnOrder++;
      speaking = false;
    };
    const heard = (word: HeardWord) => {
      if (!speaking) {
        speaking = true;
        send({ type: 'SpeechStarted', timestamp: word.start });
      }
      words.push(word);
      heardWords++;
      send(turnMessage(false));
    };

    // Tone-coded words, or real speech heard by the recogniser.
    const coded = this.options.vocabulary
      ? new CodedSpeechDecoder(this.options.vocabulary, 16_000, (w) =>
          heard({ text: w.word, start: Math.round(w.startMs), end: Math.round(w.endMs) }),
        )
      : undefined;
    let voicedFrom: number | undefined;
    let voicedTo = 0;
    /** Turn ends waiting for the recogniser's final, in order. */
    const awaitingFinal: (() => void)[] = [];
    const speech: SttStream | undefined = this.options.recognizer?.stream({
      onInterim: (t) => {
        if (ended || !t.text.trim()) return;
        if (!speaking) {
          speaking = true;
          send({ type: 'SpeechStarted', timestamp: Math.round(t.startMs) });
        }
        words = spread(t);
        send(turnMessage(false));
      },
      onFinal: (t) => {
        words = spread(t);
        heardWords += words.length;
        if (words.length && !speaking) {
          speaking = true;
          send({ type: 'SpeechStarted', timestamp: words[0].start });
        }
        (awaitingFinal.shift() ?? endTurn)();
      },
      onError: () => close(1011, 'Internal error'),
    });
    ws.on('close', () => speech?.close());
    /** Ends the turn once the recogniser has given its final (at once for tone-coded audio). */
    const recognize = (then: () => void) => {
      voicedFrom = undefined;
      if (!speech) return then();
      awaitingFinal.push(() => {
        endTurn();
        then();
      });
      speech.flush();
    };

    ws.on('message', (data, isBinary) => {
      if (ended) return;
      if (!isBinary) {
        const text = String(data);
        record.control.push(text);
        let type: unknown;
        try {
          type = (JSON.parse(text) as { type?: unknown }).type;
        } catch {
          return close(3006, 'Invalid JSON');
        }
        if (type === 'KeepAlive' || type === 'UpdateConfiguration') return;
        if (type === 'ForceEndpoint') return recognize(() => undefined);
        if (type === 'Terminate') {
          recognize(() => {
            ended = true;
            send({
              type: 'Termination',
              audio_duration_seconds: positionMs / 1000,
              session_duration_seconds: positionMs / 1000,
            });
            void sender.drained().then(() => close(1000, 'Terminated'));
          });
          return;
        }
        return close(3006, `Unknown message type ${String(type)}`);
      }
      const bytes = data as Buffer;
      const ms = bytes.byteLength / 32;
      record.chunkMs.push(ms);
      if (bytes.byteLength % 2 !== 0 || ms < 50 || ms > 1000) {
        ended = true;
        return close(3007, 'Input duration violation: audio chunks must be between 50 and 1000 ms');
      }
      record.audioBytes += bytes.byteLength;
      if (plan.junkFirst && !junkSent) {
        junkSent = true;
        for (const junk of plan.junkFirst) sender.send(junk);
      }
      const samples = new Int16Array(bytes.byteLength / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
      coded?.push(samples);
      if (speech) {
        for (let at = 0; at < samples.length; at += 320) {
          const frame = samples.subarray(at, at + 320);
          speech.push({ samples: frame, sampleRate: 16_000, timestampMs: positionMs + at / 16 });
          if (rmsDbfs(frame) <= VOICED_DBFS) continue;
          voicedFrom ??= positionMs + at / 16;
          voicedTo = positionMs + (at + 320) / 16;
        }
      }
      positionMs += ms;
      const dropByAudio = plan.dropAfterAudioMs !== undefined && positionMs >= plan.dropAfterAudioMs;
      if (dropByAudio || (plan.dropAfterWords !== undefined && heardWords >= plan.dropAfterWords)) {
        ended = true;
        void sender.drained().then(() => ws.terminate());
        return;
      }
      if (speech) {
        // Real speech: the pause alone ends the turn (the fake's end-of-turn model).
        if (voicedFrom !== undefined && positionMs - voicedTo >= confidentMs) recognize(() => undefined);
        return;
      }
      const silence = coded ? coded.silenceMs : 0;
      const last = words.at(-1)?.text ?? '';
      const due = silence >= maxSilenceMs || (silence >= confidentMs && SENTENCE_END.test(last));
      if (words.length > 0 && due) endTurn();
    });
  }
}
