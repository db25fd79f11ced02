import { FliteSynthesizer } from './src/providers/tts/flite.ts';
const SENTENCE = 'The birch canoe slid on the smooth planks.';
const OTHER = 'Glue the sheet to the dark blue background, and then let it dry overnight in the warm kitchen.';
const LONG_TEXT = Array.from({ length: 12 }, () => `${SENTENCE} ${OTHER}`).join(' ');
const s = new FliteSynthesizer({ voice: 'slt' });
let n = 0;
for await (const x of s.synthesize(SENTENCE, new AbortController().signal)) n += x.length;
console.log('1', n);
const c0 = new AbortController();
for await (const x of s.synthesize(LONG_TEXT, c0.signal)) { c0.abort(); }
console.log('2');
for await (const x of s.synthesize(SENTENCE, new AbortController().signal)) n += x.length;
console.log('2b', n);
const c = new AbortController();
setTimeout(() => c.abort(), 1);
for await (const x of s.synthesize(LONG_TEXT, c.signal)) n += x.length;
console.log('aborted', n);
for await (const x of s.synthesize(SENTENCE, new AbortController().signal)) n += x.length;
console.log('next', n);
