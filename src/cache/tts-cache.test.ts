import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TTS, TtsAudio, TtsStream, TtsStreamOptions } from '../providers/tts/contract.ts';
import { SegmentQueueStream } from '../providers/tts/segment-queue-stream.ts';
import { CachedTts } from './cached-tts.ts';
import { TtsAudioStore } from './tts-store.ts';

/** A TTS whose audio is a function of the text (two frames per word, the word's letters as samples), with word timings. */
class WordTts implements TTS {
  readonly name = 'words';
  readonly sampleRate = 16_000;
  readonly synthesized: string[] = [];
  stream(options: TtsStreamOptions): TtsStream {
    const tts = this;
    return new (class extends SegmentQueueStream {
      constructor() {
        super('segment');
        void this.run();
      }
      async run() {
        let segment = -1;
        for await (const text of this.segments) {
          segment++;
          if (!text.trim()) continue;
          tts.synthesized.push(text);
          const words = text.trim().split(/\s+/);
          for (let i = 0; i < words.length * 2; i++) {
            if (options.signal.aborted) return this.output.end();
            await new Promise((resolve) => setImmediate(resolve));
            const samples = new Int16Array(320).fill(words[i >> 1].charCodeAt(0) * (i + 1));
            const audio: TtsAudio = { segment, frame: { samples, sampleRate: 16_000, timestampMs: i * 20 } };
            if (i === 0)
              audio.words = words.map((word, w) => ({ word, startMs: w * 40, endMs: w * 40 + 40 }));
            this.output.push(audio);
          }
        }
        this.output.end();
      }
    })();
  }
}

async function say(tts: TTS, sentences: string[], options: Partial<TtsStreamOptions> = {}) {
  const hits: boolean[] = [];
  const stream = tts.stream({
    signal: new AbortController().signal,
    onCacheLookup: (hit) => hits.push(hit),
    ...options,
  });
  for (const sentence of sentences) {
    stream.pushText(sentence);
    stream.flush();
  }
  stream.end();
  const audio: TtsAudio[] = [];
  for await (const a of stream) audio.push(a);
  return { audio, hits };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'repartee-tts-cache-'));
  dirs.push(dir);
  return dir;
}

