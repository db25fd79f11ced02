/**
 * Writes a GGUF with the exact shape of Qwen2.5-0.5B-Instruct (architecture `qwen2`, 24 layers, width 896,
 * 14 heads / 2 KV heads, FFN 4864, vocabulary 151,936, tied embeddings) but random Q8_0 weights, so the bench can
 * time a 0.5B-class model without downloading one. Its answers are noise; its compute and memory traffic are those
 * of the real file (the published Q4_K_M is ~1 byte/parameter because width 896 is not a multiple of 256 and most
 * tensors fall back to 8-bit; Q8_0 everywhere is within 7 % of its size).
 *
 * The tokenizer is stories260K's SentencePiece vocabulary padded with filler pieces up to 151,936 entries, so text
 * tokenizes the same way as with stories while the embedding and output matrices keep the real size.
 */
import { randomFillSync } from 'node:crypto';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';

export interface SynthShape {
  layers: number;
  embedding: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  contextLength: number;
}

export const QWEN25_05B_SHAPE: SynthShape = {
  layers: 24,
  embedding: 896,
  heads: 14,
  kvHeads: 2,
  ffn: 4864,
  vocab: 151_936,
  contextLength: 32_768,
};

const GGML_F32 = 0;
const GGML_Q8_0 = 8;
const ALIGNMENT = 32;
const Q8_BLOCK = 32;
const Q8_BLOCK_BYTES = 34;

// GGUF metadata value types.
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;

interface TensorSpec {
  name: string;
  dims: number[];
  type: typeof GGML_F32 | typeof GGML_Q8_0;
  /** F32 tensors only: the constant every element holds. */
  fill?: number;
}

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  raw(b: Buffer): void {
    this.push(b);
  }
  concat(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

type Kv =
  | [string, 'u32', number]
  | [string, 'f32', number]
  | [string, 'bool', boolean]
  | [string, 'str', string]
  | [string, 'strs', string[]]
  | [string, 'f32s', number[]]
  | [string, 'i32s', number[]];

function writeKv(w: Writer, [key, kind, value]: Kv): void {
  w.str(key);
  switch (kind) {
    case 'u32':
      w.u32(T_UINT32);
      w.u32(value);
      return;
    case 'f32':
      w.u32(T_FLOAT32);
      w.f32(value);
      return;
    case 'bool':
      w.u32(T_BOOL);
      w.raw(Buffer.from([value ? 1 : 0]));
      return;
    case 'str':
      w.u32(T_STRING);
      w.str(value);
      return;
    case 'strs':
      w.u32(T_ARRAY);
      w.u32(T_STRING);
      w.u64(value.length);
      for (const s of value) w.str(s);
      return;
    case 'f32s':
      w.u32(T_ARRAY);
      w.u32(T_FLOAT32);
      w.u64(value.length);
      for (const v of value) w.f32(v);
      return;
    case 'i32s':
      w.u32(T_ARRAY);
      w.u32(T_INT32);
      w.u64(value.length);
      for (const v of value) w.i32(v);
      return;
  }
}

function tensorBytes(t: TensorSpec): number {
  const n = t.dims.reduce((a, b) => a * b, 1);
  return t.type === GGML_F32 ? n * 4 : (n / Q8_BLOCK) * Q8_BLOCK_BYTES;
}

const align = (n: number): number => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

function qwen2Tensors(s: SynthShape): TensorSpec[] {
  const headDim = s.embedding / s.heads;
  const kvDim = headDim * s.kvHeads;
  const q8 = (name: string, dims: number[]): TensorSpec => ({ name, dims, type: GGML_Q8_0 });
  const f32 = (name: string, n: number, fill: number): TensorSpec => ({
    name,
    dims: [n],
    type: GGML_F32,
    fill,
  });
  const out: TensorSpec[] = [
    q8('token_embd.weight', [s.embedding, s.vocab]),
    f32('output_norm.weight', s.embedding, 1),
  ];
  for (let i = 0; i < s.layers; i++) {
    const p = `blk.${i}.`;
    out.push(
      f32(`${p}attn_norm.weight`, s.embedding, 1),
      q8(`${p}attn_q.weight`, [s.embedding, s.embedding]),
      q8(`${p}attn_k.weight`, [s.embedding, kvDim]),
      q8(`${p}attn_v.weight`, [s.embedding, kvDim]),
      f32(`${p}attn_q.bias`, s.embedding, 0),
      f32(`${p}attn_k.bias`, kvDim, 0),
      f32(`${p}attn_v.bias`, kvDim, 0),
      q8(`${p}attn_output.weight`, [s.embedding, s.embedding]),
      f32(`${p}ffn_norm.weight`, s.embedding, 1),
      q8(`${p}ffn_gate.weight`, [s.embedding, s.ffn]),
      q8(`${p}ffn_up.weight`, [s.embedding, s.ffn]),
      q8(`${p}ffn_down.weight`, [s.ffn, s.embedding]),
    );
  }
  return out;
}

/** Half-precision bits of a small positive normal number (enough for a Q8_0 scale). */
function f16Bits(x: number): number {
  const exp = Math.floor(Math.log2(x));
  const mant = Math.round((x / 2 ** exp - 1) * 1024);
  return ((exp + 15) << 10) | (mant & 0x3ff);
}

async function padTokenizer(storiesPath: string, vocab: number): Promise<Kv[]> {
  const info = await readGgufFileInfo(storiesPath);
  // biome-ignore lint/suspicious/noExplicitAny: GGUF metadata is typed per architecture; we read raw tokenizer keys.
  const t = (info.metadata as any).tokenizer.ggml;
  const tokens: string[] = [...t.tokens];
  const scores: number[] = [...t.scores];
  const types: number[] = [...t.token_type];
  // Filler pieces score far below real ones so SentencePiece never prefers them.
  for (let i = tokens.length; i < vocab; i++) {
    tokens.push(`\u2581fill${i}`);
    scores.push(-1e6);
    types.push(1);
  }
  return [
    ['tokenizer.ggml.model', 'str', 'llama'],
    ['tokenizer.ggml.tokens', 'strs', tokens],
    ['tokenizer.ggml.scores', 'f32s', scores],
    ['tokenizer.ggml.token_type', 'i32s', types],
    ['tokenizer.ggml.bos_token_id', 'u32', t.bos_token_id],
    ['tokenizer.ggml.eos_token_id', 'u32', t.eos_token_id],
    ['tokenizer.ggml.unknown_token_id', 'u32', t.unknown_token_id],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
  ];
}

export interface WriteSynthOptions {
  storiesPath: string;
  shape?: SynthShape;
  /** Standard deviation of the random weights; small enough that activations stay finite. */
  weightStd?: number;
}

interface Layout {
  head: Buffer;
  dataStart: number;
  tensors: TensorSpec[];
  totalBytes: number;
}

async function layout(options: WriteSynthOptions): Promise<Layout> {
  const shape = options.shape ?? QWEN25_05B_SHAPE;
  const tensors = qwen2Tensors(shape);
  const kvs: Kv[] = [
    ['general.architecture', 'str', 'qwen2'],
    ['general.name', 'str', 'repartee-synthetic-qwen2.5-0.5b-shape'],
    ['general.file_type', 'u32', 7],
    ['qwen2.context_length', 'u32', shape.contextLength],
    ['qwen2.embedding_length', 'u32', shape.embedding],
    ['qwen2.block_count', 'u32', shape.layers],
    ['qwen2.feed_forward_length', 'u32', shape.ffn],
    ['qwen2.attention.head_count', 'u32', shape.heads],
    ['qwen2.attention.head_count_kv', 'u32', shape.kvHeads],
    ['qwen2.rope.freq_base', 'f32', 1_000_000],
    ['qwen2.attention.layer_norm_rms_epsilon', 'f32', 1e-6],
    ...(await padTokenizer(options.storiesPath, shape.vocab)),
  ];
  const w = new Writer();
  w.raw(Buffer.from('GGUF', 'ascii'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kvs.length);
  for (const kv of kvs) writeKv(w, kv);
  let offset = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.type);
    w.u64(offset);
    offset = align(offset + tensorBytes(t));
  }
  const head = w.concat();
  const dataStart = align(head.length);
  return { head, dataStart, tensors, totalBytes: dataStart + offset };
}

