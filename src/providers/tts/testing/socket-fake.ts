import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { FakeHttpServer, type Rejection } from '../../testing/http-fakes.ts';

/** Faults a fake TTS socket server plays on one connection (the n-th attempt uses the n-th plan). */
export interface SocketFaultPlan {
  reject?: Rejection;
  firstChunkDelayMs?: number;
  /** Destroy the TCP connection once this many audio chunks were sent on it. */
  dropAfterChunks?: number;
  /** Send a text frame that is not JSON once this many audio chunks were sent. */
  malformedAfterChunks?: number;
  /** Accept everything, answer nothing. */
  silent?: boolean;
}

/** Audio pacing every fake TTS socket server takes. */
export interface SocketFakeOptions {
  msPerCharacter?: number;
  /** Audio per chunk message. Default 40 ms. */
  chunkMs?: number;
  /** Real time between chunk messages. Default 0. */
  chunkIntervalMs?: number;
  /** Delay before the first audio of each flushed piece of text (drawn per piece). Default none. */
  firstAudioMs?: () => number;
  connections?: SocketFaultPlan[];
}

/**
 * A local WebSocket server for a TTS vendor's fake (Cartesia, Deepgram Aura): counts connection attempts, checks
 * each upgrade, and hands each connection the fault plan of its attempt.
 */
export abstract class SocketFake<Plan extends SocketFaultPlan, Options extends SocketFakeOptions> {
  protected readonly http: FakeHttpServer;
  private attempts = 0;
  private readonly attemptOf = new WeakMap<IncomingMessage, number>();

  constructor(protected readonly options: Options & { connections?: Plan[] }) {
    this.http = new FakeHttpServer({
      upgrade: (req) => {
        const index = this.attempts++;
        this.attemptOf.set(req, index);
        return this.checkUpgrade(req, index);
      },
      connection: (ws, req, tcp) =>
        this.serve(ws, req, tcp, this.options.connections?.[this.attemptOf.get(req) ?? 0] ?? ({} as Plan)),
    });
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.http.port}`;
  }

  get connectionAttempts(): number {
    return this.attempts;
  }

  get openSockets(): number {
    return this.http.openSockets;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** A rejection refuses the upgrade of attempt `index`. */
  protected abstract checkUpgrade(req: IncomingMessage, index: number): Rejection | undefined;

  protected abstract serve(ws: WebSocket, req: IncomingMessage, tcp: Socket, plan: Plan): void;

  /** Chunk pacing and faults of one connection. */
  protected pacer(ws: WebSocket, tcp: Socket, plan: Plan): ChunkPacer {
    return new ChunkPacer(this.http, this.options, ws, tcp, plan);
  }
}

/** Sends a piece of text's audio in chunks, paced, playing the connection's faults. */
export class ChunkPacer {
  private chunksSent = 0;
  private firstChunk = true;

  constructor(
    private readonly http: FakeHttpServer,
    private readonly options: SocketFakeOptions,
    private readonly ws: WebSocket,
    private readonly tcp: Socket,
    private readonly plan: SocketFaultPlan,
  ) {}

  /**
   * Samples of `text` at `rate`, cut into chunks; `emit` sends each (`at` its first sample in the piece). Stops
   * when `live` turns false or a fault fires (`malformed` is the broken frame): undefined; else the samples sent.
   */
  async play(
    text: string,
    rate: number,
    live: () => boolean,
    malformed: string,
    emit: (at: number, n: number) => void,
  ): Promise<number | undefined> {
    const msPerChar = this.options.msPerCharacter ?? 5;
    const total = Math.round((text.trim().length * msPerChar * rate) / 1000);
    const chunk = Math.max(1, Math.round(((this.options.chunkMs ?? 40) * rate) / 1000));
    // The engine's time to first audio for this piece of text (a bench sets the vendor's figure).
    const ttfb = this.options.firstAudioMs?.() ?? 0;
    if (ttfb > 0) await this.http.sleep(ttfb);
    for (let at = 0; at < total; at += chunk) {
      if (this.firstChunk && this.plan.firstChunkDelayMs) await this.http.sleep(this.plan.firstChunkDelayMs);
      else await this.http.sleep(this.options.chunkIntervalMs ?? 0);
      this.firstChunk = false;
      if (!live() || this.ws.readyState !== 1) return undefined;
      if (this.plan.dropAfterChunks !== undefined && this.chunksSent >= this.plan.dropAfterChunks) {
        this.tcp.destroy();
        return undefined;
      }
      if (this.plan.malformedAfterChunks !== undefined && this.chunksSent >= this.plan.malformedAfterChunks) {
        this.ws.send(malformed);
        return undefined;
      }
      emit(at, Math.min(chunk, total - at));
      this.chunksSent++;
    }
    return total;
  }
}

/** `n` samples of a `hz` tone from sample `start`, PCM16 little-endian. */
export function tone(start: number, n: number, rate: number, hz: number): Buffer {
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++)
    pcm.writeInt16LE(Math.round(8000 * Math.sin(((start + i) * 2 * Math.PI * hz) / rate)), i * 2);
  return pcm;
}
