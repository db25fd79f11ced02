import { readFile, writeFile } from 'node:fs/promises';
import { AudioFormatError, concatSamples, int16FromFloat } from './frame.ts';

export interface WavAudio {
  /** Mono PCM16; multi-channel input is mixed down. */
  samples: Int16Array;
  sampleRate: number;
}

/**
 * Parses a RIFF/WAVE buffer: PCM 8/16/24/32-bit and IEEE float 32/64, any channel count (mixed to mono).
 * Malformed headers raise AudioFormatError naming what is wrong.
 */
export function decodeWav(buffer: Uint8Array): WavAudio {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const ascii = (offset: number) =>
    offset + 4 <= buffer.byteLength ? String.fromCharCode(...buffer.subarray(offset, offset + 4)) : '';
  if (ascii(0) !== 'RIFF' || ascii(8) !== 'WAVE') throw new AudioFormatError('not a RIFF/WAVE file');

  let format: { tag: number; channels: number; sampleRate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= buffer.byteLength) {
    const id = ascii(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buffer.byteLength) throw new AudioFormatError('fmt chunk truncated');
      let tag = view.getUint16(body, true);
      if (tag === 0xfffe && size >= 26 && body + 26 <= buffer.byteLength)
        tag = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      format = {
        tag,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!format) throw new AudioFormatError('data chunk before fmt chunk');
      // Streams written live often leave the size as 0 or 0xFFFFFFFF: take what is there.
      const end = size === 0 || body + size > buffer.byteLength ? buffer.byteLength : body + size;
      return { samples: decodeSamples(buffer.subarray(body, end), format), sampleRate: format.sampleRate };
    }
    offset = body + size + (size % 2);
  }
  throw new AudioFormatError('no data chunk');
}

function decodeSamples(
  data: Uint8Array,
  { tag, channels, bits, sampleRate }: { tag: number; channels: number; sampleRate: number; bits: number },
): Int16Array {
  if (channels < 1 || channels > 32) throw new AudioFormatError(`invalid channel count ${channels}`);
  if (sampleRate < 1000 || sampleRate > 384_000)
    throw new AudioFormatError(`invalid sample rate ${sampleRate}`);
  const isFloat = tag === 3;
  if (!(tag === 1 || isFloat)) throw new AudioFormatError(`unsupported WAV encoding (format tag ${tag})`);
  if (isFloat ? bits !== 32 && bits !== 64 : ![8, 16, 24, 32].includes(bits)) {
    throw new AudioFormatError(`unsupported ${isFloat ? 'float' : 'PCM'} bit depth ${bits}`);
  }
  const bytesPerSample = bits / 8;
  const frameBytes = bytesPerSample * channels;
  const frames = Math.floor(data.byteLength / frameBytes);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = (at: number): number => {
    if (isFloat) return bits === 32 ? view.getFloat32(at, true) : view.getFloat64(at, true);
    switch (bits) {
      case 8:
        return (view.getUint8(at) - 128) / 128;
      case 16:
        return view.getInt16(at, true) / 0x8000;
      case 24:
        return (view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 0x800000;
      default:
        return view.getInt32(at, true) / 0x80000000;
    }
  };
  if (!isFloat && bits === 16 && channels === 1) {
    const out = new Int16Array(frames);
    for (let i = 0; i < frames; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }
  const mixed = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(i * frameBytes + c * bytesPerSample);
    mixed[i] = sum / channels;
  }
  return int16FromFloat(mixed);
}

/** A mono PCM16 WAV file. */
export function encodeWav(samples: Int16Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(out.buffer);
  const writeAscii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  };
  writeAscii(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  writeAscii(8, 'WAVE');
  writeAscii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  writeAscii(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) view.setInt16(44 + i * 2, samples[i], true);
  return out;
}

export async function readWavFile(path: string): Promise<WavAudio> {
  try {
    return decodeWav(await readFile(path));
  } catch (error) {
    if (error instanceof AudioFormatError) throw new AudioFormatError(`${path}: ${error.message}`);
    throw error;
  }
}

export async function writeWavFile(
  path: string,
  chunks: readonly Int16Array[],
  sampleRate: number,
): Promise<void> {
  await writeFile(path, encodeWav(concatSamples(chunks), sampleRate));
}

/** Headerless little-endian PCM16 (e.g. pocketsphinx's .raw test clips). */
export async function readRawPcm16File(path: string, sampleRate: number): Promise<WavAudio> {
  const bytes = await readFile(path);
  const samples = new Int16Array(Math.floor(bytes.byteLength / 2));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return { samples, sampleRate };
}
