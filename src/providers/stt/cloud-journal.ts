export interface AudioEntry {
  kind: 'audio';
  samples: Int16Array;
  startMs: number;
  endMs: number;
}
export interface FlushEntry {
  kind: 'flush';
  id: number;
}
export type JournalEntry = AudioEntry | FlushEntry;

/**
 * The audio (and end-of-speech hints) a provider has not yet answered with a final transcript, in order: what a
 * new connection is sent after a drop. Finals trim it; a cap bounds it through a long outage.
 */
export class ReplayJournal {
  private list: JournalEntry[] = [];
  private totalMs = 0;

  get entries(): readonly JournalEntry[] {
    return this.list;
  }

  /** Audio held, in ms. */
  get audioMs(): number {
    return this.totalMs;
  }

  push(entry: JournalEntry): void {
    this.list.push(entry);
    if (entry.kind === 'audio') this.totalMs += entry.endMs - entry.startMs;
  }

  /** Drops audio that ends at or before `endMs` (covered by a final). */
  trimAudioUntil(endMs: number): void {
    this.replace(this.list.filter((e) => e.kind !== 'audio' || e.endMs > endMs + 0.5));
  }

  /** Forgets one frame that will never be needed (audio a provider chose not to send). */
  drop(entry: AudioEntry): void {
    const at = this.list.lastIndexOf(entry);
    if (at < 0) return;
    this.list.splice(at, 1);
    this.totalMs -= entry.endMs - entry.startMs;
  }

  /** Drops a flush marker and the audio between it and the marker before it: that stretch has its final. */
  trimSegment(flushId: number): void {
    const at = this.list.findIndex((e) => e.kind === 'flush' && e.id === flushId);
    if (at < 0) return;
    let from = at;
    while (from > 0 && this.list[from - 1].kind === 'audio') from--;
    this.list.splice(from, at - from + 1);
    this.replace(this.list);
  }

  /** Drops the oldest audio beyond `maxMs`; returns whether anything was dropped. */
  bound(maxMs: number): boolean {
    let excess = this.totalMs - maxMs;
    if (excess <= 0) return false;
    this.replace(
      this.list.filter((e) => {
        if (excess <= 0 || e.kind !== 'audio') return true;
        excess -= e.endMs - e.startMs;
        return false;
      }),
    );
    return true;
  }

  lastAudioEndMs(): number | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const entry = this.list[i];
      if (entry.kind === 'audio') return entry.endMs;
    }
    return undefined;
  }

  clear(): void {
    this.replace([]);
  }

  private replace(list: JournalEntry[]): void {
    this.list = list;
    this.totalMs = 0;
    for (const e of list) if (e.kind === 'audio') this.totalMs += e.endMs - e.startMs;
  }
}
