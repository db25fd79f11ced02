import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TTS, TtsAudio } from './contract.ts';
import { type ElevenLabsOptions, ElevenLabsTts } from './elevenlabs.ts';
import { createElevenLabsHttpTts } from './elevenlabs-http.ts';
import { TtsRequestError } from './openai-pcm.ts';
import {
  type ElevenLabsHttpScript,
  ElevenLabsServer,
  type ElevenLabsServerOptions,
  type ElevenLabsSocketScript,
} from './testing/elevenlabs-server.ts';

const KEY = 'xi-test-0123456789abcdef';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(
  socketScripts: ElevenLabsSocketScript[] = [],
  extra: Partial<ElevenLabsServerOptions> = {},
  httpScripts: Record<string, ElevenLabsHttpScript[]> = {},
) {
  const server = await ElevenLabsServer.start({
    apiKey: KEY,
    msPerCharacter: 40,
    socketScript: (i) => socketScripts[i] ?? {},
    httpScript: (text) => httpScripts[text]?.shift() ?? {},
    ...extra,
  });
  cleanups.push(() => server.close());
  const tts = (options: Partial<ElevenLabsOptions> = {}) => {
    const t = new ElevenLabsTts({
      apiKey: KEY,
      voiceId: 'voice1',
      baseUrl: server.baseUrl,
      retryBaseDelayMs: 10,
      ...options,
    });
    cleanups.push(() => t.close());
    return t;
  };
  return { server, tts };
}

/** Pushes each entry as written (a sentence entry ending in "|" is flushed), ends, and collects. */
async function speak(tts: TTS, parts: string[], signal = new AbortController().signal) {
  const stream = tts.stream({ signal });
  for (const part of parts) {
    if (part.endsWith('|')) {
      stream.pushText(part.slice(0, -1));
      stream.flush();
    } else stream.pushText(part);
  }
  stream.end();
  const audio: TtsAudio[] = [];
  let error: unknown;
  try {
    for await (const a of stream) audio.push(a);
  } catch (e) {
    error = e;
  }
  const samples = (segment: number) =>
    audio.filter((a) => a.segment === segment).reduce((n, a) => n + a.frame.samples.length, 0);
  return { audio, error, samples };
}

