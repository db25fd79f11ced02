import { afterEach } from 'vitest';
import type { TTS, TtsAudio } from '../contract.ts';

/** A fake vendor server once started: where it listens and how to stop it. */
export interface StartedFake {
  readonly baseUrl: string;
  close(): Promise<unknown>;
}

/**
 * The shared set-up of the WebSocket TTS client tests (Cartesia, Deepgram Aura): a fake server and a client with
 * short retry and idle timings, both closed after each test, and `closers` for anything else a test opens.
 */
export function socketTtsTestkit<F extends StartedFake, T extends TTS, ServerOptions, ClientOptions>(
  startFake: (server: Partial<ServerOptions>) => Promise<F>,
  makeTts: (
    options: { baseUrl: string; retryBaseDelayMs: number; idleTimeoutMs: number } & Partial<ClientOptions>,
  ) => T,
) {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });
  async function setup(server: Partial<ServerOptions> = {}, options: Partial<ClientOptions> = {}) {
    const fake = await startFake(server);
    const tts = makeTts({ baseUrl: fake.baseUrl, retryBaseDelayMs: 10, idleTimeoutMs: 2_000, ...options });
    closers.push(
      () => fake.close(),
      async () => tts.close?.(),
    );
    return { fake, tts };
  }
  return { closers, setup };
}

/** Speaks `sentences` as an LLM writes them (a few characters at a time, a flush per sentence); all the audio. */
export async function speakInPieces(tts: TTS, sentences: string[], signal = new AbortController().signal) {
  const stream = tts.stream({ signal });
  for (const s of sentences) {
    for (let i = 0; i < s.length; i += 4) stream.pushText(s.slice(i, i + 4));
    stream.flush();
  }
  stream.end();
  const audio: TtsAudio[] = [];
  for await (const a of stream) audio.push(a);
  return audio;
}

/** Samples of one segment's audio. */
export const samplesOf = (audio: TtsAudio[], segment: number) =>
  audio.filter((a) => a.segment === segment).reduce((n, a) => n + a.frame.samples.length, 0);
