import { Worker } from 'node:worker_threads';
import type { RecordingSide, StoreLog } from './types.ts';

export interface AudioFrame {
  sessionId: string;
  side: RecordingSide;
  atMs: number;
  samples: Int16Array;
  sampleRate: number;
}

export interface RecordingRow {
  t: 'recording';
  sessionId: string;
  side: RecordingSide;
  mime: string;
  durationMs: number;
  bytes: Uint8Array;
}

type Message =
  | { op: 'finished'; id: number; rows: RecordingRow[] }
  | { op: 'failed'; sessionId: string; side: RecordingSide; message: string };

const WORKER_URL = new URL('./recording-worker.js', import.meta.url);

/**
 * Recordings encoded to Ogg Opus in a worker thread (started on the first frame), for a store that writes on
 * the main thread. Frames go over in batches; `finish` resolves with a session's recordings (none when the
 * worker failed, which is logged once).
 */
export class RecordingEncoder {
  private worker: Worker | undefined;
  private failed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (rows: RecordingRow[]) => void>();

  constructor(
    private readonly maxRecordingMs: number,
    private readonly log: StoreLog,
  ) {}

  push(frames: AudioFrame[]): void {
    if (frames.length === 0) return;
    const worker = this.start();
    if (!worker) return;
    worker.postMessage(
      { op: 'audio', frames },
      frames.map((f) => f.samples.buffer as ArrayBuffer),
    );
  }

  /** A session's recordings (every open session's when `sessionId` is undefined), finished as they are. */
  finish(sessionId?: string): Promise<RecordingRow[]> {
    if (!this.worker || this.failed) return Promise.resolve([]);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker?.postMessage({ op: 'finish', id, sessionId });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private start(): Worker | undefined {
    if (this.failed) return undefined;
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_URL, { workerData: { maxRecordingMs: this.maxRecordingMs } });
    worker.unref();
    worker.on('message', (message: Message) => {
      if (message.op === 'finished') {
        const resolve = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        resolve?.(message.rows);
      } else {
        this.log.error(message, 'store: a recording could not be finished');
      }
    });
    const gone = (error?: Error) => {
      if (error && !this.failed)
        this.log.error({ err: error.message }, 'store: the recording encoder failed; recordings are off');
      if (error) this.failed = true;
      this.worker = undefined;
      for (const resolve of this.waiting.values()) resolve([]);
      this.waiting.clear();
    };
    worker.on('error', gone);
    worker.on('exit', () => gone());
    this.worker = worker;
    return worker;
  }
}
