import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type TimelineOptions, timeline } from '../src/agent/timeline.testkit.ts';
import { loadConfig } from '../src/config/config.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { FixedTurnDetector } from '../src/providers/turn/fixed.ts';
import { defineTool } from '../src/tools/tool.ts';

/**
 * The user pauses long enough for the turn to commit, then goes on. A model VAD confirms the new speech only
 * ~100-200 ms after it begins (Silero: 64 ms of voiced windows, and a start placed ~100 ms late, reported as
 * look-back), so the commit lands in between. Here the detector is sure (0.95: the minimum wait, 400 ms), part 1
 * ends at 1500 ms and the commit fires at 1900 ms.
 */
const PART_1 = 'I would like to book a table';
const PART_2 = 'for four people at eight';
const SILERO_LIKE = { lookBackMs: 100, minSpeechMs: 64 };
const COMMIT_AT = 1900;

const userTexts = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').map((m) => m.content);

function resumed(part2StartMs: number, extra: Partial<TimelineOptions> = {}) {
  const replies: string[][] = [];
  const t = timeline({
    user: [
      { startMs: 500, endMs: 1500, text: PART_1 },
      { startMs: part2StartMs, endMs: part2StartMs + 1200, text: PART_2 },
    ],
    reply: (messages) => {
      replies.push(userTexts(messages));
      return 'Sure, I can book that for you. Which day would you like?';
    },
    vad: SILERO_LIKE,
    ...extra,
    session: { turnDetector: new FixedTurnDetector(0.95), preemptiveGeneration: false, ...extra.session },
  });
  const commits = () =>
    t.log
      .filter((e) => e.event === 'turnCommitted')
      .map((e) => e.payload as { turnId: number; transcript: string; atMs: number });
  const merged: unknown[] = [];
  t.session.on('turnMerged', (e) => merged.push(e));
  return { t, replies, commits, merged };
}

