import { describe, expect, it } from 'vitest';
import { type DeepgramAuraOptions, DeepgramAuraTts } from './deepgram-aura.ts';
import { TtsRequestError } from './openai-pcm.ts';
import { type AuraServerOptions, FakeDeepgramAuraServer } from './testing/deepgram-aura-server.ts';
import { samplesOf, socketTtsTestkit, speakInPieces } from './testing/socket-testkit.ts';

const KEY = 'dg-aura-test-key-0123456789';
const { closers, setup } = socketTtsTestkit<
  FakeDeepgramAuraServer,
  DeepgramAuraTts,
  AuraServerOptions,
  DeepgramAuraOptions
>(
  (server) => new FakeDeepgramAuraServer({ apiKey: KEY, msPerCharacter: 5, ...server }).start(),
  (options) => new DeepgramAuraTts({ apiKey: KEY, ...options }),
);
const speak = (tts: DeepgramAuraTts, sentences: string[], signal?: AbortSignal) =>
  speakInPieces(tts, sentences, signal);

describe('DeepgramAuraTts against a local Deepgram speak WebSocket server', () => {
  it('Speak as words arrive, a Flush per sentence; segments at Flushed; no word timings', async () => {
    const { fake, tts } = await setup();
    const audio = await speak(tts, ['Hello there friend. ', 'How are you?']);
    expect(fake.records).toHaveLength(1);
    expect(fake.records[0].flushed).toEqual(['Hello there friend. ', 'How are you?']);
    expect(fake.records[0].query.get('model')).toBe('aura-2-thalia-en');
    expect(fake.records[0].query.get('sample_rate')).toBe('16000');
    expect(samplesOf(audio, 0)).toBe(19 * 80);
    expect(samplesOf(audio, 1)).toBe(12 * 80);
    expect(audio.some((a) => a.words)).toBe(false);
  });

  it('prewarm opens the one connection every reply reuses; close sends Close', async () => {
    const { fake, tts } = await setup();
    await tts.prewarm();
    await speak(tts, ['One reply.']);
    await speak(tts, ['Another reply.']);
    expect(fake.connectionAttempts).toBe(1);
    expect(fake.records[0].flushed).toEqual(['One reply.', 'Another reply.']);
    await tts.close();
    await new Promise<void>((resolve) => {
      const poll = () => (fake.records[0].closedWith !== undefined ? resolve() : setTimeout(poll, 5));
      poll();
    });
    expect(fake.records[0].closedWith).toBe(1000);
  });

  it('one connection: an abort sends Clear; the next reply waits for Cleared and gets none of the stale audio', async () => {
    const { fake, tts } = await setup({ chunkIntervalMs: 20 }, { maxConnections: 1 });
    const controller = new AbortController();
    const stream = tts.stream({ signal: controller.signal });
    stream.pushText('A long sentence that will be cut off well before its end. ');
    stream.flush();
    stream.end();
    for await (const _ of stream) controller.abort();
    const audio = await speak(tts, ['Next.']);
    expect(fake.records[0].clears).toBe(1);
    expect(samplesOf(audio, 0)).toBe(5 * 80);
    expect(fake.connectionAttempts).toBe(1);
  });

  it('a reply never queues behind another on the busy socket: it opens a second connection, and both are whole', async () => {
    const { fake, tts } = await setup({ chunkIntervalMs: 20 });
    await tts.prewarm();
    // The first synthesis (say, the apology ahead of need) holds connection 1 while the reply comes.
    const first = speak(tts, ['Sorry, something went wrong. Could you say that again?']);
    await new Promise<void>((resolve) => {
      const poll = () => (fake.records[0]?.flushed.length ? resolve() : setTimeout(poll, 5));
      poll();
    });
    const reply = await speak(tts, ['The reply.']);
    expect(samplesOf(reply, 0)).toBe(10 * 80);
    expect(fake.records).toHaveLength(2);
    expect(fake.records[1].flushed).toEqual(['The reply.']);
    expect(samplesOf(await first, 0)).toBe(54 * 80);
    // Idle again: the next replies reuse the two connections, no third is opened.
    await Promise.all([speak(tts, ['Three.']), speak(tts, ['Four.'])]);
    expect(fake.connectionAttempts).toBe(2);
    expect(tts.connections).toBe(2);
  });

  it('maxConnections must be a whole number of at least 1', () => {
    expect(() => new DeepgramAuraTts({ apiKey: KEY, maxConnections: 0 })).toThrow(/maxConnections/);
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

  it('a server that never answers fails after the idle timeout; refused: a clear error, no key', async () => {
    const { tts } = await setup(
      { connections: [{ silent: true }, { silent: true }, { silent: true }] },
      { idleTimeoutMs: 200 },
    );
    await expect(speak(tts, ['Anyone there?'])).rejects.toThrow(/no audio for 200 ms/);
    const refused = new DeepgramAuraTts({ apiKey: KEY, baseUrl: 'http://127.0.0.1:1', maxRetries: 0 });
    const error = await speak(refused, ['x']).catch((e: Error) => e);
    expect(String(error)).toMatch(/ECONNREFUSED/);
    expect(String(error)).not.toContain(KEY);
  });

  it('a wrong key is refused at the upgrade with its dg-error, not retried', async () => {
    const { fake } = await setup();
    const wrong = new DeepgramAuraTts({ apiKey: 'wrong-key-0000', baseUrl: fake.baseUrl });
    closers.push(() => wrong.close());
    await expect(speak(wrong, ['x'])).rejects.toThrow(/401/);
    expect(fake.connectionAttempts).toBe(1);
  });
});
