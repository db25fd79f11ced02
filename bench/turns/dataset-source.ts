import type { LabelledTurn } from './dataset.ts';

/**
 * Parses the hand-written source format of the turn set (see the header of `dataset/dev.txt`) and assigns pause
 * lengths. Pauses are drawn, seeded by the turn id, from ranges that follow how people pause: longer after a
 * filler and inside dictation (digits, spelling, addresses, lists), shorter between the clauses of a sentence.
 */

const FILLERS = new Set(['um', 'uh', 'er', 'erm', 'hmm', 'well', 'so', 'like']);
const DICTATION = new Set(['digits', 'phone', 'email', 'address', 'list']);
const HESITANT = new Set(['hesitation', 'correction']);

/** FNV-1a, so a turn's pauses depend on its id alone and survive edits to other lines. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mulberry32: small, seeded, good enough to spread pause lengths. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pauseRangeMs(category: string, textBefore: string): [number, number] {
  const lastWord = textBefore.trim().split(/\s+/).at(-1) ?? '';
  if (FILLERS.has(lastWord)) return [600, 1500];
  if (DICTATION.has(category)) return [450, 1400];
  if (HESITANT.has(category)) return [450, 1300];
  return [300, 1000];
}

export function parseSource(text: string, split: string): LabelledTurn[] {
  const turns: LabelledTurn[] = [];
  let category = '';
  let agentPrompt: string | undefined;
  const counts = new Map<string, number>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const where = `${split}.txt:${index + 1}`;
    if (!line || (line.startsWith('#') && !line.startsWith('##'))) return;
    if (line.startsWith('##')) {
      category = line.slice(2).trim();
      agentPrompt = undefined;
      return;
    }
    if (line.startsWith('>')) {
      const prompt = line.slice(1).trim();
      agentPrompt = prompt === '-' ? undefined : prompt;
      return;
    }
    if (!category) throw new Error(`${where}: a turn before any "## category" line`);
    if (/[^a-z' /0-9]/.test(line))
      throw new Error(`${where}: only lower-case words, apostrophes and / pauses`);
    const parts = line.split(/\s*\/(\d*)\/?\s*/);
    // split with one capture group alternates text, explicit-ms, text, ...
    const segments: string[] = [];
    const explicit: (number | undefined)[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const segment = (parts[i] ?? '').trim().replace(/\s+/g, ' ');
      if (!segment) throw new Error(`${where}: an empty segment`);
      segments.push(segment);
      if (i + 1 < parts.length) explicit.push(parts[i + 1] ? Number(parts[i + 1]) : undefined);
    }
    const n = (counts.get(category) ?? 0) + 1;
    counts.set(category, n);
    const id = `${split}-${category}-${String(n).padStart(2, '0')}`;
    const random = seededRandom(hash(id));
    const pauses = explicit.map((ms, i) => {
      if (ms !== undefined) return ms;
      const [low, high] = pauseRangeMs(category, segments.slice(0, i + 1).join(' '));
      return Math.round((low + (high - low) * random()) / 10) * 10;
    });
    turns.push({ id, category, segments, pauses, ...(agentPrompt ? { agentPrompt } : {}) });
  });
  return turns;
}
