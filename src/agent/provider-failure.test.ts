import { describe, expect, it } from 'vitest';

import type { ChatRequest, LLM, LlmChunk } from '../providers/llm/contract.ts';
import { LlmError } from '../providers/llm/errors.ts';
import type { ScriptedLlm } from '../providers/llm/scripted.ts';
import type { TTS, TtsAudio, TtsStream } from '../providers/tts/contract.ts';
import type { ScriptedTts } from '../providers/tts/scripted.ts';
import { ApologyAudioCache } from './apology.ts';
import type { AgentSessionEvents } from './events.ts';
import { DEFAULT_PROVIDER_FAILURE } from './options.ts';
import { type TimelineOptions, timeline } from './timeline.testkit.ts';

/**
 * Provider failures on the virtual clock, through a whole AgentSession: the error goes out at once, the user
 * hears the apology in the session's voice within 2 s of the failure being known (after the words already said),
 * the history keeps what was heard, and the next turn works.
 */

const APOLOGY = DEFAULT_PROVIDER_FAILURE.apology;
const STORY =
  'Once upon a time there was a small fox. It lived in a quiet forest. Every morning it went to the river.';

/** An LLM that streams its scripted reply but breaks after `afterTokens` text tokens of the first request. */
function breaksMidStream(afterTokens: number) {
  return (inner: ScriptedLlm): LLM => {
    let requests = 0;
    return {
      name: 'breaks-mid-stream',
      async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
        const first = requests++ === 0;
        let tokens = 0;
        for await (const chunk of inner.chat(request)) {
          if (first && chunk.type === 'text' && tokens++ === afterTokens) throw new Error('stream dropped');
          yield chunk;
        }
      },
    };
  };
}

/** A TTS whose streams fail while `down()` says so, after `afterSegments` segments of audio. */
function failingTts(down: () => boolean, afterSegments = 0) {
  return (inner: ScriptedTts): TTS => ({
    name: 'failing',
    sampleRate: inner.sampleRate,
    stream(options): TtsStream {
      const stream = inner.stream(options);
      const failing = down();
      return {
        pushText: (text) => stream.pushText(text),
        flush: () => stream.flush(),
        end: () => stream.end(),
        async *[Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
          if (failing && afterSegments === 0) throw new Error('tts down');
          for await (const audio of stream) {
            if (failing && audio.segment >= afterSegments) throw new Error('tts down');
            yield audio;
          }
        },
      };
    },
  });
}

function failingSession(options: Omit<TimelineOptions, 'user'> & { user?: TimelineOptions['user'] }) {
  const t = timeline({
    user: [
      { startMs: 500, endMs: 1500, text: 'Tell me a story.' },
      { startMs: 20_000, endMs: 21_000, text: 'Try again.' },
    ],
    ...options,
    session: {
      ...options.session,
      providerFailure: { presynthesizeApology: true, ...options.session?.providerFailure },
    },
  });
  const failures: { source: string; message: string; atMs: number }[] = [];
  const apologies: AgentSessionEvents['apology'][] = [];
  t.session.on('error', ({ source, error }) =>
    failures.push({ source, message: error.message, atMs: t.clock.now() }),
  );
  t.session.on('apology', (event) => apologies.push(event));
  return { ...t, failures, apologies };
}

