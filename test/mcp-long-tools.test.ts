import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AgentSessionEvents } from '../src/agent/events.ts';
import { timeline } from '../src/agent/timeline.testkit.ts';
import type { VirtualClock } from '../src/metrics/clock.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { defineTool } from '../src/tools/tool.ts';

const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
const afterTool = (messages: readonly ChatMessage[]) => messages.at(-1)?.role === 'tool';

/** A tool that works `steps` × 500 ms on the session clock, reporting progress, and notices cancellation. */
function slowTool(getClock: () => VirtualClock, steps = 10) {
  const runs: { startedAt: number; endedAt?: number; outcome?: 'finished' | 'aborted' }[] = [];
  const tool = defineTool({
    name: 'analyze',
    description: 'Analyze the documents',
    parameters: z.object({}),
    execute: async (_args, { signal, onProgress }) => {
      const clock = getClock();
      const run: (typeof runs)[number] = { startedAt: clock.now() };
      runs.push(run);
      try {
        for (let i = 1; i <= steps; i++) {
          await clock.sleep(500, signal);
          onProgress?.({ progress: i, total: steps });
        }
      } catch (error) {
        run.outcome = 'aborted';
        run.endedAt = clock.now();
        throw error;
      }
      run.outcome = 'finished';
      run.endedAt = clock.now();
      return 'Three documents mention the budget.';
    },
  });
  return { tool, runs };
}

const callAnalyze = { toolCalls: [{ id: 'call_1', name: 'analyze', arguments: '{}' }] };

