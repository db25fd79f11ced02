/**
 * One queue per key: `run(key, task)` starts the task after every earlier task of the same key has settled.
 * A document root holds one, keyed by folder identity and file name, so two clients of this process never
 * interleave the check-and-replace of one file. Keys with nothing queued are forgotten.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a task running or waiting (for tests and monitoring). */
  get size(): number {
    return this.tails.size;
  }
}
