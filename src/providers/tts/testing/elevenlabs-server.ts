import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { FakeHttpServer, type Rejection, readBody, sendJson, startPcm } from '../../testing/http-fakes.ts';

/**
 * A local stand-in for ElevenLabs text-to-speech, from the public API reference:
 * - WebSocket `/v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=pcm_…&inactivity_timeout=…`
 *   with the `xi-api-key` header. The first message must be `{text: " ", voice_settings?, generation_config?}`;
 *   then `{text: "… ", flush?}` (text ending in a space), and `{text: ""}` ends the input. Audio comes back as
 *   `{audio: base64 PCM16, isFinal: null, alignment, normalizedAlignment}` with per-character times relative to
 *   each chunk; the last message is `{isFinal: true}` and the server closes with 1000. A bad message gets
 *   `{message, error, code: 1008}` and a 1008 close; silence past the inactivity timeout closes with 1008 too.
 * - HTTP `POST /v1/text-to-speech/{voice_id}/stream?output_format=pcm_…` with `{text, model_id, voice_settings}`,
 *   streaming raw PCM16; errors as `{detail: {status, message}}`.
 * Audio is a tone lasting `msPerCharacter` per character, so tests can check which text produced it.
 */

const VoiceSettingsSchema = z
  .object({
    stability: z.number().min(0).max(1).optional(),
    similarity_boost: z.number().min(0).max(1).optional(),
    style: z.number().min(0).max(1).optional(),
    use_speaker_boost: z.boolean().optional(),
    speed: z.number().min(0.7).max(1.2).optional(),
  })
  .strict();

const InitSchema = z
  .object({
    text: z.literal(' '),
    voice_settings: VoiceSettingsSchema.optional(),
    generation_config: z
      .object({ chunk_length_schedule: z.array(z.number().int().min(50).max(500)).min(1) })
      .strict()
      .optional(),
  })
  .strict();

const TextSchema = z
  .object({
    text: z.string(),
    flush: z.boolean().optional(),
    try_trigger_generation: z.boolean().optional(),
  })
  .strict()
  .refine((m) => m.text === '' || m.text.endsWith(' '), { message: 'text must end with a single space' });

const HttpBodySchema = z
  .object({
    text: z.string().min(1),
    model_id: z.string().min(1).optional(),
    voice_settings: VoiceSettingsSchema.optional(),
  })
  .strict();

const OUTPUT_FORMATS: Record<string, number> = {
  pcm_16000: 16_000,
  pcm_22050: 22_050,
  pcm_24000: 24_000,
  pcm_44100: 44_100,
};

export interface ElevenLabsSocketScript {
  /** Refuse the upgrade with this HTTP status (401, 429 with retry-after, 500…). */
  reject?: { status: number; message: string; headers?: Record<string, string> };
  /** Delay before the first audio message. */
  firstAudioDelayMs?: number;
  /** Cut the TCP connection (no close frame) after this many audio messages. */
  dropAfterAudioMessages?: number;
  /** Answer the nth flush (from 1) with an error message and a 1008 close. */
  errorOnFlush?: number;
}

export interface ElevenLabsHttpScript {
  error?: { status: number; detail: unknown; headers?: Record<string, string> };
  firstByteDelayMs?: number;
  dropAfterBytes?: number;
}

export interface ElevenLabsServerOptions {
  apiKey: string;
  msPerCharacter?: number;
  /** Override the inactivity timeout (ElevenLabs: `inactivity_timeout` seconds, default 20) in ms, for tests. */
  inactivityMs?: number;
  socketScript?: (index: number) => ElevenLabsSocketScript;
  httpScript?: (text: string, index: number) => ElevenLabsHttpScript;
}

export interface RecordedSocket {
  voiceId: string;
  query: Record<string, string>;
  init?: z.infer<typeof InitSchema>;
  messages: z.infer<typeof TextSchema>[];
  /** How the connection ended: `final` (isFinal sent), `client` (client closed), `inactive`, `error`, `dropped`. */
  ended?: 'final' | 'client' | 'inactive' | 'error' | 'dropped';
}

/** What an accepted upgrade hands on to its connection. */
interface AcceptedSocket {
  record: RecordedSocket;
  script: ElevenLabsSocketScript;
  sampleRate: number;
  inactivityMs: number;
}

