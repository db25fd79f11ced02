import { PassageVectors, type TextEmbedder } from '../search/vectors.ts';

/** Queries remembered (the current turn, a preemptive one, the one before). */
const REMEMBERED = 4;

/**
 * Embeddings for one conversation: of the user's turns (asked for ahead, when the final transcript arrives, so
 * the synchronous prompt build finds it ready) and of its history messages (in the background, for the relevance
 * window). A failed or slow embedding only leaves BM25 to rank alone.
 */
export class ConversationEmbeddings {
  readonly history: PassageVectors;
  private readonly queries = new Map<string, { done: Promise<void>; vector?: Float32Array }>();

  constructor(
    embedder: TextEmbedder,
    private readonly onError?: (error: Error) => void,
    /** A user turn's embedding arrived (the docs index ranks its passages by it then, off the prompt build). */
    private readonly onVector?: (vector: Float32Array) => void,
  ) {
    this.history = new PassageVectors({ embedder, timeoutMs: 10_000, onError });
  }

  /** Starts embedding `text` (a user turn) unless it is under way or done. */
  anticipate(text: string): void {
    const key = text.trim();
    if (!key || this.queries.has(key)) return;
    const entry: { done: Promise<void>; vector?: Float32Array } = { done: Promise.resolve() };
    entry.done = this.history.embedQuery(key).then(
      (vector) => {
        entry.vector = vector;
        this.onVector?.(vector);
      },
      (error: unknown) => {
        this.queries.delete(key); // asked again next turn
        this.onError?.(
          new Error(`embedding the user's turn failed (BM25 only): ${(error as Error).message}`),
        );
      },
    );
    this.queries.set(key, entry);
    while (this.queries.size > REMEMBERED) this.queries.delete(this.queries.keys().next().value as string);
  }

  /**
   * Waits at most `maxWaitMs` (on the session's clock) for `text`'s embedding; never rejects. The prompt is built
   * right after, with the vector if it came in time.
   */
  wait(
    text: string,
    maxWaitMs: number,
    schedule: (ms: number, callback: () => void) => () => void,
  ): Promise<void> {
    this.anticipate(text);
    const entry = this.queries.get(text.trim());
    if (!entry || entry.vector) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const cancel = schedule(maxWaitMs, resolve);
      void entry.done.then(() => {
        cancel();
        resolve();
      });
    });
  }

  /** The embedding of `text` if it is ready now. */
  vector(text: string): Float32Array | undefined {
    return this.queries.get(text.trim())?.vector;
  }

  close(): void {
    this.history.close();
  }
}