/** Writes the synthetic model to `path` (atomically, via a temporary file) and returns its size in bytes. */
export async function writeSynthGguf(path: string, options: WriteSynthOptions): Promise<number> {
  const { head, dataStart, tensors } = await layout(options);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(Buffer.concat([head, Buffer.alloc(dataStart - head.length)]));
    // Uniform int8 has a standard deviation of ~73.9; the shared block scale sets the weights' spread.
    const scale = f16Bits((options.weightStd ?? 0.02) / 73.9);
    for (const t of tensors) {
      const size = tensorBytes(t);
      if (t.type === GGML_F32) {
        const buf = Buffer.alloc(align(size));
        for (let i = 0; i < size / 4; i++) buf.writeFloatLE(t.fill ?? 0, i * 4);
        await fh.write(buf);
      } else {
        await writeQ8(fh, size, scale);
        if (align(size) > size) await fh.write(Buffer.alloc(align(size) - size));
      }
    }
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return (await stat(path)).size;
}

async function writeQ8(
  fh: import('node:fs/promises').FileHandle,
  size: number,
  scaleBits: number,
): Promise<void> {
  // Written in slices so a 136 M-element embedding never needs one huge buffer.
  const blocksPerSlice = 1 << 16;
  let blocksLeft = size / Q8_BLOCK_BYTES;
  const slice = Buffer.alloc(blocksPerSlice * Q8_BLOCK_BYTES);
  while (blocksLeft > 0) {
    const n = Math.min(blocksLeft, blocksPerSlice);
    const view = slice.subarray(0, n * Q8_BLOCK_BYTES);
    randomFillSync(view);
    for (let b = 0; b < n; b++) view.writeUInt16LE(scaleBits, b * Q8_BLOCK_BYTES);
    await fh.write(view);
    blocksLeft -= n;
  }
}

/** Returns `path`, writing the model first unless a file of exactly the expected size is already there. */
export async function ensureSynthGguf(
  path: string,
  options: WriteSynthOptions,
): Promise<{ path: string; written: boolean }> {
  const expected = (await layout(options)).totalBytes;
  const size = await stat(path).then(
    (s) => s.size,
    () => -1,
  );
  if (size === expected) return { path, written: false };
  await writeSynthGguf(path, options);
  return { path, written: true };
}
