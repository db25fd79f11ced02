import { describe, expect, it } from 'vitest';
import { FliteSynthesizer } from './flite.ts';
import { describeSentenceSynthesizer } from './synthesizer-conformance.ts';

describeSentenceSynthesizer('flite default voice (rms)', () => new FliteSynthesizer());
describeSentenceSynthesizer('flite kal (8 kHz)', () => new FliteSynthesizer({ voice: 'kal' }));

describe('FliteSynthesizer options', () => {
  it('declares each voice at its native rate', () => {
    expect(new FliteSynthesizer({ voice: 'kal16' }).sampleRate).toBe(16_000);
    expect(new FliteSynthesizer({ voice: 'kal' }).sampleRate).toBe(8_000);
  });

  it('refuses an unknown voice by name', () => {
    expect(() => new FliteSynthesizer({ voice: 'nope' as 'slt' })).toThrow(/unknown flite voice "nope".*slt/);
  });

  it('speaks faster with a higher speed', async () => {
    const length = async (speed: number) => {
      let n = 0;
      const synthesizer = new FliteSynthesizer({ voice: 'kal16', speed });
      for await (const c of synthesizer.synthesize(
        'Help the woman get back to her feet.',
        new AbortController().signal,
      )) {
        n += c.length;
      }
      return n;
    };
    expect(await length(1.5)).toBeLessThan((await length(1)) * 0.8);
  });
});
