import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { createConfiguredTurnDetector } from '../src/config/turn-detector.ts';
import { createStt } from '../src/providers/stt/spec.ts';
import { loadNgramModel } from '../src/providers/turn/ngram-native.ts';
import { createTurnDetector } from '../src/providers/turn/spec.ts';
import { CONTINUATION_WORDS } from '../src/providers/turn/wordlist.ts';
import { SileroVAD } from '../src/providers/vad/silero.ts';
import { clipWithPause, speakToSession } from './turn-pause.harness.ts';

// "and mister john dashwood had then leisure to consider how much there might be prudently in his power | to do
// for them": 800 ms of silence inserted after "power" (a content word), 6.07 s into the clip.
const CLIP = 'sense_and_sensibility_01_austen_64kb-0870.wav';
const SPLIT_MS = 6070;
const PAUSE_MS = 800;

describe('a mid-sentence pause in real speech (LibriVox, real VAD and STT, virtual clock)', () => {
  it('the default configuration answers once, to the whole sentence', async () => {
    await loadNgramModel(); // read once per process; a live session would have it from start-up
    const config = await loadConfig({ file: '/nonexistent/repartee.config.json', env: {} });
    const warnings: string[] = [];
    const turnDetector = await createConfiguredTurnDetector(config, null, (m) => warnings.push(m));
    expect(turnDetector.name).toBe('combined');
    const { samples } = await clipWithPause(CLIP, SPLIT_MS, PAUSE_MS, 3000);
    const result = await speakToSession(samples, {
      vad: new SileroVAD(),
      stt: createStt('local', { language: 'en' }),
      turnDetector,
      endpointing: config.endpointing,
    });
    expect(warnings).toEqual([]);
    expect(result.errors).toEqual([]);
    // The STT really did settle the first part during the pause, ending on a content word: the hard case.
    expect(result.finals.length).toBeGreaterThanOrEqual(2);
    const lastWordBeforePause = result.finals[0].text.trim().split(/\s+/).at(-1) as string;
    expect(CONTINUATION_WORDS.has(lastWordBeforePause)).toBe(false);
    expect(result.commits).toHaveLength(1);
    expect(result.replies).toBe(1);
    expect(result.userMessages).toHaveLength(1);
    const words = result.userMessages[0].split(' ');
    expect(words.length).toBeGreaterThan(15);
    expect(result.userMessages[0]).toContain(result.finals[0].text.trim());
    expect(result.userMessages[0].endsWith(result.finals.at(-1)?.text.trim() as string)).toBe(true);
    // The turn record says why: the probability, its signals and the wait the policy chose.
    const taking = result.metrics[0]?.turnTaking;
    expect(taking?.endOfTurnProbability).toBeGreaterThan(0);
    expect(taking?.endpointingDelayMs).toBeLessThanOrEqual(config.endpointing.maxDelayMs ?? 1800);
    expect(taking?.signals).toHaveProperty('ngramLog10End');
    expect(taking?.signals).toHaveProperty('prosodyLogOdds');
  }, 180_000);

  it('the old word list cuts the same sentence in two (what the test guards against)', async () => {
    const { samples } = await clipWithPause(CLIP, SPLIT_MS, PAUSE_MS, 3000);
    const result = await speakToSession(samples, {
      vad: new SileroVAD(),
      stt: createStt('local', { language: 'en' }),
      turnDetector: createTurnDetector('wordlist'),
      endpointing: { minDelayMs: 400, maxDelayMs: 2500, confidentAbove: 0.5 },
    });
    expect(result.commits.length).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
