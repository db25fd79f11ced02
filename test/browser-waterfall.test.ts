import { describe, expect, it } from 'vitest';
import { layoutWaterfall, niceCeiling } from '../web/js/waterfall-layout.js';

const spans = (metrics: Record<string, unknown>) =>
  Object.fromEntries(layoutWaterfall(metrics).bars.map((b) => [b.id, [b.startMs, b.endMs, b.valueMs]]));

describe('latency waterfall layout (web/js/waterfall-layout.js)', () => {
  it('places each stage on one axis from the end of user speech, in pipeline order', () => {
    const metrics = {
      eouDelayMs: 500,
      transcriptionDelayMs: 450,
      llmTtftMs: 200,
      ttsTtfbMs: 100,
      transportMs: 40,
      voiceToVoiceMs: 900,
      preemptive: 'none',
    };
    expect(spans(metrics)).toEqual({
      eou: [0, 500, 500],
      stt: [0, 450, 450],
      llm: [500, 700, 200], // the request goes out when the turn is committed
      tts: [760, 860, 100], // its first audio is handed to the transport...
      transport: [860, 900, 40], // ...which plays it at voice-to-voice
      v2v: [0, 900, 900],
    });
    const { axisMs, ticks } = layoutWaterfall(metrics);
    expect(axisMs).toBe(1000);
    expect(ticks).toEqual([0, 200, 400, 600, 800, 1000]);
  });

  it('starts the LLM at the final transcript when a preemptive generation was reused', () => {
    const bars = spans({
      eouDelayMs: 600,
      transcriptionDelayMs: 300,
      llmTtftMs: 150,
      ttsTtfbMs: 50,
      transportMs: 30,
      voiceToVoiceMs: 640,
      preemptive: 'reused',
    });
    expect(bars.llm).toEqual([300, 450, 150]);
    expect(bars.tts).toEqual([560, 610, 50]);
  });

  it('never starts TTS before the first token, and leaves out what did not run', () => {
    const bars = spans({
      eouDelayMs: 400,
      transcriptionDelayMs: null,
      llmTtftMs: 300,
      ttsTtfbMs: 100,
      transportMs: null,
      voiceToVoiceMs: null,
    });
    expect(bars.stt).toEqual([null, null, null]);
    expect(bars.tts).toEqual([700, 800, 100]);
    expect(bars.transport).toEqual([null, null, null]);
    expect(bars.v2v).toEqual([null, null, null]);
    expect(layoutWaterfall({}).bars.every((b) => b.startMs === null)).toBe(true);
  });

  it('rounds the axis up to 1, 2, 2.5 or 5 times a power of ten', () => {
    expect([900, 1000, 1234, 2100, 3100, 7000, 5].map(niceCeiling)).toEqual([
      1000, 1000, 2000, 2500, 5000, 10000, 5,
    ]);
    expect(layoutWaterfall({ voiceToVoiceMs: 1900 }).ticks).toEqual([0, 500, 1000, 1500, 2000]);
  });
});
