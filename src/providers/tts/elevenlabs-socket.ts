import WebSocket from 'ws';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import { openSocket } from './cartesia-socket.ts';

export interface ElevenLabsConnectorOptions {
  url: string;
  apiKey: string;
  /** The first message of every connection (`{text: " ", voice_settings?, generation_config?}`). */
  init: Record<string, unknown>;
  connectTimeoutMs: number;
  name: string;
  log?: ProviderLog;
}

/** A spare that closed this soon after opening is not reopened at once (the server refuses us; don't spin). */
const MIN_SPARE_LIFE_MS = 1_000;

/**
 * Opens ElevenLabs input-streaming sockets, and keeps one spare open and initialised so a reply starts on a warm
 * connection (TCP, TLS, WebSocket handshake and the init message already done). Each reply uses a socket of its
 * own, which makes an interruption clean: the aborted reply's socket is dropped with whatever audio it still
 * had in flight. A spare the server closes for inactivity is reopened while the TTS is in use.
 */
export class ElevenLabsConnector {
  private spare: Promise<WebSocket> | undefined;
  private warmUntil = 0;
  private closed = false;

  constructor(private readonly options: ElevenLabsConnectorOptions) {}

  /** Keeps a spare socket ready for `ms` from now, and waits until it is open. */
  async keepWarm(ms: number): Promise<void> {
    this.warmUntil = Math.max(this.warmUntil, Date.now() + ms);
    this.spare ??= this.openSpare();
    await this.spare;
  }

  /** A ready socket: the spare if it is open, else a new one. A new spare is opened behind it. */
  async take(): Promise<WebSocket> {
    const spare = this.spare;
    this.spare = undefined;
    let socket: WebSocket | undefined;
    if (spare) socket = await spare.catch(() => undefined);
    if (socket?.readyState !== WebSocket.OPEN) socket = await this.open();
    socket.removeAllListeners('close');
    if (this.isWarm()) this.spare = this.openSpare();
    return socket;
  }

  close(): void {
    this.closed = true;
    const spare = this.spare;
    this.spare = undefined;
    void spare?.then((s) => s.terminate()).catch(() => undefined);
  }

  private isWarm(): boolean {
    return !this.closed && Date.now() < this.warmUntil;
  }

  private openSpare(): Promise<WebSocket> {
    const opening = this.open();
    opening.then(
      (socket) => {
        const openedAt = Date.now();
        socket.once('close', (code) => {
          if (this.spare !== opening) return;
          this.spare = undefined;
          if (this.isWarm() && Date.now() - openedAt >= MIN_SPARE_LIFE_MS) {
            this.options.log?.info(
              { provider: this.options.name, code },
              'tts spare connection closed; reopening',
            );
            this.spare = this.openSpare();
          }
        });
      },
      (error: Error) => {
        if (this.spare === opening) this.spare = undefined;
        this.options.log?.warn(
          { provider: this.options.name, err: error.message },
          'tts warm-up connection failed',
        );
      },
    );
    // A failed spare is reported by the warn line; take() opens a fresh one.
    opening.catch(() => undefined);
    return opening;
  }

  /** Connects and sends the init message. Rejects with HttpStatusError on a refused upgrade (401, 429, …). */
  open(): Promise<WebSocket> {
    const { url, apiKey, init, connectTimeoutMs, name } = this.options;
    return openSocket({
      url,
      headers: { 'xi-api-key': apiKey },
      connectTimeoutMs,
      name,
      detail: detailMessage,
      // ws' default for a client (the other socket clients turn it off).
      perMessageDeflate: true,
    }).then((socket) => {
      // Errors after the handshake arrive with the close that follows them; the stream watches the close.
      socket.send(JSON.stringify(init));
      return socket;
    });
  }
}

/** ElevenLabs error bodies: `{detail: {status, message}}` or a validation list `{detail: [{msg}]}`. */
export function detailMessage(body: string): string {
  try {
    const json = JSON.parse(body) as { detail?: unknown };
    const detail = json.detail;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail))
      return detail.map((d) => (d as { msg?: string }).msg ?? JSON.stringify(d)).join('; ');
    if (detail && typeof detail === 'object') {
      const { status, message } = detail as { status?: string; message?: string };
      return [status, message].filter(Boolean).join(': ') || JSON.stringify(detail);
    }
  } catch {
    // not JSON: fall through
  }
  return body.slice(0, 200) || 'no details';
}
