import { describe, expect, it } from 'vitest';
import { ElevenLabsTts } from './elevenlabs.ts';
import { FallbackTts } from './fallback.ts';
import { createTts, parseTtsSpec, TtsSpecError } from './spec.ts';

describe('parseTtsSpec', () => {
  it('parses local engines, OpenAI and ElevenLabs forms with their defaults', () => {
    expect(parseTtsSpec('local')).toEqual({ kind: 'local' });
    expect(parseTtsSpec('flite:kal16')).toEqual({ kind: 'engine', engine: 'flite', voice: 'kal16' });
    expect(parseTtsSpec('espeak-ng')).toEqual({ kind: 'engine', engine: 'espeak-ng' });
    expect(parseTtsSpec('openai')).toEqual({ kind: 'openai', model: 'gpt-4o-mini-tts' });
    expect(parseTtsSpec('openai:tts-1:nova')).toEqual({ kind: 'openai', model: 'tts-1', voice: 'nova' });
    expect(parseTtsSpec('elevenlabs')).toEqual({
      kind: 'elevenlabs',
      voiceId: '21m00Tcm4TlvDq8ikWAM',
      modelId: 'eleven_flash_v2_5',
    });
    expect(parseTtsSpec('elevenlabs-http:abc:eleven_turbo_v2_5')).toEqual({
      kind: 'elevenlabs-http',
      voiceId: 'abc',
      modelId: 'eleven_turbo_v2_5',
    });
  });

  it.each([
    ['', 'empty'],
    ['polly:joanna', 'unknown provider "polly"'],
    ['flite:slt:extra', 'one voice'],
    ['openai::nova', 'empty part'],
    ['elevenlabs:a:b:c', 'voice id and a model id'],
  ])('rejects %j clearly', (spec, why) => {
    let error: unknown;
    try {
      parseTtsSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TtsSpecError);
    expect((error as Error).message).toContain(why);
    expect((error as Error).message).toContain('elevenlabs[:<voice_id>');
  });
});

describe('createTts', () => {
  it('needs the key of a cloud provider, from the environment only', () => {
    expect(() => createTts('openai', { env: {} })).toThrow(/OPENAI_API_KEY/);
    expect(() => createTts('elevenlabs', { env: {} })).toThrow(/ELEVENLABS_API_KEY/);
    expect(() => createTts(['local', 'openai'], { env: {} })).toThrow(TtsSpecError);
  });

  it('builds ElevenLabs as the WebSocket API with the HTTP endpoint behind it, and lists as fallback chains', async () => {
    const env = { ELEVENLABS_API_KEY: 'xi-key', OPENAI_API_KEY: 'sk-key' };
    const eleven = createTts('elevenlabs:v1', { env });
    expect(eleven).toBeInstanceOf(FallbackTts);
    expect((eleven as FallbackTts).providers.map((p) => p.name)).toEqual([
      'elevenlabs:v1 (websocket)',
      'elevenlabs:v1 (http)',
    ]);
    expect(createTts('elevenlabs-ws:v1', { env })).toBeInstanceOf(ElevenLabsTts);
    const chain = createTts(['openai:gpt-4o-mini-tts', 'local'], { env });
    expect(chain).toBeInstanceOf(FallbackTts);
    expect(chain.name).toBe('openai:gpt-4o-mini-tts > flite:rms');
    expect(chain.sampleRate).toBe(24_000);
    await Promise.all([eleven.close?.(), chain.close?.()]);
  });
});
