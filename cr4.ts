import { FliteSynthesizer } from './src/providers/tts/flite.ts';
const SENTENCE = 'The birch canoe slid on the smooth planks.';
const OTHER = 'Glue the sheet to the dark blue background, and then let it dry overnight in the warm kitchen.';
const LONG_TEXT = Array.from({ length: 12 }, () => `${SENTENCE} ${OTHER}`).join(' ');
const s = new FliteSynthesizer({ voice: 'slt' });
async function collect(t: string, signal = new AbortController().signal) { let n = 0; for await (const x of s.synthesize(t, signal)) n += x.length; return n; }
for (let i = 0; i < 15; i++) {
  await collect(SENTENCE);
  const c0 = new AbortController();
  for await (const x of s.synthesize(LONG_TEXT, c0.signal)) { c0.abort(); }
  await collect(SENTENCE);
  const c = new AbortController();
  setTimeout(() => c.abort(), 1);
  await collect(LONG_TEXT, c.signal);
  await collect(SENTENCE);
  await Promise.all([collect(SENTENCE), collect(OTHER)]);
  console.log('iter', i);
}
