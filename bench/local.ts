/**
 * bench:local — measures each engine of the embedded local stack on this machine and writes
 * bench/results/local.json and bench/results/local.md. `--quick` measures fewer sentences and settings (a few
 * minutes instead of tens on a loaded 2-core box); `--only=stt,tts` re-measures those parts and keeps the others'
 * figures from the last local.json. Each part also runs alone: npx tsx bench/local/<part>.ts
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchConversation } from './local/conversation.ts';
import { benchLanguages } from './local/languages.ts';
import { benchLlm } from './local/llm.ts';
import { localReport } from './local/report.ts';
import { benchRoundTrip } from './local/roundtrip.ts';
import { benchStt } from './local/stt.ts';
import { benchTts } from './local/tts.ts';
import { benchVad } from './local/vad.ts';

const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
// With --only=<parts>, the other parts' figures are kept from the last run's local.json.
const previous = only
  ? ((await readFile('bench/results/local.json', 'utf8').then(JSON.parse, () => ({}))) as Record<
      string,
      unknown
    >)
  : {};
const results: Record<string, unknown> = {
  ...previous,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  date: new Date().toISOString(),
  quick,
};
const parts: [string, () => Promise<Record<string, unknown>>][] = [
  ['vad', () => benchVad()],
  ['stt', () => benchStt({ quick })],
  ['tts', () => benchTts({ quick })],
  // The round trip goes through the search the STT part's dev split picked.
  [
    'ttsRoundTrip',
    () => benchRoundTrip({ quick, search: (results.stt as { chosen?: 'fast' | 'accurate' })?.chosen }),
  ],
  ['conversation', () => benchConversation({ quick })],
  ['llm', () => benchLlm()],
  ['languages', () => benchLanguages()],
];
for (const [name, run] of parts) {
  if (only && !only.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const t0 = performance.now();
  try {
    results[name] = await run();
  } catch (error) {
    console.error(`${name} failed: ${(error as Error).message}`);
    results[name] = { error: (error as Error).message };
  }
  console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/local.json', `${JSON.stringify(results, null, 2)}\n`);
await writeFile('bench/results/local.md', localReport(results));
console.log('\nwrote bench/results/local.json and bench/results/local.md');
process.exit(0);