describe('a failing provider never leaves the user in silence', () => {
  it('an LLM that fails before its first token: error at once, the cached apology within 2 s, next turn fine', async () => {
    const t = failingSession({
      reply: (messages) => {
        if (messages.filter((m) => m.role === 'user').length === 1) throw new Error('HTTP 500');
        return 'Here is your story.';
      },
    });
    await t.start();
    await t.runUntil(30_000);
    expect(t.failures.map((f) => [f.source, f.message])).toEqual([['llm', 'HTTP 500']]);
    expect(t.apologies).toHaveLength(1);
    expect(t.apologies[0].via).toBe('cached');
    expect(t.apologies[0].atMs - t.failures[0].atMs).toBeLessThan(2000);
    expect(t.metrics.map((m) => [m.outcome, m.agentText])).toEqual([
      ['error', APOLOGY],
      ['completed', 'Here is your story.'],
    ]);
    expect(t.history().filter((m) => m.role !== 'system')).toEqual([
      { role: 'user', content: 'Tell me a story.' },
      { role: 'assistant', content: APOLOGY },
      { role: 'user', content: 'Try again.' },
      { role: 'assistant', content: 'Here is your story.' },
    ]);
    // The apology was heard: audio of the failed speech played after the failure.
    expect(t.output.playedMsOf(t.apologies[0].speechId)).toBeGreaterThan(1000);
    expect(t.session.state).toBe('listening');
  });

  it('an LLM that never answers is given up at the first-token budget, not attempts × timeout', async () => {
    const t = failingSession({
      reply: (messages) =>
        messages.filter((m) => m.role === 'user').length === 1
          ? { text: 'Too late.', ttftMs: 60_000 }
          : 'Back again.',
      session: { providerFailure: { firstTokenBudgetMs: 5_000 } },
    });
    await t.start();
    await t.runUntil(30_000);
    const requestAt = t.llm.requests[0].at;
    expect(t.failures).toHaveLength(1);
    expect(t.failures[0]).toMatchObject({
      source: 'llm',
      message: 'scripted: no first token within 5000 ms',
    });
    // The budget plus the backstop's grace for a provider that ignores the budget it is given.
    expect(t.failures[0].atMs - requestAt).toBeGreaterThanOrEqual(5_000);
    expect(t.failures[0].atMs - requestAt).toBeLessThanOrEqual(5_100);
    expect(t.llm.requests[0].aborted).toBe(true);
    expect(t.apologies[0].atMs - t.failures[0].atMs).toBeLessThan(2000);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['error', 'completed']);
    expect(t.metrics[1].agentText).toBe('Back again.');
  });

  it('a drop mid-stream keeps what was heard, marked cut short, then the apology', async () => {
    const t = failingSession({
      reply: () => STORY,
      wrapLlm: breaksMidStream(16),
      llm: { tokensPerSecond: 10 },
    });
    await t.start();
    await t.runUntil(30_000);
    expect(t.failures.map((f) => f.source)).toEqual(['llm']);
    const [failed] = t.metrics;
    expect(failed.outcome).toBe('error');
    // Two whole sentences were streamed and spoken; the third, cut off in the LLM, was never sent to the TTS.
    const said = 'Once upon a time there was a small fox. It lived in a quiet forest.';
    expect(failed.agentText).toBe(`${said} ${APOLOGY}`);
    expect(t.history().slice(0, 3)).toEqual([
      { role: 'user', content: 'Tell me a story.' },
      { role: 'assistant', content: said, interrupted: true },
      { role: 'assistant', content: APOLOGY },
    ]);
    // No silence: the apology starts within 2 s of the later of the failure and the end of the words said.
    const speechId = t.apologies[0].speechId;
    const replyAudio = t.output.played.filter(
      (f) => f.speechId === speechId && f.startMs < t.apologies[0].atMs,
    );
    const saidUntil = Math.max(...replyAudio.map((f) => f.startMs + f.durationMs));
    expect(t.apologies[0].atMs - Math.max(t.failures[0].atMs, saidUntil)).toBeLessThan(2000);
    expect(t.metrics[1].outcome).toBe('completed');
  });

  it('a TTS that fails mid-reply: the apology cached at start plays in its voice', async () => {
    let down = false;
    const t = failingSession({ reply: () => STORY, wrapTts: failingTts(() => down, 1) });
    await t.start();
    await t.runUntil(300); // the apology is synthesized while the TTS still works
    down = true;
    await t.runUntil(15_000);
    down = false;
    await t.runUntil(30_000);
    expect(t.failures.map((f) => [f.source, f.message])).toEqual([['tts', 'tts down']]);
    expect(t.apologies[0].via).toBe('cached');
    const said = 'Once upon a time there was a small fox.';
    expect(t.history().slice(0, 3)).toEqual([
      { role: 'user', content: 'Tell me a story.' },
      { role: 'assistant', content: said, interrupted: true },
      { role: 'assistant', content: APOLOGY },
    ]);
    // The LLM was stopped: nothing more could be said.
    expect(t.llm.requests[0].aborted).toBe(true);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['error', 'completed']);
  });

  it('a TTS that hangs (no audio, no error) is given up after ttsStallTimeoutMs; the cached apology plays', async () => {
    let down = false;
    const hangs = (inner: ScriptedTts): TTS => ({
      name: 'hangs',
      sampleRate: inner.sampleRate,
      stream(options): TtsStream {
        if (!down) return inner.stream(options);
        return {
          pushText: () => undefined,
          flush: () => undefined,
          end: () => undefined,
          async *[Symbol.asyncIterator](): AsyncIterator<TtsAudio> {
            // Never a frame, never an error: only the abort ends it.
            await new Promise((resolve) => options.signal.addEventListener('abort', resolve, { once: true }));
          },
        };
      },
    });
    const t = failingSession({ reply: () => 'Hello there.', wrapTts: hangs });
    await t.start();
    await t.runUntil(15_000); // the first reply is spoken, and the apology synthesized meanwhile
    down = true;
    await t.runUntil(35_000);
    expect(t.failures.map((f) => [f.source, f.message])).toEqual([['tts', 'hangs: no audio for 5000 ms']]);
    expect(t.metrics[1].ttsTtfbMs).toBeNull(); // no audio: no TTFB
    expect(t.apologies[0].via).toBe('cached');
    expect(t.apologies[0].atMs - t.failures[0].atMs).toBeLessThan(2000);
    expect(t.history()).toEqual([
      { role: 'user', content: 'Tell me a story.' },
      { role: 'assistant', content: 'Hello there.' },
      { role: 'user', content: 'Try again.' },
      { role: 'assistant', content: APOLOGY },
    ]);
  });

  it('no voice at all (the TTS never worked): a tone within 2 s, and the error goes out', async () => {
    const t = failingSession({ reply: () => 'Hello there.', wrapTts: failingTts(() => true) });
    await t.start();
    await t.runUntil(10_000);
    expect(t.failures.map((f) => f.source)).toEqual(['tts', 'tts']); // the start-up synthesis, then the reply
    expect(t.apologies).toHaveLength(1);
    expect(t.apologies[0].via).toBe('tone');
    const replyFailure = t.failures[1];
    expect(t.apologies[0].atMs - replyFailure.atMs).toBeLessThanOrEqual(
      DEFAULT_PROVIDER_FAILURE.apologyAudioTimeoutMs + 100,
    );
    expect(t.output.playedMsOf(t.apologies[0].speechId)).toBeGreaterThan(300);
    // The tone says no words: nothing of it enters the history.
    expect(t.history().filter((m) => m.role === 'assistant')).toEqual([]);
    expect(t.metrics[0].outcome).toBe('error');
  });

  it('the apology is interruptible: the user cutting in stops it, and the history keeps what was heard', async () => {
    const t = failingSession({
      user: [
        { startMs: 500, endMs: 1500, text: 'Tell me a story.' },
        // The apology is synthesized from the first reply on (ready ~0.8 s later here), then plays for ~3.5 s.
        { startMs: 4000, endMs: 4800, text: 'Never mind that.' },
      ],
      reply: (messages) => {
        if (messages.filter((m) => m.role === 'user').length === 1) throw new Error('HTTP 429');
        return 'All right.';
      },
    });
    await t.start();
    await t.runUntil(12_000);
    const kinds = t.log
      .filter((e) => e.event === 'interruption')
      .map((e) => (e.payload as { kind: string }).kind);
    expect(kinds).toEqual(['paused', 'confirmed']);
    const heard = t.history()[1];
    expect(heard.role).toBe('assistant');
    expect(heard.interrupted).toBe(true);
    expect(APOLOGY.startsWith(heard.content)).toBe(true);
    expect(heard.content.length).toBeLessThan(APOLOGY.length);
    expect(t.metrics.map((m) => m.outcome)).toEqual(['error', 'completed']);
    expect(t.history().at(-1)).toEqual({ role: 'assistant', content: 'All right.' });
  });

  it('a false interruption pauses the apology and resumes it where the user stopped hearing', async () => {
    const t = failingSession({
      user: [
        { startMs: 500, endMs: 1500, text: 'Tell me a story.' },
        { startMs: 3600, endMs: 3800 }, // a cough
      ],
      reply: () => {
        throw new Error('HTTP 503');
      },
    });
    await t.start();
    await t.runUntil(12_000);
    const kinds = t.log
      .filter((e) => e.event === 'interruption')
      .map((e) => (e.payload as { kind: string }).kind);
    expect(kinds).toEqual(['paused', 'resumed']);
    expect(t.history().at(-1)).toEqual({ role: 'assistant', content: APOLOGY });
  });

  it('a configuration error (a missing API key) is reported but not apologised for: a retry cannot fix it', async () => {
    const t = failingSession({
      reply: () => {
        throw new LlmError('missing-api-key', 'OPENAI_API_KEY is not set');
      },
    });
    await t.start();
    await t.runUntil(6_000);
    expect(t.failures.map((f) => [f.source, f.message])).toEqual([['llm', 'OPENAI_API_KEY is not set']]);
    expect(t.apologies).toEqual([]);
    expect(t.metrics[0]).toMatchObject({ outcome: 'error', agentText: '' });
  });

  it('a fixed text (a greeting) whose TTS fails reports the error but asks nothing to be repeated', async () => {
    let down = false;
    const t = failingSession({ user: [], reply: () => 'unused', wrapTts: failingTts(() => down) });
    await t.start();
    await t.runUntil(300);
    down = true;
    const said = t.session.say('Welcome to Repartee.');
    await t.runUntil(3_000);
    expect((await said).outcome).toBe('error');
    expect(t.failures.map((f) => f.source)).toEqual(['tts']);
    expect(t.apologies).toEqual([]);
  });

  it('sessions sharing an apology cache synthesize the apology once between them', async () => {
    const apologyCache = new ApologyAudioCache();
    const failing = () =>
      failingSession({
        reply: () => {
          throw new Error('HTTP 500');
        },
        session: { apologyCache },
      });
    const first = failing();
    await first.start();
    await first.runUntil(6_000);
    const second = failing();
    await second.start();
    await second.runUntil(6_000);
    expect(first.tts.segmentsSynthesized).toEqual([APOLOGY]);
    expect(second.tts.segmentsSynthesized).toEqual([]);
    expect(second.apologies.map((a) => a.via)).toEqual(['cached']);
    expect(second.history().at(-1)).toEqual({ role: 'assistant', content: APOLOGY });
    expect(apologyCache.size).toBe(1);
  });

  it('an apology of "" turns the spoken apology off; bad budgets are refused', async () => {
    const t = failingSession({
      reply: () => {
        throw new Error('HTTP 500');
      },
      session: { providerFailure: { apology: '' } },
    });
    await t.start();
    await t.runUntil(6_000);
    expect(t.failures.map((f) => f.source)).toEqual(['llm']);
    expect(t.apologies).toEqual([]);
    expect(t.tts.segmentsSynthesized).toEqual([]);
    expect(() =>
      timeline({ user: [], reply: () => '', session: { providerFailure: { firstTokenBudgetMs: 0 } } }),
    ).toThrow(/firstTokenBudgetMs must be a positive number/);
  });
});
