import { afterAll, describe, expect, it } from 'vitest';
import { Resampler } from '../../audio/resampler.ts';
import { readWavFile } from '../../audio/wav.ts';
import { CartesiaStt, type CartesiaSttOptions } from './cartesia.ts';
import { isFatalSttError } from './contract.ts';
import { PocketsphinxSTT } from './pocketsphinx.ts';
import { type CartesiaSttServerOptions, FakeCartesiaSttServer } from './testing/cartesia-stt-server.ts';
import { waitUntil } from './testing/fake-server.ts';
import { FAST_BACKOFF, fakeServers, feed, RecordingListener } from './testing/harness.ts';

const KEY = 'cartesia-stt-test-key-0123456789';
const CLIP = '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav';
const CLIP_WORDS = ['he', 'was', 'not', 'an', 'ill', 'disposed', 'young', 'man'];
const recognizer = new PocketsphinxSTT();
afterAll(() => recognizer.dispose());
const server = fakeServers<CartesiaSttServerOptions, FakeCartesiaSttServer>(
  (options) => new FakeCartesiaSttServer({ apiKey: KEY, recognizer, ...options }),
);

function client(url: string, options: Partial<CartesiaSttOptions> = {}) {
  return new CartesiaStt({ apiKey: KEY, baseUrl: url, ...FAST_BACKOFF, resultTimeoutMs: 5000, ...options });
}

async function clip(): Promise<Int16Array> {
  const wav = await readWavFile(CLIP);
  return Resampler.resampleClip(wav.samples, wav.sampleRate, 16_000);
}

describe('CartesiaStt against a local Cartesia realtime STT server', () => {
  it('a clip, then finalize: the final piece and flush_done make one final over the clip; done says goodbye', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    const samples = await clip();
    const endMs = feed(stream, samples, 1000);
    stream.flush();
    await waitUntil(() => listener.finals.length > 0, 30_000, 'the final');
    const final = listener.finals[0];
    const heard = final.text.toLowerCase().split(/\W+/);
    expect(heard.filter((w) => CLIP_WORDS.includes(w)).length, final.text).toBeGreaterThanOrEqual(3);
    // Word times (seconds on the connection) mapped back to the stream's clock: inside the clip.
    expect(final.startMs).toBeGreaterThanOrEqual(1000);
    expect(final.endMs).toBeLessThanOrEqual(endMs + 1);
    expect(final.endMs).toBeGreaterThan(final.startMs);
    expect(s.records[0].commands).toEqual(['finalize']);
    stream.close();
    // The client says goodbye with `done` and retires the socket.
    await waitUntil(() => s.records[0].commands.includes('done'), 10_000, 'the goodbye');
    expect(s.records[0].commands).toEqual(['finalize', 'done']);
    expect(listener.errors).toEqual([]);
  }, 60_000);

  it('a flush over silence is answered at once, with no finalize sent', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = client(s.url).stream(listener);
    feed(stream, new Int16Array(16_000), 0);
    await waitUntil(() => s.records[0]?.audioBytes >= 32_000, 10_000, 'the audio');
    stream.flush();
    await waitUntil(() => listener.finals.length > 0, 10_000, 'the final');
    expect(listener.finals[0].text).toBe('');
    expect(s.records[0].commands).toEqual([]);
    stream.close();
  }, 30_000);

  it('a bad key is refused at the upgrade: fatal at once, not retried, the key in no error', async () => {
    const s = await server();
    const listener = new RecordingListener();
    const stream = new CartesiaStt({
      apiKey: 'wrong-cartesia-key-000',
      baseUrl: s.url,
      ...FAST_BACKOFF,
    }).stream(listener);
    feed(stream, new Int16Array(8000), 0);
    await waitUntil(() => listener.errors.length > 0, 10_000, 'the error');
    expect(isFatalSttError(listener.errors.at(-1))).toBe(true);
    expect(listener.errors.map(String).join()).not.toContain('wrong-cartesia-key-000');
    expect(s.connectionAttempts).toBe(1);
    stream.close();
  });

  it('needs a key', () => {
    expect(() => new CartesiaStt({ apiKey: '' })).toThrow(/CARTESIA_API_KEY/);
  });
});
