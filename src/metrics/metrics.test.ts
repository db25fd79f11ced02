import { describe, expect, it } from 'vitest';
import { VirtualClock } from './clock.ts';
import { TURN_METRIC_FIELDS } from './schema.ts';
import { percentile, summarize } from './stats.ts';
import { buildTurnMetrics } from './turn.ts';

const usage = {
  promptTokens: 10,
  completionTokens: 5,
  cachedTokens: 0,
  ttsCharacters: 20,
  sttAudioMs: 1000,
  toolMs: null,
};

describe('buildTurnMetrics', () => {
  it('computes every field of the schema, with overhead excluding provider time', () => {
    const m = buildTurnMetrics({
      sessionId: 's',
      turnId: 1,
      speechId: 1,
      usage,
      outcome: 'completed',
      preemptive: 'none',
      userTranscript: 'hi',
      agentText: 'hello',
      marks: {
        endOfUserSpeechAt: 1000,
        finalTranscriptAt: 1100,
        committedAt: 1400,
        llmRequestAt: 1401,
        llmFirstTokenAt: 1700,
        llmLastTokenAt: 1900,
        firstSentenceAt: 1750,
        ttsFirstTextAt: 1751,
        ttsFirstAudioAt: 1850,
        firstFrameSentAt: 1852,
        firstPlayedAt: 1900,
      },
    });
    expect(Object.keys(m).sort()).toEqual([...TURN_METRIC_FIELDS].sort());
    expect(m).toMatchObject({
      eouDelayMs: 400,
      transcriptionDelayMs: 100,
      llmTtftMs: 299,
      ttsTtfbMs: 99,
      transportMs: 48,
      voiceToVoiceMs: 900,
      llmTokensPerSecond: 20,
    });
    // 900 - 400 (eou) - 349 (LLM to first sentence) - 99 (TTS) - 48 (transport) = 4 ms of our own
    expect(m.pipelineOverheadMs).toBe(4);
  });

  it('does not count provider work done before the end of turn (preemptive generation)', () => {
    const m = buildTurnMetrics({
      sessionId: 's',
      turnId: 1,
      speechId: 1,
      usage,
      outcome: 'completed',
      preemptive: 'reused',
      userTranscript: '',
      agentText: '',
      marks: {
        endOfUserSpeechAt: 1000,
        committedAt: 1400,
        llmRequestAt: 1100,
        firstSentenceAt: 1300,
        ttsFirstTextAt: 1300,
        ttsFirstAudioAt: 1450,
        firstFrameSentAt: 1450,
        firstPlayedAt: 1452,
      },
    });
    expect(m.voiceToVoiceMs).toBe(452);
    expect(m.pipelineOverheadMs).toBe(0);
  });
});

describe('stats', () => {
  it('nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(summarize([1, null, 3]).count).toBe(2);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('VirtualClock', () => {
  it('runs timers in time order and supports abortable sleep', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.schedule(30, () => fired.push(30));
    clock.schedule(10, () => fired.push(10));
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    await clock.advanceTo(50);
    expect(fired).toEqual([10, 30]);
    expect(clock.now()).toBe(50);
  });
});
