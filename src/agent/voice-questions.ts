/**
 * Questions a running tool asks the user aloud (an MCP server's elicitation): while one waits, the user's next
 * committed turn is its answer, not a new request to the agent, so it neither enters the history as a user turn
 * nor interrupts the reply whose tool asked. One question waits at a time; a second waits behind the first.
 */
export class VoiceQuestions {
  private readonly waiting: { resolve(text: string): void; signal: AbortSignal }[] = [];

  /** Resolves with the transcript of the user's next committed turn; rejects when `signal` aborts. */
  nextAnswer(signal: AbortSignal): Promise<string> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<string>((resolve, reject) => {
      const entry = {
        signal,
        resolve: (text: string) => {
          signal.removeEventListener('abort', onAbort);
          resolve(text);
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Whether a question is waiting for the user's answer. */
  get isWaiting(): boolean {
    return this.waiting.length > 0;
  }

  /** A committed turn: it answers the oldest waiting question (true), or is none of ours (false). */
  offer(transcript: string): boolean {
    const text = transcript.trim();
    if (!text) return false;
    const entry = this.waiting.shift();
    if (!entry) return false;
    entry.resolve(text);
    return true;
  }
}