describe('ElevenLabs WebSocket TTS against a local stream-input server', () => {
  it('streams whole words, flushes sentences, maps audio to segments and alignment to word timings', async () => {
    const { server, tts } = await setup();
    const t = tts({
      voiceSettings: { stability: 0.5, similarity_boost: 0.8 },
      chunkLengthSchedule: [120, 160],
      modelId: 'eleven_flash_v2_5',
    });
    await t.prewarm();
    expect(server.sockets).toHaveLength(1);
    const { audio, error, samples } = await speak(t, ['Hel', 'lo there.|', 'How are', ' you?|']);
    expect(error).toBeUndefined();
    const used = server.sockets[0];
    expect(used.query).toMatchObject({ model_id: 'eleven_flash_v2_5', output_format: 'pcm_16000' });
    expect(used.init).toEqual({
      text: ' ',
      voice_settings: { stability: 0.5, similarity_boost: 0.8 },
      generation_config: { chunk_length_schedule: [120, 160] },
    });
    expect(used.messages).toEqual([
      { text: 'Hello ' },
      { text: 'there. ', flush: true },
      { text: 'How ' },
      { text: 'are ' },
      { text: 'you? ', flush: true },
      { text: '' },
    ]);
    expect(used.ended).toBe('final');
    expect(server.protocolErrors).toEqual([]);
    expect(samples(0)).toBe(server.samplesFor('Hello there. ', 16_000));
    expect(samples(1)).toBe(server.samplesFor('How are you? ', 16_000));
    expect(audio.every((a) => a.frame.sampleRate === 16_000)).toBe(true);
    const words = audio.flatMap((a) => (a.words ?? []).map((w) => ({ ...w, segment: a.segment })));
    expect(words).toEqual([
      { word: 'Hello', startMs: 0, endMs: 200, segment: 0 },
      { word: 'there.', startMs: 240, endMs: 480, segment: 0 },
      { word: 'How', startMs: 0, endMs: 120, segment: 1 },
      { word: 'are', startMs: 160, endMs: 280, segment: 1 },
      { word: 'you?', startMs: 320, endMs: 480, segment: 1 },
    ]);
  });

  it('starts each reply on a warm spare connection and opens the next spare behind it', async () => {
    const { server, tts } = await setup();
    const t = tts();
    await t.prewarm();
    await speak(t, ['One.|']);
    await expect.poll(() => server.sockets.length).toBe(2);
    await speak(t, ['Two.|']);
    expect(server.sockets[1].messages[0]).toEqual({ text: 'Two. ', flush: true });
    await expect.poll(() => server.sockets.length).toBe(3);
    expect(server.sockets[2].messages).toEqual([]);
  });

  it('reconnects and replays the reply after a 429 or a drop before any audio', async () => {
    const { server, tts } = await setup([
      { reject: { status: 429, message: 'busy', headers: { 'retry-after-ms': '30' } } },
      { dropAfterAudioMessages: 0 },
    ]);
    const { error, samples } = await speak(tts({ keepWarmMs: 0 }), ['Hello again.|']);
    expect(error).toBeUndefined();
    expect(samples(0)).toBe(server.samplesFor('Hello again. ', 16_000));
    expect(server.upgrades).toBeGreaterThanOrEqual(3);
    expect(server.sockets.at(-1)?.messages).toEqual([
      { text: 'Hello ' },
      { text: 'again. ', flush: true },
      { text: '' },
    ]);
  });

  it('fails the reply, without replaying, when the connection drops after audio', async () => {
    const { tts } = await setup([{ dropAfterAudioMessages: 1 }]);
    const { error, samples } = await speak(tts({ keepWarmMs: 0 }), ['one two three four five six seven.|']);
    expect(error).toBeInstanceOf(TtsRequestError);
    expect((error as Error).message).toMatch(/connection closed/);
    expect(samples(0)).toBeGreaterThan(0);
  });

  it('fails with the server error message on an error event', async () => {
    const { tts } = await setup([{ errorOnFlush: 1 }]);
    const { error } = await speak(tts({ keepWarmMs: 0 }), ['Hi.|']);
    expect((error as Error).message).toContain('invalid_message: generation failed');
  });

  it('times out a slow first audio in ms and reconnects', async () => {
    const { server, tts } = await setup([{ firstAudioDelayMs: 2000 }]);
    const { error, samples } = await speak(tts({ keepWarmMs: 0, idleTimeoutMs: 150 }), ['Late.|']);
    expect(error).toBeUndefined();
    expect(samples(0)).toBe(server.samplesFor('Late. ', 16_000));
  });

  it('stops at once when aborted, dropping the socket', async () => {
    const { server, tts } = await setup([{ firstAudioDelayMs: 5000 }]);
    const controller = new AbortController();
    const t = tts({ keepWarmMs: 0 });
    const stream = t.stream({ signal: controller.signal });
    stream.pushText('Never heard. ');
    stream.flush();
    await expect.poll(() => server.sockets[0]?.messages.length ?? 0).toBe(2);
    const started = performance.now();
    controller.abort();
    const frames: TtsAudio[] = [];
    for await (const a of stream) frames.push(a);
    expect(frames).toEqual([]);
    expect(performance.now() - started).toBeLessThan(200);
    await expect.poll(() => server.sockets[0].ended).toBe('client');
  });

  it('reopens the spare when the server closes it for inactivity', async () => {
    const { server, tts } = await setup([], { inactivityMs: 1200 });
    const t = tts();
    await t.prewarm();
    await expect.poll(() => server.sockets[0].ended, { timeout: 5000 }).toBe('inactive');
    await expect.poll(() => server.sockets.length, { timeout: 5000 }).toBe(2);
    const { error } = await speak(t, ['Still warm.|']);
    expect(error).toBeUndefined();
    expect(server.sockets[1].messages[0]).toEqual({ text: 'Still ' });
  }, 15_000);

  it('reports a refused connection and a bad key clearly, without the key', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = new ElevenLabsTts({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}`, retryBaseDelayMs: 5 });
    const refused = await speak(down, ['Hi.|']);
    expect((refused.error as Error).message).toContain('ECONNREFUSED');
    await expect(down.prewarm()).rejects.toThrow(/ECONNREFUSED/);
    await down.close();

    const { tts } = await setup();
    const wrong = await speak(tts({ apiKey: 'xi-wrong-key-000000', keepWarmMs: 0 }), ['Hi.|']);
    expect((wrong.error as Error).message).toContain('HTTP 401: invalid_api_key');
    expect((wrong.error as Error).message).not.toContain(KEY);
  });
});

describe('ElevenLabs HTTP streaming TTS', () => {
  it('posts each sentence and streams its PCM; retries a 429; reports errors from the detail body', async () => {
    const { server } = await setup(
      [],
      {},
      {
        'Busy.': [
          {
            error: {
              status: 429,
              detail: { status: 'too_many_concurrent_requests', message: 'slow down' },
              headers: { 'retry-after': '0' },
            },
          },
        ],
        'Broken.': [{ error: { status: 400, detail: { status: 'bad', message: 'nope' } } }],
      },
    );
    const tts = createElevenLabsHttpTts({
      apiKey: KEY,
      voiceId: 'v2',
      baseUrl: server.baseUrl,
      outputFormat: 'pcm_24000',
      retryBaseDelayMs: 5,
    });
    cleanups.push(() => tts.close?.());
    const ok = await speak(tts, ['Hello there.|', 'Busy.|']);
    expect(ok.error).toBeUndefined();
    expect(ok.samples(0)).toBe(server.samplesFor('Hello there.', 24_000));
    expect(ok.samples(1)).toBe(server.samplesFor('Busy.', 24_000));
    expect(server.httpRequests[0]).toEqual({
      voiceId: 'v2',
      outputFormat: 'pcm_24000',
      body: { text: 'Hello there.', model_id: 'eleven_flash_v2_5' },
    });
    expect(server.httpRequests).toHaveLength(3);
    const bad = await speak(tts, ['Broken.|']);
    expect((bad.error as Error).message).toContain('HTTP 400: bad: nope');
  });
});
