import { FliteSynthesizer } from './src/providers/tts/flite.ts';
const SENTENCE = 'The birch canoe slid on the smooth planks.';
const OTHER = 'Glue the sheet to the dark blue background, and then let it dry overnight in the warm kitchen.';
const LONG_TEXT = Array.from({ length: 12 }, () => `${SENTENCE} ${OTHER}`).join(' ');
const s = new FliteSynthesizer({ voice: (process.argv[2] ?? 'slt') as 'slt' });
let n = 0;
const t0 = performance.now();
for await (const c of s.synthesize(process.argv[3] === 'long' ? LONG_TEXT : SENTENCE, new AbortController().signal)) n += c.length;
console.log('ok', n / s.sampleRate, performance.now() - t0);
