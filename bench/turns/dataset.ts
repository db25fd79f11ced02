import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The labelled turn set: one user turn per line. Every inner pause is a HOLD (the user has more to say); the end of
 * the last segment is the END. The turns are written by hand in `dataset/<split>.txt` and turned into
 * `dataset/<split>.jsonl` by `dataset/build.ts`, which draws the pause lengths from a seeded generator.
 */
export interface LabelledTurn {
  id: string;
  category: string;
  /** Text up to each pause, then the last part. */
  segments: string[];
  /** Length of each inner pause in ms (segments.length - 1 of them). */
  pauses: number[];
  /** What the agent said before the turn, when it said anything. */
  agentPrompt?: string;
}

export type Split = 'dev' | 'heldout';
export const SPLITS: readonly Split[] = ['dev', 'heldout'];

export function datasetPath(split: Split, ext: 'txt' | 'jsonl'): string {
  return fileURLToPath(new URL(`./dataset/${split}.${ext}`, import.meta.url));
}

/** Checks one parsed line; a bad line names itself rather than skew the figures silently. */
export function validateTurn(value: unknown, where: string): LabelledTurn {
  const turn = value as Partial<LabelledTurn>;
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  if (typeof turn !== 'object' || turn === null) fail('not an object');
  if (typeof turn.id !== 'string' || !turn.id) fail('id must be a non-empty string');
  if (typeof turn.category !== 'string' || !turn.category) fail('category must be a non-empty string');
  if (!Array.isArray(turn.segments) || turn.segments.length === 0) fail('segments must be a non-empty array');
  if (!Array.isArray(turn.pauses)) fail('pauses must be an array');
  const segments = turn.segments as unknown[];
  const pauses = turn.pauses as unknown[];
  if (segments.some((s) => typeof s !== 'string' || !s.trim())) fail('every segment must be non-empty text');
  if (pauses.length !== segments.length - 1)
    fail(`${segments.length} segments need ${segments.length - 1} pauses`);
  if (pauses.some((p) => typeof p !== 'number' || !Number.isFinite(p) || p <= 0))
    fail('pauses must be positive ms');
  if (turn.agentPrompt !== undefined && typeof turn.agentPrompt !== 'string')
    fail('agentPrompt must be text');
  return turn as LabelledTurn;
}

export function parseJsonl(text: string, name: string): LabelledTurn[] {
  const turns: LabelledTurn[] = [];
  const ids = new Set<string>();
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    const where = `${name}:${index + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: not JSON (${(error as Error).message})`);
    }
    const turn = validateTurn(value, where);
    if (ids.has(turn.id)) throw new Error(`${where}: duplicate id ${turn.id}`);
    ids.add(turn.id);
    turns.push(turn);
  });
  return turns;
}

export function loadSplit(split: Split): LabelledTurn[] {
  const path = datasetPath(split, 'jsonl');
  return parseJsonl(readFileSync(path, 'utf8'), path);
}
