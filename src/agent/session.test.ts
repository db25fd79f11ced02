import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AudioFormatError } from '../audio/frame.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import { defineTool } from '../tools/tool.ts';
import { SessionClosedError } from './errors.ts';
import { DEFAULT_PROVIDER_FAILURE } from './options.ts';
import { timeline } from './timeline.testkit.ts';

/** What the TTS synthesized for replies (a session may also synthesize its apology at start, to keep it ready). */
const replySegments = (segments: readonly string[]) =>
  segments.filter((text) => text !== DEFAULT_PROVIDER_FAILURE.apology);

const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
const STORY =
  'Once upon a time there was a small fox who lived in a quiet forest. Every morning the fox ran to the river to drink. ' +
  'One day the river was gone and the fox had to find out why. It walked for many days over hills and through fields. ' +
  'At last it found a beaver dam and asked the beavers to share. The beavers agreed and the river came back. The end.';

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
