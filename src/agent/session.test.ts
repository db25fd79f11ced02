import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AudioFormatError } from '../audio/frame.ts';
import { defineTool } from '../tools/tool.ts';
import { SessionClosedError } from './errors.ts';
import { lastUser, replySegments, STORY } from './session.testkit.ts';
import { timeline } from './timeline.testkit.ts';

describe('AgentSession timeline', () => {
  it('a plain turn: listens, commits after the endpointing delay, answers, and records every metric', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'What time is it?' }],
      reply: () => 'It is noon.',
      session: { preemptiveGeneration: false },
    });
    await t.start();
    await t.runUntil(4000);
    expect(t.errors).toEqual([]);
    expect(t.states.map((s) => s.state)).toEqual([
      'listening',
      'userSpeaking',
      'listening',
      'thinking',
      'speaking',
      'listening',
    ]);
    const [m] = t.metrics;
    expect(m).toMatchObject({
      turnId: 1,
      outcome: 'completed',
      preemptive: 'none',
      userTranscript: 'What time is it?',
      agentText: 'It is noon.',
    });
    expect(m.endOfUserSpeechAtMs).toBe(1500);
    expect(m.eouDelayMs).toBe(400); // min endpointing delay: "?" ends a turn
    expect(m.transcriptionDelayMs).toBeCloseTo(250, -1); // VAD silence 200 ms + STT final 50 ms
    expect(m.llmTtftMs).toBe(300);
    expect(m.ttsTtfbMs).toBe(100);
    expect(m.voiceToVoiceMs).toBeGreaterThanOrEqual(400 + 300 + 100);
    expect(m.pipelineOverheadMs).toBeGreaterThanOrEqual(0);
    expect(m.pipelineOverheadMs).toBeLessThan(25);
    expect(m.sttAudioMs).toBeGreaterThan(1500);
    expect(m.ttsCharacters).toBe('It is noon.'.length);
    expect(t.history().slice(-2)).toEqual([
      { role: 'user', content: 'What time is it?' },
      { role: 'assistant', content: 'It is noon.' },
    ]);
  });

  it('multi-sentence reply: TTS speaks the first sentence while the LLM still writes', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Tell me a story.' }],
      reply: () => STORY,
      llm: { tokensPerSecond: 10 },
    });
    await t.start();
    await t.runUntil(6000);
    const request = t.llm.requests[0];
    const tokens = STORY.split(/\s+/).length;
    const llmEndsAt = request.at + 300 + ((tokens - 1) * 1000) / 10;
    const firstAudio = t.output.played[0].startMs;
    expect(firstAudio).toBeLessThan(llmEndsAt - 2000);
    expect(replySegments(t.tts.segmentsSynthesized)[0]).toBe(
      'Once upon a time there was a small fox who lived in a quiet forest.',
    );
    expect(t.stateAt(firstAudio + 10)).toBe('speaking');
  });

  it('a pause inside the sentence does not end the turn', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1800, text: 'I would like to order a' },
        { startMs: 2600, endMs: 3600, text: 'large pizza please.' },
      ],
      reply: (messages) => `You said: ${lastUser(messages)}`,
      session: { preemptiveGeneration: false },
    });
    await t.start();
    await t.runUntil(10_000);
    const commits = t.log.filter((e) => e.event === 'turnCommitted');
    expect(commits).toHaveLength(1);
    expect((commits[0].payload as { transcript: string }).transcript).toBe(
      'I would like to order a large pizza please.',
    );
    expect(t.llm.requests).toHaveLength(1);
    expect(t.metrics[0].agentText).toBe('You said: I would like to order a large pizza please.');
  });

  it('preemptive generation is reused when the transcript did not change, and starts before the end of turn', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'What time is it?' }],
      reply: () => 'It is noon.',
      session: { preemptiveGeneration: true },
    });
    await t.start();
    await t.runUntil(4000);
    expect(t.llm.requests).toHaveLength(1);
    const [m] = t.metrics;
    expect(m.preemptive).toBe('reused');
    expect(t.llm.requests[0].at).toBeLessThan(1500 + m.eouDelayMs!);
    // The LLM worked during the endpointing wait: the reply comes sooner than the sequential sum.
    expect(m.voiceToVoiceMs!).toBeLessThan(m.eouDelayMs! + m.llmTtftMs! + m.ttsTtfbMs!);
  });

  it('preemptive generation is discarded when the user goes on speaking', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Book a table.' },
        { startMs: 1800, endMs: 2600, text: 'For two people.' },
      ],
      reply: (messages) => `Booked: ${lastUser(messages)}`,
      session: { preemptiveGeneration: true, endpointing: { minDelayMs: 500 } },
    });
    await t.start();
    await t.runUntil(6000);
    expect(t.llm.requests.length).toBe(2);
    expect(t.llm.requests[0].aborted).toBe(true);
    expect(lastUser(t.llm.requests[1].messages)).toBe('Book a table. For two people.');
    expect(t.metrics).toHaveLength(1);
    // The reply prepared for "Book a table." was thrown away; the one for the whole turn was reused.
    expect(t.metrics[0]).toMatchObject({
      preemptive: 'reused',
      agentText: 'Booked: Book a table. For two people.',
    });
    expect(t.output.played.every((f) => f.speechId !== 1)).toBe(true);
  });

  it('a reply that is only a tool call, with no text, does not leave the session stuck', async () => {
    let volume = 5;
    const setVolume = defineTool({
      name: 'set_volume',
      description: 'Set the speaker volume',
      parameters: z.object({ level: z.number().int().min(0).max(10) }),
      execute: async ({ level }) => {
        volume = level;
        return { ok: true };
      },
    });
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Volume to eight.' }],
      reply: (messages) =>
        messages.at(-1)?.role === 'tool'
          ? { text: '' }
          : { toolCalls: [{ id: 'call_1', name: 'set_volume', arguments: '{"level":8}' }] },
      session: { tools: [setVolume] },
    });
    await t.start();
    await t.runUntil(5000);
    expect(volume).toBe(8);
    expect(t.session.state).toBe('listening');
    expect(t.states.at(-1)?.state).toBe('listening');
    expect(t.metrics[0]).toMatchObject({ outcome: 'noReply', voiceToVoiceMs: null });
    expect(t.metrics[0].toolMs).not.toBeNull();
    expect(t.history().slice(-2)).toEqual([
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'call_1', name: 'set_volume', arguments: '{"level":8}' }],
      },
      { role: 'tool', toolCallId: 'call_1', content: '{"ok":true}' },
    ]);
  });

  it('invalid tool arguments become an error result the LLM reads, and the reply is spoken', async () => {
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Volume to eleven.' }],
      reply: (messages) =>
        messages.at(-1)?.role === 'tool'
          ? `Sorry: ${messages.at(-1)?.content.slice(0, 40)}`
          : { toolCalls: [{ id: 'c1', name: 'set_volume', arguments: '{"level":"loud"' }] },
      session: {
        tools: [
          defineTool({
            name: 'set_volume',
            description: 'Set the speaker volume',
            parameters: z.object({ level: z.number() }),
            execute: async () => 'done',
          }),
        ],
      },
    });
    await t.start();
    await t.runUntil(10_000);
    expect(t.history().find((m) => m.role === 'tool')?.content).toMatch(/not valid JSON/);
    expect(t.metrics[0].outcome).toBe('completed');
  });
});

