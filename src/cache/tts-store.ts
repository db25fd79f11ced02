import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { WordTiming } from '../providers/tts/contract.ts';

/** One synthesized segment (a sentence) as the engine gave it: a hit replays the same frames. */
export interface CachedSegment {
  text: string;
  sampleRate: number;
  frames: Int16Array[];
  /** Word timings relative to the segment's start, where the engine had them. */
  words?: WordTiming[];
  /** The engine's time to first audio when it was synthesized: what a hit saves. */
  ttfbMs: number;
}

export interface TtsAudioStoreOptions {
  /** Bound of the in-memory LRU, in bytes of audio. Default 32 MiB. */
  memoryBytes?: number;
  /** Folder of the on-disk store; unset: memory only. */
  dir?: string;
  /** Bound of the on-disk store, in bytes; the least recently used files go first. Default 256 MiB. */
  diskBytes?: number;
  /** One line per corrupt file dropped, per failed write. */
  log?: (line: string) => void;
}

export interface TtsAudioStoreStats {
  memoryHits: number;
  diskHits: number;
  misses: number;
  corrupt: number;
  writes: number;
  evicted: number;
}

const MAGIC = Buffer.from('RPTA');
const VERSION = 1;
const SUFFIX = '.seg';
const bytesOf = (segment: CachedSegment) => segment.frames.reduce((n, f) => n + f.byteLength, 0);

interface DiskEntry {
  bytes: number;
  usedAt: number;
}

/**
 * The TTS audio cache's storage: an in-memory LRU bounded in bytes in front of a folder of one file per segment,
 * bounded in bytes (least recently used evicted). A file is checked whole (magic, version, key, frame sizes,
 * SHA-256 of the audio) before it is used; a corrupt one is logged, deleted and counted as a miss, so the next
 * synthesis of its text writes it again. Disk work never blocks a caller: writes are queued in the background.
 */
export class TtsAudioStore {
  readonly stats: TtsAudioStoreStats = {
    memoryHits: 0,
    diskHits: 0,
    misses: 0,
    corrupt: 0,
    writes: 0,
    evicted: 0,
  };
  private readonly memory: LRUCache<string, CachedSegment>;
  private readonly dir: string | undefined;
  private readonly diskBytes: number;
  private readonly log: (line: string) => void;
  private readonly disk = new Map<string, DiskEntry>();
  private diskTotal = 0;
  private readonly ready: Promise<void>;
  private writes: Promise<void> = Promise.resolve();

  constructor(options: TtsAudioStoreOptions = {}) {
    const memoryBytes = options.memoryBytes ?? 32 * 1024 * 1024;
    this.memory = new LRUCache({
      maxSize: Math.max(1, memoryBytes),
      sizeCalculation: (s) => Math.max(1, bytesOf(s)),
    });
    this.dir = options.dir;
    this.diskBytes = options.diskBytes ?? 256 * 1024 * 1024;
    this.log = options.log ?? ((line) => console.warn(line));
    this.ready = this.dir ? this.scan(this.dir) : Promise.resolve();
  }

  /** The segment if it is in memory (no waiting). */
  peek(key: string): CachedSegment | undefined {
    return this.memory.get(key);
  }

  /** Memory, then disk; undefined on a miss (a corrupt file is a miss, logged and removed). */
  async get(key: string): Promise<CachedSegment | undefined> {
    const inMemory = this.memory.get(key);
    if (inMemory) {
      this.stats.memoryHits++;
      return inMemory;
    }
    const fromDisk = await this.readDisk(key);
    if (fromDisk) {
      this.stats.diskHits++;
      this.memory.set(key, fromDisk);
      return fromDisk;
    }
    this.stats.misses++;
    return undefined;
  }

  /** Keeps the segment in memory now and writes it to disk in the background. */
  put(key: string, segment: CachedSegment): void {
    this.memory.set(key, segment);
    const dir = this.dir;
    if (!dir) return;
    this.writes = this.writes
      .then(() => this.writeDisk(dir, key, segment))
      .catch((error) => {
        this.log(`tts cache: could not write ${key}${SUFFIX}: ${(error as Error).message}`);
      });
  }

  /** Resolves once every write queued so far is on disk (tests; orderly shutdown). */
  async settled(): Promise<void> {
    await this.ready;
    await this.writes;
  }

  get diskUsedBytes(): number {
    return this.diskTotal;
  }

  /** Forgets the in-memory copies (the disk store stays). */
  clearMemory(): void {
    this.memory.clear();
  }

