// Ogg Opus (RFC 7845) from 20 ms mono PCM16 frames at 48 kHz: the container browsers play in <audio>. Plain
// JavaScript so the store's worker thread loads it without a TypeScript loader.
// The WebAssembly build: the native addon crashes the process when a worker thread that loaded it exits.
import { Encoder } from '@evan/opus/wasm/index.mjs';

export const RATE = 48_000;
export const FRAME = 960; // 20 ms
const PRE_SKIP = 312; // libopus's look-ahead at 48 kHz
const PACKETS_PER_PAGE = 50; // one page per second of audio

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

function crc32(bytes) {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]) >>> 0;
  return crc >>> 0;
}

/** One Ogg page holding whole packets (each under 255 * 255 bytes, true of any Opus packet). */
function page(packets, { granule, serial, sequence, bos = false, eos = false }) {
  const lacing = [];
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      lacing.push(255);
      n -= 255;
    }
    lacing.push(n);
  }
  const bodyLength = packets.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(27 + lacing.length + bodyLength);
  const view = new DataView(out.buffer);
  out.set([0x4f, 0x67, 0x67, 0x53], 0); // "OggS"
  out[4] = 0;
  out[5] = (bos ? 2 : 0) | (eos ? 4 : 0);
  view.setBigInt64(6, BigInt(granule), true);
  view.setUint32(14, serial, true);
  view.setUint32(18, sequence, true);
  out[26] = lacing.length;
  out.set(lacing, 27);
  let at = 27 + lacing.length;
  for (const p of packets) {
    out.set(p, at);
    at += p.length;
  }
  view.setUint32(22, crc32(out), true);
  return out;
}

function opusHead() {
  const head = new Uint8Array(19);
  const view = new DataView(head.buffer);
  head.set(new TextEncoder().encode('OpusHead'), 0);
  head[8] = 1; // version
  head[9] = 1; // mono
  view.setUint16(10, PRE_SKIP, true);
  view.setUint32(12, RATE, true);
  view.setInt16(16, 0, true);
  head[18] = 0; // mapping family 0
  return head;
}

function opusTags() {
  const vendor = new TextEncoder().encode('repartee');
  const tags = new Uint8Array(8 + 4 + vendor.length + 4);
  const view = new DataView(tags.buffer);
  tags.set(new TextEncoder().encode('OpusTags'), 0);
  view.setUint32(8, vendor.length, true);
  tags.set(vendor, 12);
  view.setUint32(12 + vendor.length, 0, true);
  return tags;
}

/** Linear-interpolation resampling to 48 kHz (a recording for listening back, not for recognition). */
export function to48k(samples, sampleRate) {
  if (sampleRate === RATE) return samples;
  const length = Math.floor((samples.length * RATE) / sampleRate);
  const out = new Int16Array(length);
  const step = sampleRate / RATE;
  for (let i = 0; i < length; i++) {
    const x = i * step;
    const i0 = Math.floor(x);
    const i1 = Math.min(samples.length - 1, i0 + 1);
    const f = x - i0;
    out[i] = Math.round(samples[i0] * (1 - f) + samples[i1] * f);
  }
  return out;
}

/**
 * One side of a recording: frames placed at their session-clock time (gaps become silence, an overlap is
 * appended after what is there), encoded to Opus as they come, closed into an Ogg file by finish().
 */
export class TrackRecorder {
  constructor(maxMs) {
    this.encoder = new Encoder({ channels: 1, sample_rate: RATE, application: 'voip' });
    this.encoder.bitrate = 24_000;
    this.encoder.complexity = 5;
    this.encoder.signal = 'voice';
    this.maxSamples = Math.floor((maxMs * RATE) / 1000);
    this.packets = [];
    this.encoded = 0; // samples handed to the encoder
    this.pending = new Int16Array(0);
    this.truncated = false;
  }

  get positionSamples() {
    return this.encoded + this.pending.length;
  }

  push(atMs, samples, sampleRate) {
    if (this.truncated) return;
    const pcm = to48k(samples, sampleRate);
    const at = Math.max(0, Math.round((atMs * RATE) / 1000));
    const gap = at - this.positionSamples;
    if (gap > FRAME) this.append(new Int16Array(gap));
    this.append(pcm);
  }

  append(pcm) {
    let room = this.maxSamples - this.positionSamples;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    if (pcm.length > room) {
      pcm = pcm.subarray(0, room);
      this.truncated = true;
    }
    const joined = new Int16Array(this.pending.length + pcm.length);
    joined.set(this.pending, 0);
    joined.set(pcm, this.pending.length);
    let offset = 0;
    while (joined.length - offset >= FRAME) {
      this.packets.push(this.encoder.encode(joined.subarray(offset, offset + FRAME)).slice());
      offset += FRAME;
      this.encoded += FRAME;
    }
    this.pending = joined.slice(offset);
    room = 0;
  }

  /** The Ogg Opus file and its duration; the recorder is spent after this. */
  finish(serial) {
    if (this.pending.length > 0) {
      const last = new Int16Array(FRAME);
      last.set(this.pending, 0);
      this.packets.push(this.encoder.encode(last).slice());
    }
    const total = this.encoded + this.pending.length;
    const pages = [page([opusHead()], { granule: 0, serial, sequence: 0, bos: true })];
    pages.push(page([opusTags()], { granule: 0, serial, sequence: 1 }));
    let sequence = 2;
    for (let i = 0; i < this.packets.length || i === 0; i += PACKETS_PER_PAGE) {
      const chunk = this.packets.slice(i, i + PACKETS_PER_PAGE);
      const last = i + PACKETS_PER_PAGE >= this.packets.length;
      const granule = last ? PRE_SKIP + total : PRE_SKIP + (i + chunk.length) * FRAME;
      pages.push(page(chunk, { granule, serial, sequence: sequence++, eos: last }));
    }
    const size = pages.reduce((sum, p) => sum + p.length, 0);
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of pages) {
      bytes.set(p, at);
      at += p.length;
    }
    this.packets = [];
    return { bytes, durationMs: Math.round((total * 1000) / RATE) };
  }
}