describe('TTS audio cache', () => {
  it('a hit replays the same frames, segment numbers and word timings as the miss, without the engine', async () => {
    const engine = new WordTts();
    const tts = new CachedTts(engine, { store: new TtsAudioStore() });
    const first = await say(tts, ['Hello there.', 'How are you?']);
    expect(first.hits).toEqual([false, false]);
    const second = await say(tts, ['Hello  there. ', 'How are you?']);
    expect(second.hits).toEqual([true, true]);
    expect(engine.synthesized).toEqual(['Hello there.', 'How are you?']);
    const shape = (audio: TtsAudio[]) =>
      audio.map((a) => ({
        segment: a.segment,
        words: a.words,
        t: a.frame.timestampMs,
        s: Array.from(a.frame.samples),
      }));
    expect(shape(second.audio)).toEqual(shape(first.audio));
    expect(second.audio[0].words?.map((w) => w.word)).toEqual(['Hello', 'there.']);
  });

  it('a cached sentence between two new ones keeps the order and the numbering', async () => {
    const engine = new WordTts();
    const tts = new CachedTts(engine, { store: new TtsAudioStore() });
    await say(tts, ['Still working on it.']);
    const { audio, hits } = await say(tts, ['One moment.', 'Still working on it.', 'Done now.']);
    expect(hits).toEqual([false, true, false]);
    const firstOf = (segment: number) => audio.find((a) => a.segment === segment)?.words?.[0]?.word;
    expect([firstOf(0), firstOf(1), firstOf(2)]).toEqual(['One', 'Still', 'Done']);
    expect(audio.map((a) => a.segment)).toEqual([...audio.map((a) => a.segment)].sort());
  });

  it('honours interruption: an aborted stream stops mid-hit, and an aborted miss is not stored', async () => {
    const engine = new WordTts();
    const store = new TtsAudioStore();
    const tts = new CachedTts(engine, { store });
    const controller = new AbortController();
    const stream = tts.stream({ signal: controller.signal });
    stream.pushText('A long sentence with many words in it.');
    stream.flush();
    stream.end();
    let frames = 0;
    for await (const _ of stream) if (++frames === 3) controller.abort();
    expect(frames).toBe(3);
    // Cut off: nothing stored, so the next request synthesizes it whole.
    const again = await say(tts, ['A long sentence with many words in it.']);
    expect(again.hits).toEqual([false]);
    const full = again.audio.length;
    const hit = tts.stream({ signal: controller.signal });
    hit.pushText('A long sentence with many words in it.');
    hit.flush();
    hit.end();
    let after = 0;
    for await (const _ of hit) after++;
    expect(after).toBe(0);
    expect(full).toBe(16);
  });

  it('keeps segments on disk across processes, and a corrupt file is ignored with a log line and rebuilt', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const engine = new WordTts();
    const store = new TtsAudioStore({ dir, log: (line) => lines.push(line) });
    await say(new CachedTts(engine, { store }), ['Good morning.']);
    await store.settled();
    const [file] = await readdir(dir);
    expect(file).toMatch(/^[0-9a-f]{64}\.seg$/);
    // A new process: nothing in memory, the file is read and checked.
    const reopened = new TtsAudioStore({ dir, log: (line) => lines.push(line) });
    const fresh = new WordTts();
    expect((await say(new CachedTts(fresh, { store: reopened }), ['Good morning.'])).hits).toEqual([true]);
    expect(fresh.synthesized).toEqual([]);
    // Flip one byte of the audio: the checksum no longer matches.
    const data = await readFile(join(dir, file));
    data[data.length - 5] ^= 0xff;
    await writeFile(join(dir, file), data);
    const third = new TtsAudioStore({ dir, log: (line) => lines.push(line) });
    const engine3 = new WordTts();
    const result = await say(new CachedTts(engine3, { store: third }), ['Good morning.']);
    expect(result.hits).toEqual([false]);
    expect(result.audio.length).toBe(4);
    expect(engine3.synthesized).toEqual(['Good morning.']);
    expect(lines.some((l) => l.includes('corrupt') && l.includes(file) && l.includes('checksum'))).toBe(true);
    expect(third.stats.corrupt).toBe(1);
    await third.settled();
    // Rebuilt: a fourth process reads it back whole.
    const fourth = new TtsAudioStore({ dir });
    expect((await say(new CachedTts(new WordTts(), { store: fourth }), ['Good morning.'])).hits).toEqual([
      true,
    ]);
    // Garbage in place of the file (a truncated write) is ignored the same way.
    await writeFile(join(dir, file), 'not audio');
    const fifth = new TtsAudioStore({ dir, log: (line) => lines.push(line) });
    expect(await fifth.get(file.slice(0, -4))).toBeUndefined();
    expect(lines.filter((l) => l.includes('corrupt')).length).toBe(2);
  });

  it('bounds the disk store: least recently used segments are evicted past diskBytes', async () => {
    const dir = await tempDir();
    const store = new TtsAudioStore({ dir, diskBytes: 6000, memoryBytes: 1 });
    const tts = new CachedTts(new WordTts(), { store });
    // Each one-word segment is two 320-sample frames: 1280 bytes of audio plus its header.
    for (const word of ['Alpha.', 'Bravo.', 'Charlie.', 'Delta.', 'Echo.', 'Foxtrot.', 'Golf.'])
      await say(tts, [word]);
    await store.settled();
    expect(store.diskUsedBytes).toBeLessThanOrEqual(6000);
    expect(store.stats.evicted).toBeGreaterThan(0);
    const names = await readdir(dir);
    expect(names.length).toBeLessThan(7);
    expect(names.length).toBeGreaterThan(1);
    // The newest is still there; the oldest went first.
    expect((await say(tts, ['Golf.'])).hits).toEqual([true]);
    expect((await say(tts, ['Alpha.'])).hits).toEqual([false]);
    await store.settled();
  });

  it('keys on the provider and its identity: another voice misses', async () => {
    const store = new TtsAudioStore();
    const a = new CachedTts(new WordTts(), { store, identity: '["flite:rms"]' });
    const b = new CachedTts(new WordTts(), { store, identity: '["flite:slt"]' });
    await say(a, ['Hello.']);
    expect((await say(b, ['Hello.'])).hits).toEqual([false]);
    expect((await say(a, ['Hello.'])).hits).toEqual([true]);
  });
});
