import { describe, expect, it } from 'vitest';
import { timeline } from './timeline.testkit.ts';

/**
 * A streaming STT that settles its final 120 ms after the last word (before the VAD's 300 ms silence wait ends):
 * the reply starts on that final, not on the VAD's end of speech. Words come every 100 ms, so no final falls
 * inside the utterance.
 */
const EARLY_FINAL = { autoFinalAfterMs: 120, finalDelayMs: 50 };
const QUESTION = 'What time is it in the city of Tokyo today';

describe('preemptive generation on the STT final', () => {
  it('starts the LLM on a final that comes before the VAD end of speech and plays it at the commit', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: QUESTION }],
      reply: () => 'It is noon right now.',
      llm: { ttftMs: 100 },
      tts: { ttfbMs: 50, streamingInput: true },
      stt: EARLY_FINAL,
      vad: { minSilenceMs: 300 },
      session: { preemptiveGeneration: true, endpointing: { minDelayMs: 500, maxDelayMs: 500 } },
    });
    await t.start();
    await t.runUntil(4000);
    expect(t.errors).toEqual([]);
    const [request] = t.llm.requests;
    // The final is there at 1620 (120 ms of audio after the last word); the VAD's end of speech comes at 1800.
    expect(request.at).toBeLessThan(1700);
    const [m] = t.metrics;
    expect(m.preemptive).toBe('reused');
    expect(m.eouDelayMs).toBe(500);
    // Everything the reply needed was ready at the commit: the first audio plays at it.
    expect(m.voiceToVoiceMs).toBeGreaterThanOrEqual(500);
    expect(m.voiceToVoiceMs).toBeLessThan(510);
    expect(t.llm.requests).toHaveLength(1);
  });

  it('the user going on after that final throws the early reply away and answers the whole turn once', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: QUESTION },
        { startMs: 1900, endMs: 2200, text: 'and in Osaka' },
      ],
      reply: (messages) => `You asked: ${messages.at(-1)?.content}`,
      llm: { ttftMs: 100 },
      tts: { ttfbMs: 50, streamingInput: true },
      stt: EARLY_FINAL,
      vad: { minSilenceMs: 300 },
      session: { preemptiveGeneration: true, endpointing: { minDelayMs: 500, maxDelayMs: 500 } },
    });
    await t.start();
    await t.runUntil(12000);
    expect(t.errors).toEqual([]);
    // One early request for the first words, stopped when the user went on; one for the whole turn.
    expect(t.llm.requests).toHaveLength(2);
    expect(t.llm.requests[0].aborted).toBe(true);
    expect(t.metrics).toHaveLength(1);
    expect(t.metrics[0].userTranscript).toBe(`${QUESTION} and in Osaka`);
    expect(t.history().at(-1)?.content).toBe(`You asked: ${QUESTION} and in Osaka`);
  });
});
