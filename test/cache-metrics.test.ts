import { describe, expect, it } from 'vitest';
import { buildTurnMetrics } from '../src/metrics/turn.ts';
import { ServerMetrics } from '../src/server/prometheus.ts';

const turn = (cache: Parameters<typeof buildTurnMetrics>[0]['cache']) =>
  buildTurnMetrics({
    sessionId: 's',
    turnId: 1,
    speechId: 1,
    marks: {},
    usage: {
      promptTokens: 0,
      completionTokens: 0,
      cachedTokens: 0,
      ttsCharacters: 0,
      sttAudioMs: 0,
      toolMs: null,
    },
    outcome: 'completed',
    preemptive: 'none',
    userTranscript: 'What are your opening hours?',
    agentText: 'Nine to five.',
    cache,
  });

describe('cache metrics', () => {
  it('a turn record carries the cache field and its totals', () => {
    expect(turn(undefined)).toMatchObject({
      cacheHits: 0,
      cacheMisses: 0,
      cache: { ttsHits: 0, ttsMisses: 0, response: 'off', savedMs: 0 },
    });
    expect(turn({ ttsHits: 2, ttsMisses: 1, response: 'hit', savedMs: 812.345 })).toMatchObject({
      cacheHits: 3,
      cacheMisses: 1,
      cache: { ttsHits: 2, ttsMisses: 1, response: 'hit', savedMs: 812.35 },
    });
  });

  it('/metrics counts lookups by cache and result, and the time saved', async () => {
    const metrics = new ServerMetrics(() => 0);
    const before = (await metrics.text()).body;
    expect(before).toContain('repartee_cache_lookups_total{cache="response",result="hit"} 0');
    metrics.record(turn({ ttsHits: 2, ttsMisses: 1, response: 'hit', savedMs: 800 }));
    metrics.record(turn({ ttsHits: 0, ttsMisses: 3, response: 'miss', savedMs: 0 }));
    metrics.record(turn({ ttsHits: 1, ttsMisses: 0, response: 'skipped', savedMs: 200 }));
    const { body } = await metrics.text();
    expect(body).toContain('repartee_cache_lookups_total{cache="tts",result="hit"} 3');
    expect(body).toContain('repartee_cache_lookups_total{cache="tts",result="miss"} 4');
    expect(body).toContain('repartee_cache_lookups_total{cache="response",result="hit"} 1');
    expect(body).toContain('repartee_cache_lookups_total{cache="response",result="miss"} 1');
    expect(body).toContain('repartee_cache_saved_seconds_total 1');
  });
});
