import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TtsAudio } from './contract.ts';
import { createOpenAiTts, OpenAiSpeechSynthesizer, type OpenAiTtsOptions } from './openai.ts';
import { TtsRequestError } from './openai-pcm.ts';
import { OpenAiSpeechServer, type SpeechScript } from './testing/openai-speech-server.ts';

const KEY = 'sk-tts-0123456789abcdef';
let server: OpenAiSpeechServer;
let scripts: Record<string, SpeechScript[]> = {};

beforeAll(async () => {
  server = await OpenAiSpeechServer.start({
    apiKey: KEY,
    script: (request) => scripts[request.input]?.shift() ?? {},
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  scripts = {};
});

const options = (extra: Partial<OpenAiTtsOptions> = {}): OpenAiTtsOptions => ({
  apiKey: KEY,
  baseURL: server.baseURL,
  retryBaseDelayMs: 10,
  ...extra,
});

async function speak(sentences: string[], extra: Partial<OpenAiTtsOptions> = {}) {
  const tts = createOpenAiTts(options(extra));
  const stream = tts.stream({ signal: new AbortController().signal });
  for (const s of sentences) {
    stream.pushText(s);
    stream.flush();
  }
  stream.end();
  const audio: TtsAudio[] = [];
  let error: unknown;
  try {
    for await (const a of stream) audio.push(a);
  } catch (e) {
    error = e;
  }
  await tts.close?.();
  const samples = (segment: number) =>
    audio.filter((a) => a.segment === segment).reduce((n, a) => n + a.frame.samples.length, 0);
  return { audio, error, samples };
}

describe('OpenAI TTS against a local /v1/audio/speech server', () => {
  it('streams each sentence as 24 kHz PCM frames, losing no sample across torn chunks', async () => {
    const { audio, error, samples } = await speak(['Hello there.', 'How are you today?'], {
      model: 'gpt-4o-mini-tts',
      voice: 'coral',
      instructions: 'Cheerful.',
    });
    expect(error).toBeUndefined();
    expect(samples(0)).toBe(server.samplesFor('Hello there.'));
    expect(samples(1)).toBe(server.samplesFor('How are you today?'));
    expect(audio[0].frame.sampleRate).toBe(24_000);
    expect(audio[0].frame.samples.length).toBe(480);
    expect(server.requests).toEqual([
      {
        model: 'gpt-4o-mini-tts',
        voice: 'coral',
        input: 'Hello there.',
        response_format: 'pcm',
        instructions: 'Cheerful.',
      },
      {
        model: 'gpt-4o-mini-tts',
        voice: 'coral',
        input: 'How are you today?',
        response_format: 'pcm',
        instructions: 'Cheerful.',
      },
    ]);
  });

  it('honours retry-after on a 429 and retries a connection dropped before any audio', async () => {
    scripts['Busy.'] = [
      {
        error: { status: 429, message: 'Rate limit', type: 'requests', headers: { 'retry-after-ms': '50' } },
      },
      { dropAfterBytes: 0 },
    ];
    const { error, samples } = await speak(['Busy.']);
    expect(error).toBeUndefined();
    expect(samples(0)).toBe(server.samplesFor('Busy.'));
    expect(server.requests).toHaveLength(3);
  });

  it('fails, without retrying, when the connection drops after audio has been sent', async () => {
    scripts['A long sentence that is cut off.'] = [{ dropAfterBytes: 9000, chunkIntervalMs: 30 }];
    const { error, samples } = await speak(['A long sentence that is cut off.']);
    expect(error).toBeInstanceOf(TtsRequestError);
    expect(samples(0)).toBeGreaterThan(0);
    expect(samples(0)).toBeLessThan(server.samplesFor('A long sentence that is cut off.'));
    expect(server.requests).toHaveLength(1);
  });

  it('times out a slow first byte in ms and retries it', async () => {
    scripts['Slow.'] = [{ firstByteDelayMs: 2000 }];
    const { error, samples } = await speak(['Slow.'], { idleTimeoutMs: 100 });
    expect(error).toBeUndefined();
    expect(samples(0)).toBe(server.samplesFor('Slow.'));
    expect(server.requests).toHaveLength(2);
  });

  it('reports client errors, refused connections and keys clearly', async () => {
    const bad = await speak(['Hi.'], { voice: 'nobody' });
    expect(bad.error).toBeInstanceOf(TtsRequestError);
    expect((bad.error as Error).message).toMatch(/HTTP 400.*Invalid/);

    const wrongKey = await speak(['Hi.'], { apiKey: 'sk-wrong-key-000000' });
    expect((wrongKey.error as Error).message).toContain('401');

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await speak(['Hi.'], { baseURL: `http://127.0.0.1:${port}/v1` });
    expect((refused.error as Error).message).toContain('ECONNREFUSED');
    expect((refused.error as Error).message).not.toContain(KEY);
  });

  it('stops when aborted mid-sentence', async () => {
    scripts['Stop me somewhere in the middle please.'] = [{ chunkIntervalMs: 40 }];
    const synthesizer = new OpenAiSpeechSynthesizer(options());
    const controller = new AbortController();
    let chunks = 0;
    for await (const _ of synthesizer.synthesize(
      'Stop me somewhere in the middle please.',
      controller.signal,
    )) {
      if (++chunks === 2) controller.abort();
    }
    expect(chunks).toBe(2);
    await synthesizer.close();
  });

  it('prewarms one connection and reuses it for every sentence', async () => {
    const synthesizer = new OpenAiSpeechSynthesizer(options());
    const before = server.connections;
    await synthesizer.prewarm();
    expect(server.modelListings).toBeGreaterThan(0);
    for (const text of ['One.', 'Two.', 'Three.']) {
      for await (const _ of synthesizer.synthesize(text, new AbortController().signal)) {
        // drain
      }
    }
    expect(server.connections - before).toBe(1);
    await synthesizer.close();
  });
});
