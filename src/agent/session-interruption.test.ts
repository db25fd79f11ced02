import { describe, expect, it } from 'vitest';
import { lastUser, replySegments, STORY } from './session.testkit.ts';
import { timeline } from './timeline.testkit.ts';

describe('AgentSession timeline', () => {
  it('a stop receipt arriving after the words confirmed the interruption still times interruptionStopMs', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 2500, text: 'Tell me a story.' },
        { startMs: 5000, endMs: 5400, text: 'Stop!' },
      ],
      reply: (messages) => (lastUser(messages) === 'Stop!' ? 'Okay, I stopped.' : STORY),
      llm: { tokensPerSecond: 50 },
      outputStopLatencyMs: 150,
      session: { interruption: { minWords: 0 } },
    });
    await t.start();
    await t.runUntil(9000);
    const [story] = t.metrics;
    expect(story.outcome).toBe('interrupted');
    expect(story.interruptionStopMs).toBeGreaterThanOrEqual(150);
    expect(story.interruptionStopMs).toBeLessThanOrEqual(180);
  });

  it('an interruption mid-sentence stops playout at once and the history keeps only what was heard', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 2500, text: 'Tell me a story.' },
        { startMs: 5000, endMs: 5400, text: 'Stop!' },
      ],
      reply: (messages) => (lastUser(messages) === 'Stop!' ? 'Okay, I stopped.' : STORY),
      llm: { tokensPerSecond: 50 },
    });
    await t.start();
    await t.runUntil(9000);
    expect(t.errors).toEqual([]);
    const storySpeech = 1;
    // Nothing of the story plays after the user's onset, but for the frame in flight.
    expect(t.output.lastPlayedEndOf(storySpeech)).toBeLessThanOrEqual(5020);
    expect(t.output.played.some((f) => f.speechId === storySpeech && f.startMs >= 5020)).toBe(false);
    const [story, stop] = t.metrics;
    expect(story.outcome).toBe('interrupted');
    expect(story.interruptionStopMs).toBeLessThanOrEqual(20);
    expect(stop).toMatchObject({
      userTranscript: 'Stop!',
      agentText: 'Okay, I stopped.',
      outcome: 'completed',
    });
    const assistant = t.history().filter((m) => m.role === 'assistant');
    expect(assistant[0].interrupted).toBe(true);
    expect(STORY.startsWith(assistant[0].content)).toBe(true);
    expect(assistant[0].content.length).toBeLessThan(STORY.length / 2);
    expect(assistant[0].content.length).toBeGreaterThan(10);
    // About 65 ms per character was played until the interruption; the cut is within a few words of that.
    const heardMs = t.output.playedMsOf(storySpeech);
    expect(Math.abs(assistant[0].content.length * 65 - heardMs)).toBeLessThan(600);
    expect(assistant[1]).toEqual({ role: 'assistant', content: 'Okay, I stopped.' });
    expect(t.history().map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('a false interruption (noise without words) pauses, then resumes where the user stopped hearing', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Tell me a story.' },
        { startMs: 4000, endMs: 4300 }, // a cough: voiced, no words
      ],
      reply: () => STORY,
      llm: { tokensPerSecond: 50 },
    });
    await t.start();
    await t.runUntil(30_000);
    const kinds = t.log
      .filter((e) => e.event === 'interruption')
      .map((e) => (e.payload as { kind: string }).kind);
    expect(kinds).toEqual(['paused', 'resumed']);
    const gap = t.output.played.filter((f) => f.startMs > 4000 && f.startMs < 5000);
    expect(gap).toEqual([]); // silent while the user made noise
    expect(t.output.played.some((f) => f.startMs > 5400)).toBe(true); // resumed
    expect(t.metrics[0].outcome).toBe('completed');
    expect(t.history().at(-1)).toEqual({ role: 'assistant', content: STORY });
    // Resumed from the paused position: the whole story played exactly once.
    const producedMs = replySegments(t.tts.segmentsSynthesized).reduce(
      (ms, s) => ms + Math.max(1, Math.round((s.length * 65) / 20)) * 20,
      0,
    );
    expect(t.output.playedMsOf(1)).toBeCloseTo(producedMs, 0);
  });

  it('a backchannel ("mm-hmm") does not interrupt and is not a turn', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Tell me a story.' },
        { startMs: 4000, endMs: 4400, text: 'mm-hmm' },
      ],
      reply: () => STORY,
      llm: { tokensPerSecond: 50 },
    });
    await t.start();
    await t.runUntil(30_000);
    expect(t.metrics).toHaveLength(1);
    expect(t.metrics[0].outcome).toBe('completed');
    expect(t.history().filter((m) => m.role === 'user')).toHaveLength(1);
  });

  it('a stale frame arriving after an interruption is dropped, never played', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Tell me a story.' },
        { startMs: 4000, endMs: 4400, text: 'Stop now.' },
      ],
      reply: (messages) => (lastUser(messages) === 'Stop now.' ? 'Stopped.' : STORY),
      llm: { tokensPerSecond: 50 }, // the TTS (slower than real time) is still producing the story at the interruption
      tts: { framesAfterAbort: 20, realTimeFactor: 0.9 },
    });
    await t.start();
    await t.runUntil(8000);
    expect(t.output.lastPlayedEndOf(1)).toBeLessThanOrEqual(4020);
    expect(t.output.played.filter((f) => f.speechId === 1 && f.startMs > 4020)).toEqual([]);
    const ended = t.log.find(
      (e) => e.event === 'speechEnded' && (e.payload as { speechId: number }).speechId === 1,
    );
    expect(
      (ended?.payload as { droppedStaleFrames: number } | undefined)?.droppedStaleFrames,
    ).toBeGreaterThan(0);
    expect(t.metrics[1]).toMatchObject({ agentText: 'Stopped.' });
  });

  it('the transport refuses frames of another speech id', async () => {
    const t = timeline({ user: [], reply: () => '' });
    const frames = async function* () {
      yield { samples: new Int16Array(320), sampleRate: 16000, timestampMs: 0, speechId: 7 };
      yield { samples: new Int16Array(320), sampleRate: 16000, timestampMs: 20, speechId: 8 };
    };
    const playing = t.output.play(frames(), { signal: new AbortController().signal, speechId: 8 });
    await t.clock.advance(100);
    const receipt = await playing;
    expect(receipt.playedMs).toBe(20);
    expect(t.output.rejectedStaleFrames.map((f) => f.speechId)).toEqual([7]);
  });

  it('typed text shares the history with voice and interrupts a speaking agent', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Tell me a story.' }],
      reply: (messages) => (lastUser(messages) === 'never mind' ? 'Alright.' : STORY),
      llm: { tokensPerSecond: 50 },
    });
    await t.start();
    await t.runUntil(4000);
    t.session.sendText('never mind');
    await t.runUntil(7000);
    expect(t.history().map((m) => [m.role, m.interrupted ?? false])).toEqual([
      ['user', false],
      ['assistant', true],
      ['user', false],
      ['assistant', false],
    ]);
    expect(t.history().at(-1)?.content).toBe('Alright.');
  });
});
