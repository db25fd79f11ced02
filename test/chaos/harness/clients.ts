/**
 * Small WebSocket clients for the misbehaving side of a scenario: a session opened the way the protocol says
 * (docs/protocol.md: `config`, then `ready`), and what a client can observe of how it ended.
 */
import WebSocket from 'ws';

export interface ProtocolClient {
  ws: WebSocket;
  /** Resolves with the server's `ready`, rejects if the socket closes first. */
  ready: Promise<void>;
  /** Resolves at the first binary (agent audio) frame. */
  firstAudio: Promise<void>;
  /** Resolves when the socket is closed, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** JSON messages the server sent, in order. */
  messages: { type?: string; [key: string]: unknown }[];
  audioBytes: number;
}

export function openClient(
  url: string,
  options: { config?: boolean; receipts?: boolean } = {},
): ProtocolClient {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const messages: ProtocolClient['messages'] = [];
  let audioBytes = 0;
  let onReady!: () => void;
  let onAudio!: () => void;
  let failReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    failReady = reject;
  });
  const firstAudio = new Promise<void>((resolve) => {
    onAudio = resolve;
  });
  // Unobserved rejections are fine here: a client that never waits for ready must not crash the runner.
  ready.catch(() => undefined);
  // A refused upgrade (503 past the session cap) closes with 1006 and no reason: the error says why.
  let lastError = '';
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      failReady(new Error(`closed (${code}) before ready`));
      resolve({ code, reason: reason.toString() || lastError });
    });
  });
  ws.on('error', (error) => {
    lastError = error.message;
  });
  ws.on('open', () => {
    if (options.config !== false)
      ws.send(JSON.stringify({ type: 'config', sampleRate: 16_000, receipts: options.receipts ?? false }));
  });
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      audioBytes += (data as Buffer).byteLength;
      client.audioBytes = audioBytes;
      onAudio();
      return;
    }
    try {
      const message = JSON.parse(data.toString());
      messages.push(message);
      if (message.type === 'ready') onReady();
    } catch {
      messages.push({ type: 'unparsable' });
    }
  });
  const client: ProtocolClient = { ws, ready, firstAudio, closed, messages, audioBytes };
  return client;
}

/** Resolves with `promise`'s value, or with `fallback` after `ms`. */
export function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A deterministic spread of `n` values in [0, max): the same "random" delays every run, so a failure repeats. */
export function spread(n: number, max: number, seed = 7): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((x / 2 ** 31) * max);
  });
}
