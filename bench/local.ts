/**
 * bench:local — measures each engine of the embedded local stack on this machine and writes
 * bench/results/local.json. Each part also runs alone: npx tsx bench/local/<part>.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchLlm } from './local/llm.ts';
import { benchRoundTrip } from './local/roundtrip.ts';
import { benchStt } from './local/stt.ts';
import { benchTts } from './local/tts.ts';
import { benchVad } from './local/vad.ts';

const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  date: new Date().toISOString(),
};
for (const [name, run] of [
  ['vad', benchVad],
  ['stt', benchStt],
  ['tts', benchTts],
  ['ttsRoundTrip', benchRoundTrip],
  ['llm', benchLlm],
] as const) {
  console.log(`\n=== ${name} ===`);
  try {
    results[name] = await run();
  } catch (error) {
    console.error(`${name} failed: ${(error as Error).message}`);
    results[name] = { error: (error as Error).message };
  }
}
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/local.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwrote bench/results/local.json');
process.exit(0);
