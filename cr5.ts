import koffi from 'koffi';
if (process.argv[2]) koffi.config({ ...koffi.config(), async_stack_size: Number(process.argv[2]) * 1024 });
console.log(koffi.config());
const { FliteSynthesizer } = await import('./src/providers/tts/flite.ts');
const SENTENCE = 'The birch canoe slid on the smooth planks.';
const OTHER = 'Glue the sheet to the dark blue background, and then let it dry overnight in the warm kitchen.';
const LONG_TEXT = Array.from({ length: 12 }, () => `${SENTENCE} ${OTHER}`).join(' ');
const s = new FliteSynthesizer({ voice: 'slt' });
async function collect(t: string, signal = new AbortController().signal) { let n = 0; for await (const x of s.synthesize(t, signal)) n += x.length; return n; }
for (let i = 0; i < 12; i++) { await collect(process.argv[3] === 'short' ? SENTENCE : LONG_TEXT); console.log('iter', i); }
