import { describe, expect, it } from 'vitest';
import { DeepgramStt } from './deepgram.ts';
import { FallbackStt } from './fallback.ts';
import { OpenAiBatchStt } from './openai-batch.ts';
import { OpenAiRealtimeStt } from './openai-realtime.ts';
import { PocketsphinxSTT } from './pocketsphinx.ts';
import { createStt, parseSttSpec, SttSpecError } from './spec.ts';

const env = { DEEPGRAM_API_KEY: 'dg-key', OPENAI_API_KEY: 'sk-key' };

describe('parseSttSpec', () => {
  it('reads every documented form', () => {
    expect(parseSttSpec('local')).toEqual({ kind: 'pocketsphinx', search: 'fast' });
    expect(parseSttSpec('pocketsphinx')).toEqual({ kind: 'pocketsphinx', search: 'fast' });
    expect(parseSttSpec('pocketsphinx:accurate')).toEqual({ kind: 'pocketsphinx', search: 'accurate' });
    expect(parseSttSpec('deepgram')).toEqual({ kind: 'deepgram', model: 'nova-3' });
    expect(parseSttSpec(' deepgram:nova-2-phonecall ')).toEqual({
      kind: 'deepgram',
      model: 'nova-2-phonecall',
    });
    expect(parseSttSpec('openai-realtime')).toEqual({
      kind: 'openai-realtime',
      model: 'gpt-4o-mini-transcribe',
    });
    expect(parseSttSpec('openai-realtime:gpt-4o-transcribe')).toEqual({
      kind: 'openai-realtime',
      model: 'gpt-4o-transcribe',
    });
    expect(parseSttSpec('openai:whisper-1')).toEqual({ kind: 'openai', model: 'whisper-1' });
    expect(parseSttSpec('openai')).toEqual({ kind: 'openai', model: 'gpt-4o-mini-transcribe' });
    expect(parseSttSpec('cartesia')).toEqual({ kind: 'cartesia', model: 'ink-whisper' });
    expect(parseSttSpec('cartesia:ink-2')).toEqual({ kind: 'cartesia', model: 'ink-2' });
  });

  it('cartesia needs CARTESIA_API_KEY, and names itself by its model', () => {
    expect(() => createStt('cartesia', { language: 'en', env: {} })).toThrow(/CARTESIA_API_KEY/);
    expect(createStt('cartesia:ink-2', { language: 'en', env: { CARTESIA_API_KEY: 'c-key' } }).name).toBe(
      'cartesia:ink-2',
    );
  });

  it('refuses anything else, naming the accepted forms', () => {
    for (const bad of ['', 'whisper', 'pocketsphinx:slow', 'deepgram:', 'local:x', 'openai:gpt 4o'])
      expect(() => parseSttSpec(bad), bad).toThrow(SttSpecError);
    expect(() => parseSttSpec('azure')).toThrow(/unknown provider "azure".*expected "local"/);
  });
});

describe('createStt', () => {
  it('builds each provider, with keys from the given environment only', () => {
    expect(createStt('local', { language: 'en', env })).toBeInstanceOf(PocketsphinxSTT);
    expect(createStt('deepgram', { language: 'en', env })).toBeInstanceOf(DeepgramStt);
    expect(createStt('openai-realtime', { language: 'en', env })).toBeInstanceOf(OpenAiRealtimeStt);
    const batch = createStt('openai:whisper-1', { language: 'en', env });
    expect(batch).toBeInstanceOf(OpenAiBatchStt);
    expect(batch.name).toBe('openai:whisper-1');
  });

  it('a list is a fallback chain in order', () => {
    const stt = createStt(['deepgram', 'openai-realtime', 'local'], { language: 'en', env });
    expect(stt).toBeInstanceOf(FallbackStt);
    expect(stt.name).toBe('deepgram:nova-3 > openai-realtime:gpt-4o-mini-transcribe > pocketsphinx');
    expect(createStt(['local'], { language: 'en', env })).toBeInstanceOf(PocketsphinxSTT);
    expect(() => createStt([], { language: 'en', env })).toThrow(SttSpecError);
  });

  it('a missing key fails at start-up and names the variable, not a value', () => {
    expect(() => createStt('deepgram', { language: 'en', env: {} })).toThrow(/needs DEEPGRAM_API_KEY/);
    expect(() =>
      createStt(['local', 'openai:whisper-1'], { language: 'en', env: { OPENAI_API_KEY: ' ' } }),
    ).toThrow(/needs OPENAI_API_KEY/);
  });
});
