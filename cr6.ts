import koffi from 'koffi';
const lib = koffi.load('libflite.so.1');
const v = koffi.load('libflite_cmu_us_slt.so.1').func('void *register_cmu_us_slt(const char *voxdir)');
lib.func('int flite_init()')();
const voice = v(null);
const ttw = lib.func('void *flite_text_to_wave(const char *text, void *voice)');
const del = lib.func('void delete_wave(void *w)');
const SENTENCE = 'The birch canoe slid on the smooth planks.';
const OTHER = 'Glue the sheet to the dark blue background, and then let it dry overnight in the warm kitchen.';
const LONG_TEXT = Array.from({ length: Number(process.argv[3] ?? 12) }, () => `${SENTENCE} ${OTHER}`).join(' ');
for (let i = 0; i < 12; i++) {
  const w = process.argv[2] === 'async' ? await new Promise((res, rej) => ttw.async(LONG_TEXT, voice, (e: unknown, r: unknown) => e ? rej(e) : res(r))) : ttw(LONG_TEXT, voice);
  del(w); console.log('iter', i);
}