describe('a user who resumes right at the commit (virtual clock)', () => {
  it('speech that began before the commit, confirmed after it: one turn, one reply to the whole sentence', async () => {
    const { t, replies, commits, merged } = resumed(1860); // 40 ms before the commit; confirmed at 2024 ms
    await t.start();
    await t.runUntil(9000);
    expect(t.errors).toEqual([]);
    // One turn with the whole transcript, answered once, and a history without the half sentence.
    expect(userTexts(t.history())).toEqual([`${PART_1} ${PART_2}`]);
    expect(t.history().map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(replies.at(-1)).toEqual([`${PART_1} ${PART_2}`]);
    // The commit did fire (the split happened) and was taken back before a word of its reply was played; the
    // turn kept its id.
    expect(commits()[0]).toMatchObject({ turnId: 1, transcript: PART_1, atMs: COMMIT_AT });
    expect(commits().at(-1)).toMatchObject({ turnId: 1, transcript: `${PART_1} ${PART_2}` });
    expect(merged).toEqual([
      expect.objectContaining({ turnId: 1, transcript: PART_1, onsetMs: 1860, heardMs: 0 }),
    ]);
    expect(t.llm.requests[0].aborted).toBe(true); // cancelled cheaply: its LLM stopped
    expect(t.output.played.some((f) => f.speechId === 1)).toBe(false);
    expect(t.metrics).toHaveLength(1);
    expect(t.metrics[0]).toMatchObject({
      turnId: 1,
      outcome: 'completed',
      userTranscript: `${PART_1} ${PART_2}`,
      turnTaking: expect.objectContaining({ resumeMerges: 1 }),
    });
    expect(t.metrics[0].endOfUserSpeechAtMs).toBe(1860 + 1200);
    // The STT audio of both commits is the turn's (counted once): all of it up to the final commit.
    expect(t.metrics[0].sttAudioMs).toBeGreaterThanOrEqual(3060);
    expect(t.metrics[0].sttAudioMs).toBeLessThanOrEqual(3060 + 1000);
  });

  it('a prepared reply already playing at the commit: new speech within the grace takes it back', async () => {
    // Preemptive generation with a fast LLM and TTS: the reply is ready at the commit and plays at once; the
    // user's onset is 100 ms after the commit, and the VAD says so 164 ms later, with ~260 ms of the reply played.
    const { t, replies, merged } = resumed(COMMIT_AT + 100, {
      llm: { ttftMs: 30, tokensPerSecond: 500 },
      tts: { ttfbMs: 30 },
      session: { preemptiveGeneration: true },
    });
    await t.start();
    await t.runUntil(9000);
    expect(t.errors).toEqual([]);
    expect(t.output.played.some((f) => f.speechId === 1 && f.startMs < COMMIT_AT + 100)).toBe(true);
    expect(userTexts(t.history())).toEqual([`${PART_1} ${PART_2}`]);
    expect(t.history().map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(merged).toHaveLength(1);
    expect((merged[0] as { heardMs: number }).heardMs).toBeGreaterThan(0);
    expect((merged[0] as { heardMs: number }).heardMs).toBeLessThanOrEqual(400);
    // Its audio stopped at the merge, and nothing of it is in the history.
    expect(t.output.lastPlayedEndOf(1)).toBeLessThanOrEqual(COMMIT_AT + 100 + 164 + 20);
    expect(replies.at(-1)).toEqual([`${PART_1} ${PART_2}`]);
    expect(t.metrics.map((m) => m.userTranscript)).toEqual([`${PART_1} ${PART_2}`]);
  });

  it('a reply already heard is interrupted by the usual rules, not merged', async () => {
    // The user speaks again 1.5 s after the commit, a second into the reply: a new turn that cuts it off.
    const { t, commits, merged } = resumed(COMMIT_AT + 1500);
    await t.start();
    await t.runUntil(10_000);
    expect(merged).toEqual([]);
    expect(commits().map((c) => c.transcript)).toEqual([PART_1, PART_2]);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['interrupted', 'completed']);
    expect(t.metrics[0].turnTaking?.resumeMerges).toBe(0);
    const assistant = t.history().filter((m) => m.role === 'assistant');
    expect(assistant[0].interrupted).toBe(true);
  });

  it('a reply heard for longer than resumeMergeMaxHeardMs is not taken back, even within the grace', async () => {
    // The same playing reply as above, but a VAD that confirms speech 400 ms late: 500+ ms of it was heard.
    const { t, commits, merged } = resumed(COMMIT_AT + 100, {
      llm: { ttftMs: 30, tokensPerSecond: 500 },
      tts: { ttfbMs: 30 },
      vad: { lookBackMs: 100, minSpeechMs: 400 },
      session: { preemptiveGeneration: true },
    });
    await t.start();
    await t.runUntil(9000);
    expect(merged).toEqual([]);
    expect(commits().map((c) => c.transcript)).toEqual([PART_1, PART_2]);
    expect(t.metrics[0].outcome).toBe('interrupted');
  });

  it('speech that began past the grace is a new turn, even before the reply plays', async () => {
    const { t, commits, merged } = resumed(COMMIT_AT + 300, { llm: { ttftMs: 1500 } });
    await t.start();
    await t.runUntil(10_000);
    expect(merged).toEqual([]);
    expect(commits().map((c) => c.transcript)).toEqual([PART_1, PART_2]);
  });

  it('a merge followed by noise without words commits the first part again and answers it once', async () => {
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: PART_1 },
        { startMs: 1860, endMs: 2100 }, // a cough: the VAD hears speech, the STT no words
      ],
      reply: () => 'Sure. Which day?',
      vad: SILERO_LIKE,
      session: { turnDetector: new FixedTurnDetector(0.95) },
    });
    const merged: unknown[] = [];
    t.session.on('turnMerged', (e) => merged.push(e));
    await t.start();
    await t.runUntil(9000);
    expect(t.errors).toEqual([]);
    expect(userTexts(t.history())).toEqual([PART_1]);
    expect(t.history().map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(merged).toHaveLength(1);
    expect(t.metrics).toHaveLength(1);
    expect(t.metrics[0]).toMatchObject({ turnId: 1, outcome: 'completed', userTranscript: PART_1 });
    expect(t.metrics[0].turnTaking?.resumeMerges).toBe(1);
  });

  it('a reply that already ran a tool is never taken back (the tool may have acted)', async () => {
    const calls: string[] = [];
    const book = defineTool({
      name: 'book',
      description: 'Book a table',
      parameters: z.object({}),
      execute: async () => {
        calls.push('book');
        return { ok: true };
      },
    });
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: PART_1 },
        { startMs: COMMIT_AT + 150, endMs: COMMIT_AT + 1350, text: PART_2 },
      ],
      reply: (messages) =>
        messages.at(-1)?.role === 'tool'
          ? 'Booked.'
          : { toolCalls: [{ id: 'call_1', name: 'book', arguments: '{}' }] },
      llm: { ttftMs: 20 },
      vad: SILERO_LIKE,
      session: { turnDetector: new FixedTurnDetector(0.95), tools: [book] },
    });
    const merged: unknown[] = [];
    t.session.on('turnMerged', (e) => merged.push(e));
    await t.start();
    await t.runUntil(9000);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(merged).toEqual([]);
    expect(t.history().some((m) => m.role === 'tool')).toBe(true);
  });

  it('the configuration takes the merge options, typed, and refuses bad ones', async () => {
    const file = '/nonexistent/repartee.config.json';
    const endpointing = { resumeMergeGraceMs: 0, resumeMergeMaxHeardMs: 250 };
    const config = await loadConfig({ file, env: {}, overrides: { endpointing } });
    expect(config.endpointing).toMatchObject(endpointing);
    await expect(
      loadConfig({ file, env: {}, overrides: { endpointing: { resumeMergeGraceMs: -1 } } }),
    ).rejects.toThrow(/resumeMergeGraceMs/);
  });
});