describe('AgentSession bad input', () => {
  it('rejects malformed frames with typed errors, resamples 48 kHz, and keeps working', async () => {
    const t = timeline({
      user: [{ startMs: 1000, endMs: 2000, text: 'Hello there.' }],
      reply: () => 'Hi.',
    });
    await t.start();
    const bad = [
      { samples: new Int16Array(320), sampleRate: 12345, timestampMs: 0 },
      { samples: new Int16Array(320), sampleRate: 16000, timestampMs: Number.NaN },
      { samples: new Int16Array(16000 * 5), sampleRate: 16000, timestampMs: 0 },
      { samples: new Float32Array(320) as unknown as Int16Array, sampleRate: 16000, timestampMs: 0 },
      null as never,
    ];
    for (const frame of bad) expect(() => t.session.pushAudio(frame)).toThrow(AudioFormatError);
    t.session.pushAudio({ samples: new Int16Array(960), sampleRate: 48000, timestampMs: 0 });
    await t.clock.advance(0);
    await t.runUntil(5000);
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', agentText: 'Hi.' });
    expect(t.errors).toEqual([]);
    await t.session.close();
    expect(() =>
      t.session.pushAudio({ samples: new Int16Array(320), sampleRate: 16000, timestampMs: 0 }),
    ).toThrow(SessionClosedError);
    expect(t.session.state).toBe('idle');
    expect(() => t.session.sendText('')).toThrow(SessionClosedError);
  });

  it('an LLM failure is reported and the session returns to listening', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'First question.' },
        { startMs: 4000, endMs: 5000, text: 'Second question.' },
      ],
      reply: (messages) => {
        if (lastUser(messages) === 'First question.') throw new Error('model crashed');
        return 'Second answer.';
      },
    });
    await t.start();
    await t.runUntil(8000);
    expect(t.errors.map((e) => [e.source, e.error.message])).toEqual([['llm', 'model crashed']]);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['error', 'completed']);
    expect(t.session.state).toBe('listening');
  });

  it('a throwing event listener does not break the session', async () => {
    const t = timeline({ user: [{ startMs: 500, endMs: 1500, text: 'Hi there.' }], reply: () => 'Hello.' });
    t.session.on('state', () => {
      throw new Error('ui bug');
    });
    await t.start();
    await t.runUntil(4000);
    expect(t.metrics[0].outcome).toBe('completed');
    expect(t.errors.some((e) => e.source === 'listener')).toBe(true);
  });
});
