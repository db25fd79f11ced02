import { describe, expect, it } from 'vitest';
import { type CartesiaOptions, CartesiaTts } from './cartesia.ts';
import { TtsRequestError } from './openai-pcm.ts';
import { type CartesiaServerOptions, FakeCartesiaServer } from './testing/cartesia-server.ts';
import { samplesOf, socketTtsTestkit, speakInPieces } from './testing/socket-testkit.ts';

const KEY = 'cartesia-test-key-0123456789';
const { closers, setup } = socketTtsTestkit<
  FakeCartesiaServer,
  CartesiaTts,
  CartesiaServerOptions,
  CartesiaOptions
>(
  (server) => new FakeCartesiaServer({ apiKey: KEY, msPerCharacter: 5, ...server }).start(),
  (options) => new CartesiaTts({ apiKey: KEY, ...options }),
);
const speak = (tts: CartesiaTts, sentences: string[], signal?: AbortSignal) =>
  speakInPieces(tts, sentences, signal);

describe('CartesiaTts against a local Cartesia WebSocket server', () => {
  it('one context per reply as continuations; segments at flush_done; word timings per segment', async () => {
    const { fake, tts } = await setup();
    const audio = await speak(tts, ['Hello there friend. ', 'How are you?']);
    expect(fake.errors).toEqual([]);
    const [context] = [...fake.contexts.values()];
    expect(fake.contexts.size).toBe(1);
    expect(context.pieces.join('')).toBe('Hello there friend. How are you?');
    expect(context.pieces.length).toBeGreaterThan(2); // words streamed, not sentences
    expect(context.continued.at(-1)).toBe(false);
    expect(context.continued.slice(0, -1).every(Boolean)).toBe(true);
    // 5 ms a character at 16 kHz: 'Hello there friend.' is 19 characters.
    expect(samplesOf(audio, 0)).toBe(19 * 80);
    expect(samplesOf(audio, 1)).toBe(12 * 80);
    expect(audio.every((a) => a.frame.sampleRate === 16_000)).toBe(true);
    const words = audio.flatMap((a) => (a.words ?? []).map((w) => ({ ...w, segment: a.segment })));
    expect(words).toEqual([
      { word: 'Hello', startMs: 0, endMs: 25, segment: 0 },
      { word: 'there', startMs: 30, endMs: 55, segment: 0 },
      { word: 'friend.', startMs: 60, endMs: 95, segment: 0 },
      { word: 'How', startMs: 0, endMs: 15, segment: 1 },
      { word: 'are', startMs: 20, endMs: 35, segment: 1 },
      { word: 'you?', startMs: 40, endMs: 60, segment: 1 },
    ]);
  });

  it('prewarm opens the one connection every reply reuses', async () => {
    const { fake, tts } = await setup();
    await tts.prewarm();
    await speak(tts, ['One reply.']);
    await speak(tts, ['Another reply.']);
    expect(fake.connectionAttempts).toBe(1);
    expect(fake.contexts.size).toBe(2);
  });

  it('an abort cancels the context; the next reply runs on the same connection', async () => {
    const { fake, tts } = await setup({ chunkIntervalMs: 20 });
    const controller = new AbortController();
    const stream = tts.stream({ signal: controller.signal });
    stream.pushText('A long sentence that will be cut off well before its end. ');
    stream.flush();
    stream.end();
    for await (const _ of stream) {
      controller.abort();
    }
    const first = [...fake.contexts.values()][0];
    await new Promise<void>((resolve) => {
      const poll = () => (first.cancelled ? resolve() : setTimeout(poll, 5));
      poll();
    });
    const audio = await speak(tts, ['Next.']);
    expect(samplesOf(audio, 0)).toBe(5 * 80);
    expect(fake.connectionAttempts).toBe(1);
  });

  it('429 with retry-after, then a drop before any audio: retried, and the reply is whole', async () => {
    const { fake, tts } = await setup({
      connections: [{ reject: { status: 429, headers: { 'retry-after': '0.05' } } }, { dropAfterChunks: 0 }],
    });
    const audio = await speak(tts, ['Retried sentence.']);
    expect(samplesOf(audio, 0)).toBe(17 * 80);
    expect(fake.connectionAttempts).toBe(3);
  });

  it('a drop after audio fails the reply (never said twice); the next reply reconnects', async () => {
    const { fake, tts } = await setup({ connections: [{ dropAfterChunks: 1 }] });
    await expect(speak(tts, ['This sentence is long enough for several chunks.'])).rejects.toBeInstanceOf(
      TtsRequestError,
    );
    const audio = await speak(tts, ['Back.']);
    expect(samplesOf(audio, 0)).toBe(5 * 80);
    expect(fake.connectionAttempts).toBe(2);
  });

  it('a malformed message before audio is retried on a fresh connection', async () => {
    const { fake, tts } = await setup({ connections: [{ malformedAfterChunks: 0 }] });
    const audio = await speak(tts, ['Clean again.']);
    expect(samplesOf(audio, 0)).toBe(12 * 80);
    expect(fake.connectionAttempts).toBe(2);
  });

  it('a server that never answers: the reply fails after the idle timeout; refused: a clear error, no key', async () => {
    const { tts } = await setup(
      { connections: [{ silent: true }, { silent: true }, { silent: true }] },
      { idleTimeoutMs: 200 },
    );
    await expect(speak(tts, ['Anyone there?'])).rejects.toThrow(/no audio for 200 ms/);
    const refused = new CartesiaTts({ apiKey: KEY, baseUrl: 'http://127.0.0.1:1', maxRetries: 0 });
    const error = await speak(refused, ['x']).catch((e: Error) => e);
    expect(String(error)).toMatch(/ECONNREFUSED/);
    expect(String(error)).not.toContain(KEY);
    await expect(refused.prewarm()).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a wrong key is refused at the upgrade, not retried', async () => {
    const { fake } = await setup();
    const wrong = new CartesiaTts({ apiKey: 'wrong-key-0000', baseUrl: fake.baseUrl });
    closers.push(() => wrong.close());
    await expect(speak(wrong, ['x'])).rejects.toThrow(/401/);
    expect(fake.connectionAttempts).toBe(1);
  });
});
