import { rmsDbfs } from '../../audio/level.ts';
import type { ReplayJournal } from './cloud-journal.ts';

/** Quieter audio cannot hold words (a flush over it need not wait for the provider). */
const SILENCE_DBFS = -50;

/**
 * Whether the journal holds audio the connection has not reported on yet (in flight, or just replayed: after
 * `heardUntilMs`) that is louder than silence. Used by the socket STT streams to answer a flush locally.
 */
export function unreportedSound(journal: ReplayJournal, heardUntilMs: number): boolean {
  const entries = journal.entries;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i];
    if (entry.kind !== 'audio') continue;
    if (entry.endMs <= heardUntilMs) return false;
    if (rmsDbfs(entry.samples) > SILENCE_DBFS) return true;
  }
  return false;
}
