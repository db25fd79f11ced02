import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TtsEngineUnavailableError } from './engine-util.ts';
import { FestivalSynthesizer } from './festival.ts';
import { describeSentenceSynthesizer } from './synthesizer-conformance.ts';

// scripts/setup.sh installs festival but not yet a voice for it (festvox-kallpc16k); without one, only the error is tested.
const voiceInstalled = existsSync('/usr/share/festival/voices/english/kal_diphone');

describe.skipIf(!voiceInstalled)('festival with kal_diphone', () => {
  describeSentenceSynthesizer('festival kal_diphone', () => new FestivalSynthesizer());
});

describe('FestivalSynthesizer errors', () => {
  it('names the package of a missing voice', async () => {
    const synthesizer = new FestivalSynthesizer({ voice: 'cmu_us_slt_arctic_hts_missing' });
    await expect(synthesizer.prewarm()).rejects.toThrow(TtsEngineUnavailableError);
    await synthesizer.close();
  });

  it('names the package when the program is missing', async () => {
    const synthesizer = new FestivalSynthesizer({ command: 'festival-not-installed' });
    await expect(synthesizer.prewarm()).rejects.toThrow(/festival-not-installed.*Debian package festival/);
  });

  it.skipIf(!voiceInstalled)('restarts after its process dies', async () => {
    const synthesizer = new FestivalSynthesizer();
    await synthesizer.prewarm();
    await synthesizer.close();
    let n = 0;
    for await (const c of synthesizer.synthesize('Hello again.', new AbortController().signal)) n += c.length;
    expect(n).toBeGreaterThan(synthesizer.sampleRate * 0.3);
    await synthesizer.close();
  });
});
