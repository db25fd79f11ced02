/**
 * npm run bench:amd — answering-machine detection (src/transport/telephony/machine.ts) on audio it was never
 * looked at or tuned on: codec2-examples speech (8 kHz) and the alsa-utils voice prompts. Its thresholds came
 * from the issue (3.5 s of speech before a pause) and were checked only on the LibriVox clips of its tests.
 *   - "machine": every codec2 speech clip of 4 s or more, played whole (a greeting that talks on), then silence;
 *   - "person": every clip's first second, and each alsa prompt ("Front center", …), then 3 s of silence;
 *   - beep: a steady tone (codec2's sine1k_2Hz_spread: 1 kHz, slowly spread) must read as one; no speech may.
 */
import { readFileSync } from 'node:fs';
import { Resampler } from '../src/audio/resampler.ts';
import { readWavFile } from '../src/audio/wav.ts';
import { BeepDetector, MachineDetector } from '../src/transport/telephony/machine.ts';

const RATE = 8000;
const CODEC2 = '/usr/share/codec2/raw';
const SPEECH = [
  'hts',
  'hts1',
  'hts2',
  'kristoff',
  'mmt1',
  'vk5qi',
  've9qrp_10s',
  'cq_ref',
  'big_dog',
  'cross',
  'g3plx',
  'forig',
  'morig',
];
const ALSA = [
  'Front_Center',
  'Front_Left',
  'Front_Right',
  'Rear_Center',
  'Rear_Left',
  'Rear_Right',
  'Side_Left',
  'Side_Right',
];

const raw = (name: string) => {
  const bytes = readFileSync(`${CODEC2}/${name}.raw`);
  return new Int16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2)).slice();
};
const withSilence = (samples: Int16Array, ms: number) => {
  const out = new Int16Array(samples.length + (RATE * ms) / 1000);
  out.set(samples);
  return out;
};
const classify = (samples: Int16Array) => {
  const detector = new MachineDetector(RATE);
  for (let i = 0; i < samples.length; i += 160) {
    const verdict = detector.push(samples.subarray(i, i + 160));
    if (verdict) return verdict;
  }
  return undefined;
};
const beeps = (samples: Int16Array) => {
  const beep = new BeepDetector(RATE);
  let n = 0;
  for (let i = 0; i < samples.length; i += 160)
    if (beep.push(samples.subarray(i, i + 160)) !== undefined) n++;
  return n;
};

const rows: string[] = [];
let machineRight = 0;
let machineAll = 0;
let personRight = 0;
let personAll = 0;
let falseBeeps = 0;
const person = (name: string, samples: Int16Array) => {
  const verdict = classify(withSilence(samples, 3000));
  personAll++;
  if (verdict?.verdict === 'human') personRight++;
  rows.push(`| ${name} | person | ${verdict?.verdict ?? 'none'} | ${verdict?.reason ?? ''} |`);
};
for (const name of SPEECH) {
  const samples = raw(name);
  falseBeeps += beeps(samples);
  if (samples.length >= RATE * 4) {
    const verdict = classify(withSilence(samples, 3000));
    machineAll++;
    if (verdict?.verdict === 'machine') machineRight++;
    rows.push(
      `| ${name} (${(samples.length / RATE).toFixed(1)} s) | machine | ${verdict?.verdict ?? 'none'} | ${verdict?.reason ?? ''} |`,
    );
  }
  person(`${name}, first 1 s`, samples.subarray(0, RATE));
}
for (const name of ALSA) {
  const wav = await readWavFile(`/usr/share/sounds/alsa/${name}.wav`);
  const mono = wav.samples;
  const samples = await Resampler.resampleClip(mono, wav.sampleRate, RATE);
  falseBeeps += beeps(samples);
  person(`alsa ${name}`, samples);
}
const tone = raw('sine1k_2Hz_spread').subarray(0, RATE * 2);
const toneHeard = beeps(withSilence(tone.subarray(0, RATE / 2), 500));

console.log('| clip | truth | verdict | reason |\n| --- | --- | --- | --- |');
for (const row of rows) console.log(row);
console.log(`\nmachine greetings: ${machineRight} / ${machineAll} read as machines`);
console.log(`people: ${personRight} / ${personAll} read as people`);
console.log(
  `beeps heard in speech (false): ${falseBeeps}; codec2 1 kHz tone (500 ms) heard as a beep: ${toneHeard === 1 ? 'yes' : 'no'}`,
);