  private async scan(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
      for (const name of await readdir(dir)) {
        if (name.endsWith('.tmp')) {
          await unlink(join(dir, name)).catch(() => undefined);
          continue;
        }
        if (!name.endsWith(SUFFIX)) continue;
        const info = await stat(join(dir, name)).catch(() => undefined);
        if (!info?.isFile()) continue;
        this.disk.set(name.slice(0, -SUFFIX.length), { bytes: info.size, usedAt: info.mtimeMs });
        this.diskTotal += info.size;
      }
      await this.evict(dir);
    } catch (error) {
      this.log(`tts cache: cannot use ${dir}: ${(error as Error).message}`);
    }
  }

  private async readDisk(key: string): Promise<CachedSegment | undefined> {
    const dir = this.dir;
    if (!dir) return undefined;
    await this.ready;
    const entry = this.disk.get(key);
    if (!entry) return undefined;
    const file = join(dir, key + SUFFIX);
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      this.forget(key);
      return undefined;
    }
    try {
      const segment = decode(key, data);
      entry.usedAt = Date.now();
      const now = new Date();
      void utimes(file, now, now).catch(() => undefined);
      return segment;
    } catch (error) {
      this.stats.corrupt++;
      this.log(`tts cache: ignoring corrupt ${file} (${(error as Error).message}); it will be rebuilt`);
      this.forget(key);
      await unlink(file).catch(() => undefined);
      return undefined;
    }
  }

  private async writeDisk(dir: string, key: string, segment: CachedSegment): Promise<void> {
    await this.ready;
    const data = encode(key, segment);
    const file = join(dir, key + SUFFIX);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
    this.forget(key);
    this.disk.set(key, { bytes: data.length, usedAt: Date.now() });
    this.diskTotal += data.length;
    this.stats.writes++;
    await this.evict(dir);
  }

  private forget(key: string): void {
    const entry = this.disk.get(key);
    if (!entry) return;
    this.diskTotal -= entry.bytes;
    this.disk.delete(key);
  }

  private async evict(dir: string): Promise<void> {
    if (this.diskTotal <= this.diskBytes) return;
    const oldest = [...this.disk.entries()].sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [key] of oldest) {
      if (this.diskTotal <= this.diskBytes) break;
      this.forget(key);
      this.stats.evicted++;
      await unlink(join(dir, key + SUFFIX)).catch(() => undefined);
    }
  }
}

interface Header {
  v: number;
  key: string;
  text: string;
  sampleRate: number;
  frames: number[];
  words?: WordTiming[];
  ttfbMs: number;
  sha256: string;
}

/** magic · u32 LE header length · header JSON · PCM16 (little-endian, as Int16Array on every Node target). */
function encode(key: string, segment: CachedSegment): Buffer {
  const pcm = Buffer.concat(segment.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
  const header: Header = {
    v: VERSION,
    key,
    text: segment.text,
    sampleRate: segment.sampleRate,
    frames: segment.frames.map((f) => f.length),
    ...(segment.words ? { words: segment.words } : {}),
    ttfbMs: segment.ttfbMs,
    sha256: createHash('sha256').update(pcm).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([MAGIC, length, json, pcm]);
}

function decode(key: string, data: Buffer): CachedSegment {
  if (data.length < 8 || !data.subarray(0, 4).equals(MAGIC)) throw new Error('not a cache file');
  const headerLength = data.readUInt32LE(4);
  if (8 + headerLength > data.length) throw new Error('truncated header');
  let header: Header;
  try {
    header = JSON.parse(data.subarray(8, 8 + headerLength).toString('utf8')) as Header;
  } catch {
    throw new Error('unreadable header');
  }
  if (header.v !== VERSION) throw new Error(`version ${header.v}, expected ${VERSION}`);
  if (header.key !== key) throw new Error('key does not match its name');
  if (!Array.isArray(header.frames) || !Number.isInteger(header.sampleRate) || header.sampleRate <= 0) {
    throw new Error('bad header');
  }
  const pcm = data.subarray(8 + headerLength);
  const samples = header.frames.reduce((n, f) => n + f, 0);
  if (samples * 2 !== pcm.length) throw new Error(`audio is ${pcm.length} bytes, header says ${samples * 2}`);
  if (createHash('sha256').update(pcm).digest('hex') !== header.sha256)
    throw new Error('audio checksum mismatch');
  const frames: Int16Array[] = [];
  let offset = 0;
  for (const length of header.frames) {
    const frame = new Int16Array(length);
    Buffer.from(frame.buffer).set(pcm.subarray(offset, offset + length * 2));
    frames.push(frame);
    offset += length * 2;
  }
  return {
    text: header.text,
    sampleRate: header.sampleRate,
    frames,
    ...(header.words ? { words: header.words } : {}),
    ttfbMs: header.ttfbMs,
  };
}
