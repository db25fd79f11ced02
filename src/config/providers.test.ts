import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fallbackStateOf } from '../providers/llm/fallback-rotation.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { FallbackTts } from '../providers/tts/fallback.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createProviders, resolveProviderSpecs } from './providers.ts';

const MODELS = fileURLToPath(new URL('../../test/fixtures/models/', import.meta.url));
const VOICE = '21m00Tcm4TlvDq8ikWAM';

describe('resolveProviderSpecs', () => {
  const none = {};
  it('keeps the embedded default without keys', () => {
    expect(resolveProviderSpecs(none, {}, null)).toEqual({ stt: ['local'], llm: [], tts: ['local'] });
    expect(resolveProviderSpecs(none, {}, 'models/q.gguf')).toEqual({
      stt: ['local'],
      llm: ['llama:models/q.gguf'],
      tts: ['local'],
    });
  });

  it('picks OpenAI for everything with OPENAI_API_KEY, each backed by the local provider', () => {
    expect(resolveProviderSpecs(none, { OPENAI_API_KEY: 'sk' }, 'models/q.gguf')).toEqual({
      stt: ['openai-realtime:gpt-4o-mini-transcribe', 'local'],
      llm: ['openai:gpt-4o-mini', 'llama:models/q.gguf'],
      tts: ['openai:gpt-4o-mini-tts', 'local'],
    });
    expect(resolveProviderSpecs(none, { OPENAI_API_KEY: 'sk' }, null).llm).toEqual(['openai:gpt-4o-mini']);
  });

  it('prefers Deepgram for STT and ElevenLabs for TTS when their keys are set', () => {
    const env = { OPENAI_API_KEY: 'sk', DEEPGRAM_API_KEY: 'dg', ELEVENLABS_API_KEY: 'xi' };
    expect(resolveProviderSpecs(none, env, null)).toEqual({
      stt: ['deepgram:nova-3', 'local'],
      llm: ['openai:gpt-4o-mini'],
      tts: [`elevenlabs:${VOICE}`, 'local'],
    });
    expect(resolveProviderSpecs(none, { ELEVENLABS_API_KEY: 'xi', OPENAI_API_KEY: '' }, null)).toEqual({
      stt: ['local'],
      llm: [],
      tts: [`elevenlabs:${VOICE}`, 'local'],
    });
  });

  it('lets an explicit configuration win over the keys', () => {
    const config = {
      stt: 'pocketsphinx:accurate',
      llm: ['llama:a.gguf', 'llama:b.gguf'],
      tts: 'flite:kal16',
    };
    expect(
      resolveProviderSpecs(config, { OPENAI_API_KEY: 'sk', ELEVENLABS_API_KEY: 'xi' }, 'q.gguf'),
    ).toEqual({
      stt: ['pocketsphinx:accurate'],
      llm: ['llama:a.gguf', 'llama:b.gguf'],
      tts: ['flite:kal16'],
    });
  });
});

describe('createProviders', () => {
  it('builds the cloud chains the keys pick, and checks keys at start-up', async () => {
    const config = await loadConfig({
      file: '/nonexistent.json',
      env: {},
      overrides: { vad: 'energy' },
    });
    const providers = await createProviders(
      { ...config, modelsDir: MODELS },
      { env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } },
    );
    expect(providers.specs?.stt).toEqual(['openai-realtime:gpt-4o-mini-transcribe', 'local']);
    expect(providers.specs?.llm).toEqual(['openai:gpt-4o-mini', `llama:${MODELS}stories260K.gguf`]);
    expect(providers.llmSpec).toBe(`openai:gpt-4o-mini > llama:${MODELS}stories260K.gguf`);
    expect(providers.tts).toBeInstanceOf(FallbackTts);
    expect(providers.tts.name).toBe('openai:gpt-4o-mini-tts > flite:rms');
    const llm = await providers.createSessionLlm();
    expect(llm.name).toBe(`openai:gpt-4o-mini > llama:${MODELS}stories260K.gguf`);
    await llm.close?.();
    await providers.close();

    const missing = await createProviders({ ...config, tts: 'elevenlabs' }, { env: {} }).catch((e) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toContain('ELEVENLABS_API_KEY');
  });

  it('gives each session a TTS fallback chain of its own, on the one shared local engine', async () => {
    const config = await loadConfig({ file: '/nonexistent.json', env: {}, overrides: { vad: 'energy' } });
    // Nothing listens on port 9: every OpenAI request fails and the chain falls back to flite.
    const providers = await createProviders(
      { ...config, modelsDir: MODELS, ttsFallbackBudgetMs: 200 },
      { env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } },
    );
    const a = providers.createSessionTts?.() as TTS;
    const b = providers.createSessionTts?.() as TTS;
    expect(a).toBeInstanceOf(FallbackTts);
    expect(b).toBeInstanceOf(FallbackTts);
    expect(a).not.toBe(b);
    expect(a.name).toBe('openai:gpt-4o-mini-tts > flite:rms');
    const [cloudA, localA] = (a as FallbackTts).providers;
    const [cloudB, localB] = (b as FallbackTts).providers;
    expect(cloudA).not.toBe(cloudB);

    const speak = async (tts: TTS) => {
      const stream = tts.stream({ signal: new AbortController().signal });
      stream.pushText('Hello there.');
      stream.flush();
      stream.end();
      let frames = 0;
      for await (const _ of stream) frames++;
      return frames;
    };
    expect(await speak(a)).toBeGreaterThan(0);
    // Session A fell back; session B still starts on its first provider, with no switch to its name.
    expect(fallbackStateOf(a)).toMatchObject({ activeProvider: 'flite:rms', fallbackCount: 1 });
    expect(fallbackStateOf(b)).toMatchObject({ activeProvider: 'openai:gpt-4o-mini-tts', fallbackCount: 0 });
    expect(fallbackStateOf(providers.tts)?.fallbackCount).toBe(0);

    // Closing a session's TTS leaves the process's local engine to the others.
    expect(localA.close).toBeUndefined();
    expect(localB.close).toBeUndefined();
    await a.close?.();
    expect(await speak(localB)).toBeGreaterThan(0);
    await b.close?.();
    await providers.close();
  }, 30_000);

  it('shares a single stateless TTS between sessions, which a session cannot close', async () => {
    const config = await loadConfig({ file: '/nonexistent.json', env: {}, overrides: { vad: 'energy' } });
    const providers = await createProviders({ ...config, modelsDir: MODELS }, { env: {} });
    const tts = providers.createSessionTts?.();
    expect(tts?.name).toBe('flite:rms');
    expect(tts).not.toBeInstanceOf(FallbackTts);
    expect(tts?.close).toBeUndefined();
    await providers.close();
  });
});