describe('long tools in a session', () => {
  it('says one status line past the threshold, stays "thinking" while waiting, and keeps listening', async () => {
    let clock!: VirtualClock;
    const { tool, runs } = slowTool(() => clock);
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Analyze my documents.' },
        { startMs: 5000, endMs: 5300, text: 'okay' },
      ],
      reply: (messages) => (afterTool(messages) ? `Done: ${messages.at(-1)?.content}` : callAnalyze),
      session: { tools: [tool], longTools: { statusAfterMs: 1000 }, toolTimeoutMs: 30_000 },
    });
    clock = t.clock;
    const progress: AgentSessionEvents['toolProgress'][] = [];
    t.session.on('toolProgress', (p) => progress.push(p));
    await t.start();
    await t.runUntil(15_000);
    expect(t.errors).toEqual([]);
    const [run] = runs;
    expect(run.outcome).toBe('finished');
    expect(run.endedAt! - run.startedAt).toBe(5000);
    // The status line, once, through the TTS, about a second into the tool; then the answer.
    expect(t.tts.segmentsSynthesized).toEqual([
      'Still working on it.',
      'Done: Three documents mention the budget.',
    ]);
    const statusAudio = t.output.played.filter((f) => f.startMs < run.endedAt!);
    expect(statusAudio[0].startMs).toBeGreaterThanOrEqual(run.startedAt + 1000);
    expect(statusAudio[0].startMs).toBeLessThan(run.startedAt + 1200);
    const lastStatusFrame = statusAudio.at(-1)!;
    const statusEnd = lastStatusFrame.startMs + lastStatusFrame.durationMs;
    // Thinking before the status line, speaking it, thinking again while the tool still runs.
    expect(t.stateAt(run.startedAt + 500)).toBe('thinking');
    expect(t.stateAt(statusAudio[0].startMs + 100)).toBe('speaking');
    expect(t.stateAt(statusEnd + 100)).toBe('thinking');
    // The user's "okay" during the tool was heard (VAD: userSpeaking; STT: a backchannel) and cancelled nothing.
    expect(t.stateAt(5100)).toBe('userSpeaking');
    const kinds = t.log
      .filter((e) => e.event === 'interruption')
      .map((e) => (e.payload as { kind: string }).kind);
    expect(kinds).toEqual(['paused', 'resumed']);
    expect(progress.map((p) => p.progress.progress)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The history holds the call and its result, not the status line.
    expect(t.history().slice(1)).toEqual([
      { role: 'assistant', content: '', toolCalls: callAnalyze.toolCalls },
      { role: 'tool', toolCallId: 'call_1', content: 'Three documents mention the budget.' },
      { role: 'assistant', content: 'Done: Three documents mention the budget.' },
    ]);
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', toolMs: 5000 });
    expect(t.session.state).toBe('listening');
  });

  it('an interruption cancels the running tool and the history says so', async () => {
    let clock!: VirtualClock;
    const { tool, runs } = slowTool(() => clock);
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Analyze my documents.' },
        { startMs: 4000, endMs: 4600, text: 'Actually, what time is it?' },
      ],
      reply: (messages) =>
        lastUser(messages).startsWith('Actually')
          ? 'It is noon.'
          : afterTool(messages)
            ? 'Done.'
            : callAnalyze,
      session: { tools: [tool], longTools: { statusAfterMs: 1000 } },
    });
    clock = t.clock;
    await t.start();
    await t.runUntil(10_000);
    expect(runs).toHaveLength(1);
    expect(runs[0].outcome).toBe('aborted');
    expect(runs[0].endedAt).toBeLessThan(4600);
    expect(t.history().slice(1)).toEqual([
      { role: 'assistant', content: '', toolCalls: callAnalyze.toolCalls },
      { role: 'tool', toolCallId: 'call_1', content: 'Cancelled: analyze was stopped before it finished' },
      { role: 'user', content: 'Actually, what time is it?' },
      { role: 'assistant', content: 'It is noon.' },
    ]);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['interrupted', 'completed']);
    expect(t.tts.segmentsSynthesized).not.toContain('Done.');
  });

  it('a spoken "cancel" cancels the tool even with interruptions off; other words do not', async () => {
    let clock!: VirtualClock;
    const { tool, runs } = slowTool(() => clock, 20);
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Analyze my documents.' },
        { startMs: 3000, endMs: 3600, text: 'What is that noise?' },
        { startMs: 5000, endMs: 5400, text: 'Cancel!' },
      ],
      reply: (messages) =>
        lastUser(messages) === 'Cancel!' ? 'Okay, I stopped.' : afterTool(messages) ? 'Done.' : callAnalyze,
      session: { tools: [tool], interruption: { enabled: false }, longTools: { statusAfterMs: 60_000 } },
    });
    clock = t.clock;
    await t.start();
    await t.runUntil(10_000);
    expect(runs[0].outcome).toBe('aborted');
    expect(runs[0].endedAt).toBeGreaterThan(5000);
    expect(runs[0].endedAt).toBeLessThanOrEqual(5400);
    const history = t.history();
    expect(history.find((m) => m.role === 'tool')?.content).toMatch(/^Cancelled/);
    expect(history.at(-2)).toEqual({ role: 'user', content: 'Cancel!' });
    expect(history.at(-1)).toEqual({ role: 'assistant', content: 'Okay, I stopped.' });
    // With interruptions off the agent held the floor through "What is that noise?".
    expect(history.some((m) => m.content === 'What is that noise?')).toBe(false);
  });

  it('the hard timeout ends a tool that ignores its signal, with a spoken apology', async () => {
    const stuck = defineTool({
      name: 'stuck',
      description: 'Never returns',
      parameters: z.object({}),
      execute: () => new Promise<never>(() => {}),
    });
    const t = timeline({
      user: [{ startMs: 500, endMs: 1500, text: 'Do the stuck thing.' }],
      reply: () => ({ toolCalls: [{ id: 'c1', name: 'stuck', arguments: '{}' }] }),
      session: { tools: [stuck], toolTimeoutMs: 3000, longTools: { statusAfterMs: 1000 } },
    });
    await t.start();
    await t.runUntil(12_000);
    expect(t.errors).toEqual([]);
    expect(t.llm.requests).toHaveLength(1);
    expect(t.tts.segmentsSynthesized).toEqual([
      'Still working on it.',
      'Sorry, that is taking too long, so I stopped it.',
    ]);
    expect(t.history().slice(1)).toEqual([
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'stuck', arguments: '{}' }] },
      {
        role: 'tool',
        toolCallId: 'c1',
        content: 'Error: stuck did not finish within 3000 ms and was cancelled',
      },
      { role: 'assistant', content: 'Sorry, that is taking too long, so I stopped it.' },
    ]);
    expect(t.metrics[0]).toMatchObject({ outcome: 'completed', toolMs: 3000 });
    expect(t.session.state).toBe('listening');
  });

  it('a preemptive reply never runs a tool before the turn is confirmed', async () => {
    const executed: string[] = [];
    const book = defineTool({
      name: 'book',
      description: 'Book a table',
      parameters: z.object({ request: z.string() }),
      execute: async ({ request }) => {
        executed.push(request);
        return 'booked';
      },
    });
    const t = timeline({
      user: [
        { startMs: 500, endMs: 1500, text: 'Book a table.' },
        { startMs: 1900, endMs: 2700, text: 'For two people.' },
      ],
      reply: (messages) =>
        afterTool(messages)
          ? 'Booked.'
          : {
              toolCalls: [
                { id: 'b1', name: 'book', arguments: JSON.stringify({ request: lastUser(messages) }) },
              ],
            },
      llm: { ttftMs: 50 },
      session: {
        tools: [book],
        preemptiveGeneration: true,
        endpointing: { minDelayMs: 600, maxDelayMs: 600 },
      },
    });
    await t.start();
    await t.runUntil(8000);
    // The first preemptive reply asked for the tool at ~1800 and was discarded at 1900 without running it.
    expect(t.llm.requests[0].aborted).toBe(true);
    expect(executed).toEqual(['Book a table. For two people.']);
    expect(t.metrics).toHaveLength(1);
  });
});
