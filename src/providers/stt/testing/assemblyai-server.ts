import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { rmsDbfs } from '../../../audio/level.ts';
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
 * Words come from tone-coded audio (`vocabulary`, see coded-speech.ts), or, for real speech, from `clips`: the fake
 * does not recognise speech, it knows the recordings it may be played (the LibriVox clips with their reference
 * transcripts) and at the end of a turn answers with the transcript of the clip whose voiced length is closest to
 * what it heard (within a third), its words spread over the voiced span. The client's code path is the same.
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
  /** Real speech: the recordings this fake knows (16 kHz) and their transcripts. */
  clips?: { samples: Int16Array; text: string }[];
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

/** Voiced span of a recording in ms (first to last 20 ms frame above the voicing level). */
function voicedSpanMs(samples: Int16Array): number {
  let first = -1;
  let last = -1;
  for (let at = 0, i = 0; at < samples.length; at += 320, i++) {
    if (rmsDbfs(samples.subarray(at, at + 320)) > VOICED_DBFS) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? 0 : (last - first + 1) * 20;
}

export class FakeAssemblyAiServer extends FakeSocketProvider {
  readonly records: AssemblyAiConnectionRecord[] = [];
  private readonly clipSpans: { span: number; text: string }[];

  constructor(private readonly options: AssemblyAiServerOptions) {
    super();
    this.clipSpans = (options.clips ?? []).map((c) => ({ span: voicedSpanMs(c.samples), text: c.text }));
  }

  /** The known clip whose voiced length is closest to `spanMs` (within a third), or undefined. */
  private clipFor(spanMs: number): string | undefined {
    let best: { span: number; text: string } | undefined;
    for (const c of this.clipSpans) {
      if (!best || Math.abs(c.span - spanMs) < Math.abs(best.span - spanMs)) best = c;
    }
    return best && Math.abs(best.span - spanMs) <= best.span / 3 ? best.text : undefined;
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

    // Tone-coded words, or known recordings of real speech.
    const coded = this.options.vocabulary
      ? new CodedSpeechDecoder(this.options.vocabulary, 16_000, (w) =>
          heard({ text: w.word, start: Math.round(w.startMs), end: Math.round(w.endMs) }),
        )
      : undefined;
    const clips = this.clipSpans.length > 0;
    let voicedFrom: number | undefined;
    let voicedTo = 0;
    /** The words of the known clip matching the voiced span heard this turn, spread over that span. */
    const recognize = () => {
      if (voicedFrom === undefined) return;
      const from = voicedFrom;
      voicedFrom = undefined;
      const tokens = (this.clipFor(voicedTo - from) ?? '').split(/\s+/).filter(Boolean);
      const span = (voicedTo - from) / Math.max(1, tokens.length);
      tokens.forEach((token, i) => {
        heard({ text: token, start: Math.round(from + i * span), end: Math.round(from + (i + 1) * span) });
      });
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
        if (type === 'ForceEndpoint' || type === 'Terminate') {
          recognize();
          endTurn();
        }
        if (type === 'ForceEndpoint') return;
        if (type === 'Terminate') {
          ended = true;
          send({
            type: 'Termination',
            audio_duration_seconds: positionMs / 1000,
            session_duration_seconds: positionMs / 1000,
          });
          void sender.drained().then(() => close(1000, 'Terminated'));
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
      if (clips) {
        for (let at = 0; at < samples.length; at += 320) {
          if (rmsDbfs(samples.subarray(at, at + 320)) <= VOICED_DBFS) continue;
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
      if (clips) {
        // Real speech: the pause alone ends the turn (the fake's end-of-turn model).
        if (voicedFrom !== undefined && positionMs - voicedTo >= confidentMs) {
          recognize();
          endTurn();
        }
        return;
      }
      const silence = coded ? coded.silenceMs : 0;
      const last = words.at(-1)?.text ?? '';
      const due = silence >= maxSilenceMs || (silence >= confidentMs && SENTENCE_END.test(last));
      if (words.length > 0 && due) endTurn();
    });
  }
}
