import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import { loadConfig } from '../src/config/config.ts';
import { createProviders } from '../src/config/providers.ts';
import { createConfiguredSession } from '../src/config/session.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import type { FallbackEvent } from '../src/providers/llm/fallback-rotation.ts';
import { ChatCompletionsServer } from '../src/providers/llm/testing/chat-completions-server.ts';
import { ElevenLabsServer } from '../src/providers/tts/testing/elevenlabs-server.ts';

const MODELS = fileURLToPath(new URL('./fixtures/models/', import.meta.url));
const OPENAI_KEY = 'sk-config-0123456789';
const ELEVEN_KEY = 'xi-config-0123456789';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('serve with API keys in the environment', () => {
  it('answers with OpenAI and speaks with ElevenLabs, and falls back to the local model when OpenAI goes', async () => {
    const chat = await ChatCompletionsServer.start({
      apiKey: OPENAI_KEY,
      script: (request) => ({ text: `Hello from the cloud, ${request.model}.` }),
    });
    const eleven = await ElevenLabsServer.start({ apiKey: ELEVEN_KEY, msPerCharacter: 5 });
    cleanups.push(() => eleven.close());
    const env = {
      OPENAI_API_KEY: OPENAI_KEY,
      OPENAI_BASE_URL: chat.baseURL,
      ELEVENLABS_API_KEY: ELEVEN_KEY,
      ELEVENLABS_BASE_URL: eleven.baseUrl,
    };
    const config = await loadConfig({
      file: '/nonexistent/repartee.config.json',
      env: {},
      overrides: { vad: 'energy', stt: 'local', modelsDir: MODELS, llmThreads: 1, llmMaxTokens: 12 },
    });
    const events: FallbackEvent[] = [];
    const lines: string[] = [];
    const log = {
      info: (fields: object, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`),
      warn: (fields: object, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`),
    };
    const providers = await createProviders(config, { env, log, onFallback: (e) => events.push(e) });
    cleanups.push(() => providers.close());
    expect(providers.specs).toEqual({
      stt: ['local'],
      llm: ['openai:gpt-4o-mini', `llama:${MODELS}stories260K.gguf`],
      tts: ['elevenlabs:21m00Tcm4TlvDq8ikWAM', 'local'],
    });

    const session = await createConfiguredSession(config, providers);
    cleanups.push(() => session.close());
    const clock = new MonotonicClock();
    await session.start(new PacedAudioOutput({ clock, realTime: false }));
    const turn = (text: string) =>
      new Promise<TurnMetrics>((resolve) => {
        const off = session.on('metrics', (m) => {
          if (m.userTranscript !== text) return;
          off();
          resolve(m);
        });
        session.sendText(text);
      });

    const first = await turn('hi');
    expect(first).toMatchObject({ outcome: 'completed', agentText: 'Hello from the cloud, gpt-4o-mini.' });
    expect(chat.requests[0].body).toMatchObject({ model: 'gpt-4o-mini', max_completion_tokens: 12 });
    expect(chat.requests[0].authorization).toBe(`Bearer ${OPENAI_KEY}`);
    const spoken = eleven.sockets.flatMap((s) => s.messages.map((m) => m.text)).join('');
    expect(spoken).toContain('cloud,');

    await chat.close();
    const second = await turn('are you there');
    expect(second.outcome).toBe('completed');
    expect(second.agentText.length).toBeGreaterThan(0);
    expect(events).toMatchObject([
      { kind: 'llm', from: 'openai:gpt-4o-mini', to: `llama:${MODELS}stories260K.gguf`, reason: 'error' },
    ]);
    expect(lines.some((l) => l.startsWith('llm provider failed; falling back'))).toBe(true);
    expect(lines.join('\n')).not.toContain(OPENAI_KEY);
    expect(lines.join('\n')).not.toContain(ELEVEN_KEY);
  }, 60_000);
});