export class ElevenLabsServer {
  readonly sockets: RecordedSocket[] = [];
  readonly httpRequests: { voiceId: string; outputFormat: string; body: z.infer<typeof HttpBodySchema> }[] =
    [];
  readonly protocolErrors: string[] = [];
  /** WebSocket upgrade requests, refused ones included. */
  upgrades = 0;
  private readonly accepted = new WeakMap<IncomingMessage, AcceptedSocket>();
  private readonly http = new FakeHttpServer({
    request: (req, res) => void this.handleHttp(req, res),
    upgrade: (req) => this.checkUpgrade(req),
    connection: (ws, req, tcp) => {
      const accepted = this.accepted.get(req);
      if (accepted) this.serveSocket(ws, tcp, accepted);
    },
  });

  private constructor(private readonly options: ElevenLabsServerOptions) {}

  static async start(options: ElevenLabsServerOptions): Promise<ElevenLabsServer> {
    const server = new ElevenLabsServer(options);
    await server.http.start();
    return server;
  }

  /** The client's `baseUrl`: `http://127.0.0.1:<port>` (the WebSocket URL is derived from it). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.http.port}`;
  }

  get openSockets(): number {
    return this.http.openSockets;
  }

  samplesFor(text: string, sampleRate: number): number {
    return Math.round((text.length * (this.options.msPerCharacter ?? 40) * sampleRate) / 1000);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private checkUpgrade(req: IncomingMessage): Rejection | undefined {
    this.upgrades++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/v1\/text-to-speech\/([^/]+)\/stream-input$/.exec(url.pathname);
    const refuse = (status: number, detail: unknown, headers?: Record<string, string>): Rejection => ({
      status,
      headers,
      body: JSON.stringify({ detail }),
    });
    if (!match) return refuse(404, { status: 'not_found', message: 'Not found' });
    if (req.headers['xi-api-key'] !== this.options.apiKey) {
      return refuse(401, { status: 'invalid_api_key', message: 'Invalid API key' });
    }
    const query = Object.fromEntries(url.searchParams);
    const format = query.output_format ?? 'mp3_44100_128';
    if (!(format in OUTPUT_FORMATS)) {
      return refuse(422, { status: 'invalid_output_format', message: `unsupported output_format ${format}` });
    }
    if (!query.model_id) return refuse(422, { status: 'invalid_model', message: 'model_id is required' });
    const inactivity = query.inactivity_timeout === undefined ? 20 : Number(query.inactivity_timeout);
    if (!(inactivity >= 1 && inactivity <= 180)) {
      return refuse(422, {
        status: 'invalid_inactivity_timeout',
        message: 'inactivity_timeout must be 1-180',
      });
    }
    const script = this.options.socketScript?.(this.upgrades - 1) ?? {};
    if (script.reject) {
      const { status, message, headers } = script.reject;
      return refuse(status, { status: 'error', message }, headers);
    }
    const record: RecordedSocket = { voiceId: decodeURIComponent(match[1]), query, messages: [] };
    this.sockets.push(record);
    this.accepted.set(req, {
      record,
      script,
      sampleRate: OUTPUT_FORMATS[format],
      inactivityMs: this.options.inactivityMs ?? inactivity * 1000,
    });
    return undefined;
  }

  private serveSocket(ws: WebSocket, tcp: Socket, accepted: AcceptedSocket): void {
    const { record, script, sampleRate, inactivityMs } = accepted;
    let buffer = '';
    let flushes = 0;
    let audioMessages = 0;
    let queue = Promise.resolve();
    let firstAudio = true;
    let cancelIdle = () => {};
    const armIdle = () => {
      cancelIdle();
      cancelIdle = this.http.later(inactivityMs, () => {
        record.ended ??= 'inactive';
        ws.close(
          1008,
          `Have not received a new text input within the timeout of ${inactivityMs / 1000} seconds`,
        );
      });
    };
    const protocolError = (message: string) => {
      this.protocolErrors.push(message);
      record.ended ??= 'error';
      ws.send(JSON.stringify({ message, error: 'invalid_message', code: 1008 }));
      ws.close(1008, message.slice(0, 120));
    };
    const generate = (text: string) => {
      queue = queue.then(async () => {
        if (firstAudio && script.firstAudioDelayMs) await this.http.sleep(script.firstAudioDelayMs ?? 0);
        firstAudio = false;
        for (const group of wordGroups(text, 3)) {
          if (ws.readyState !== ws.OPEN) return;
          if (script.dropAfterAudioMessages !== undefined && audioMessages >= script.dropAfterAudioMessages) {
            record.ended ??= 'dropped';
            tcp.destroy();
            return;
          }
          audioMessages++;
          ws.send(JSON.stringify(this.audioMessage(group, sampleRate)));
          await new Promise<void>((r) => setImmediate(r));
        }
      });
    };
    armIdle();
    ws.on('close', () => {
      cancelIdle();
      record.ended ??= 'client';
    });
    ws.on('message', (data, isBinary) => {
      armIdle();
      if (isBinary) return protocolError('binary messages are not accepted');
      let json: unknown;
      try {
        json = JSON.parse(String(data));
      } catch {
        return protocolError('message is not JSON');
      }
      if (!record.init) {
        const init = InitSchema.safeParse(json);
        if (!init.success) return protocolError(`first message: ${init.error.issues[0].message}`);
        record.init = init.data;
        return;
      }
      const parsed = TextSchema.safeParse(json);
      if (!parsed.success) return protocolError(parsed.error.issues[0].message);
      const message = parsed.data;
      record.messages.push(message);
      if (message.text === '' && !message.flush) {
        const rest = buffer;
        buffer = '';
        if (rest.trim()) generate(rest);
        queue = queue.then(() => {
          if (ws.readyState !== ws.OPEN) return;
          record.ended ??= 'final';
          ws.send(JSON.stringify({ audio: null, isFinal: true, normalizedAlignment: null, alignment: null }));
          ws.close(1000);
        });
        return;
      }
      buffer += message.text;
      if (message.flush) {
        flushes++;
        if (script.errorOnFlush === flushes) return protocolError('generation failed');
        const text = buffer;
        buffer = '';
        if (text.trim()) generate(text);
      }
    });
  }

  private audioMessage(text: string, sampleRate: number) {
    const ms = this.options.msPerCharacter ?? 40;
    const chars = [...text];
    const alignment = {
      chars,
      charStartTimesMs: chars.map((_, i) => i * ms),
      charDurationsMs: chars.map(() => ms),
    };
    return {
      audio: tone(this.samplesFor(text, sampleRate), sampleRate).toString('base64'),
      isFinal: null,
      alignment,
      normalizedAlignment: alignment,
    };
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const fail = (status: number, detail: unknown, headers?: Record<string, string>) =>
      sendJson(res, status, { detail }, headers);
    if (req.headers['xi-api-key'] !== this.options.apiKey) {
      return fail(401, { status: 'invalid_api_key', message: 'Invalid API key' });
    }
    const match = /^\/v1\/text-to-speech\/([^/]+)\/stream$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return fail(404, { status: 'not_found', message: 'Not found' });
    const format = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    if (!(format in OUTPUT_FORMATS)) {
      return fail(422, [
        { loc: ['query', 'output_format'], msg: 'unsupported output_format', type: 'value_error' },
      ]);
    }
    const raw = await readBody(req);
    let body: z.infer<typeof HttpBodySchema>;
    try {
      const parsed = HttpBodySchema.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return fail(422, [{ loc: ['body', ...issue.path], msg: issue.message, type: 'value_error' }]);
      }
      body = parsed.data;
    } catch {
      return fail(400, { status: 'invalid_json', message: 'body is not JSON' });
    }
    const index = this.httpRequests.length;
    this.httpRequests.push({ voiceId: decodeURIComponent(match[1]), outputFormat: format, body });
    const script = this.options.httpScript?.(body.text, index) ?? {};
    if (script.error) return fail(script.error.status, script.error.detail, script.error.headers);
    startPcm(res);
    if (script.firstByteDelayMs) await this.http.sleep(script.firstByteDelayMs ?? 0);
    const audio = tone(this.samplesFor(body.text, OUTPUT_FORMATS[format]), OUTPUT_FORMATS[format]);
    for (let offset = 0; offset < audio.length; offset += 3201) {
      if (res.destroyed) return;
      if (script.dropAfterBytes !== undefined && offset >= script.dropAfterBytes) {
        res.socket?.destroy();
        return;
      }
      res.write(audio.subarray(offset, offset + 3201));
      await new Promise<void>((r) => setImmediate(r));
    }
    res.end();
  }
}

/** Words in groups of `n`, each group keeping its trailing space. */
function wordGroups(text: string, n: number): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const groups: string[] = [];
  for (let i = 0; i < words.length; i += n) groups.push(words.slice(i, i + n).join(''));
  return groups;
}

function tone(samples: number, sampleRate: number): Buffer {
  const out = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    out.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 330 * i) / sampleRate)), i * 2);
  }
  return out;
}
