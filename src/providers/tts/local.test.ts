import { describe, expect, it } from 'vitest';
import { createLocalSynthesizer, createLocalTts, DEFAULT_LOCAL_TTS_ENGINE } from './local.ts';

describe('createLocalTts', () => {
  it('uses the measured default engine', () => {
    expect(createLocalTts().name.startsWith(DEFAULT_LOCAL_TTS_ENGINE)).toBe(true);
  });

  it('maps voice and speed onto each engine', () => {
    expect(createLocalTts({ engine: 'flite', voice: 'kal' }).sampleRate).toBe(8_000);
    expect(createLocalTts({ engine: 'espeak-ng', voice: 'en-gb', speed: 1.2 }).name).toBe('espeak-ng:en-gb');
    expect(createLocalTts({ engine: 'festival', voice: 'kal_diphone' }).name).toBe('festival:kal_diphone');
  });

  it('refuses unknown engines and flite voices by name', () => {
    expect(() => createLocalSynthesizer({ engine: 'say' as 'flite' })).toThrow(
      /unknown local TTS engine "say"/,
    );
    expect(() => createLocalSynthesizer({ engine: 'flite', voice: 'en-us' })).toThrow(/unknown flite voice/);
  });
});
