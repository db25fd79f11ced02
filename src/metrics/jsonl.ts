import { createWriteStream, type WriteStream } from 'node:fs';
import type { TurnMetrics } from './schema.ts';

/** Appends one JSON object per turn to a file; writes are buffered by the stream, never awaited per turn. */
export class JsonLinesMetricsWriter {
  private readonly stream: WriteStream;
  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
  }
  write(record: TurnMetrics): void {
    this.stream.write(`${JSON.stringify(record)}\n`);
  }
  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}
