/**
 * Rebuilds `<split>.jsonl` from the hand-written `<split>.txt`: `tsx bench/turns/dataset/build.ts [dev|heldout]`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { datasetPath, SPLITS, type Split } from '../dataset.ts';
import { parseSource } from '../dataset-source.ts';

const wanted = (process.argv.slice(2) as Split[]).filter((s) => SPLITS.includes(s));
for (const split of wanted.length ? wanted : SPLITS) {
  const source = datasetPath(split, 'txt');
  if (!existsSync(source)) continue;
  const turns = parseSource(readFileSync(source, 'utf8'), split);
  writeFileSync(datasetPath(split, 'jsonl'), `${turns.map((t) => JSON.stringify(t)).join('\n')}\n`);
  const holds = turns.reduce((sum, t) => sum + t.pauses.length, 0);
  console.log(`${split}: ${turns.length} turns, ${holds} holds`);
}
