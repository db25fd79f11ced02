import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ResponseCacheBinding } from '../src/agent/reply-cache.ts';
import { timeline, type Utterance } from '../src/agent/timeline.testkit.ts';
import { CachedTts } from '../src/cache/cached-tts.ts';
import { ResponseCache } from '../src/cache/response-cache.ts';
import { TtsAudioStore } from '../src/cache/tts-store.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { defineTool } from '../src/tools/tool.ts';

const HOURS = 'We are open from nine in the morning to five in the evening, Monday to Friday.';
const STORY =
  'Once upon a time there was a small fox who lived in a quiet forest. Every morning the fox ran to the river to drink. ' +
  'One day the river was gone and the fox had to find out why. It walked for many days over hills and through fields. ' +
  'At last it found a beaver dam and asked the beavers to share. The beavers agreed and the river came back. The end.';
const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

function caches(instructions = 'You are the front desk of Acme.') {
  const store = new TtsAudioStore({ memoryBytes: 64 * 1024 * 1024 });
  const responses = new ResponseCache();
  const binding = (text = instructions): ResponseCacheBinding => ({
    cache: responses,
    scope: ResponseCache.scopeKey({ instructions: text, llm: 'scripted' }),
  });
  return { store, responses, binding };
}

/** One conversation on the virtual clock with both caches in front of its scripted LLM and TTS. */
function conversation(
  shared: ReturnType<typeof caches>,
  user: Utterance[],
  reply: (messages: readonly ChatMessage[]) => string,
  options: { instructions?: string } = {},
) {
  return timeline({
    user,
    reply,
    keepAudio: true,
    llm: { tokensPerSecond: 50 },
    wrapTts: (tts) => new CachedTts(tts, { store: shared.store, identity: 'test' }),
    session: {
      preemptiveGeneration: false,
      instructions: options.instructions,
      responseCache: shared.binding(options.instructions),
    },
  });
}

const samplesOf = (t: ReturnType<typeof conversation>, speechId: number) =>
  t.output.played.filter((f) => f.speechId === speechId).map((f) => Array.from(f.samples ?? []));

describe('response cache and TTS audio cache in a session', () => {
  it('a hit plays identical audio to the miss that learned it, with no LLM call and no synthesis', async () => {
    const shared = caches();
    const ask = [{ startMs: 500, endMs: 2000, text: 'What are your opening hours?' }];
    const first = conversation(shared, ask, () => HOURS);
    await first.start();
    await first.runUntil(12_000);
    const second = conversation(shared, ask, () => 'A different answer the cache must not let through.');
    await second.start();
    await second.runUntil(12_000);
    expect(first.errors).toEqual([]);
    expect(second.errors).toEqual([]);
    expect(first.metrics[0]).toMatchObject({ agentText: HOURS, outcome: 'completed' });
    expect(first.metrics[0].cache).toMatchObject({ response: 'miss', ttsHits: 0 });
    expect(first.metrics[0].cache.ttsMisses).toBeGreaterThan(0);
    expect(second.metrics[0]).toMatchObject({ agentText: HOURS, outcome: 'completed', llmTtftMs: null });
    expect(second.metrics[0].cache).toMatchObject({ response: 'hit', ttsMisses: 0 });
    expect(second.metrics[0].cache.ttsHits).toBe(first.metrics[0].cache.ttsMisses);
    expect(second.metrics[0].cache.savedMs).toBeGreaterThan(0);
    expect(second.llm.requests).toHaveLength(0);
    expect(second.tts.segmentsSynthesized).toEqual([]);
    const heard = samplesOf(second, 1);
    expect(heard.length).toBeGreaterThan(10);
    expect(heard).toEqual(samplesOf(first, 1));
    // The hit answers sooner: no LLM first token, no TTS first byte.
    expect(second.metrics[0].voiceToVoiceMs).toBeLessThan(first.metrics[0].voiceToVoiceMs as number);
    expect(second.history()).toEqual([
      { role: 'user', content: 'What are your opening hours?' },
      { role: 'assistant', content: HOURS },
    ]);
  });

  it('with preemptive generation on, a question the cache knows starts no LLM call at all', async () => {
    const shared = caches();
    const ask = [{ startMs: 500, endMs: 2000, text: 'What are your opening hours?' }];
    const run = async () => {
      const t = timeline({
        user: ask,
        reply: () => HOURS,
        llm: { tokensPerSecond: 50 },
        wrapTts: (tts) => new CachedTts(tts, { store: shared.store }),
        session: { preemptiveGeneration: true, responseCache: shared.binding() },
      });
      await t.start();
      await t.runUntil(12_000);
      return t;
    };
    const first = await run();
    expect(first.metrics[0]).toMatchObject({ preemptive: 'reused', agentText: HOURS });
    expect(first.metrics[0].cache.response).toBe('miss');
    const second = await run();
    expect(second.metrics[0]).toMatchObject({ preemptive: 'none', agentText: HOURS });
    expect(second.metrics[0].cache.response).toBe('hit');
    expect(second.llm.requests).toHaveLength(0);
  });

  it('an interrupted cached reply records only what was heard', async () => {
    const shared = caches();
    const ask: Utterance = { startMs: 500, endMs: 2500, text: 'Tell me a story about a fox.' };
    const learn = conversation(shared, [ask], () => STORY);
    await learn.start();
    await learn.runUntil(40_000);
    expect(learn.metrics[0]).toMatchObject({ agentText: STORY, outcome: 'completed' });
    const t = conversation(shared, [ask, { startMs: 5000, endMs: 5400, text: 'Stop!' }], (m) =>
      lastUser(m) === 'Stop!' ? 'Okay, I stopped.' : 'not from the cache',
    );
    await t.start();
    await t.runUntil(9000);
    expect(t.errors).toEqual([]);
    const [story, stop] = t.metrics;
    expect(story.cache.response).toBe('hit');
    expect(story.outcome).toBe('interrupted');
    expect(t.output.played.some((f) => f.speechId === 1 && f.startMs >= 5020)).toBe(false);
    const assistant = t.history().filter((m) => m.role === 'assistant');
    expect(assistant[0].interrupted).toBe(true);
    expect(STORY.startsWith(assistant[0].content)).toBe(true);
    expect(assistant[0].content.length).toBeLessThan(STORY.length / 2);
    expect(assistant[0].content.length).toBeGreaterThan(10);
    expect(story.agentText).toBe(assistant[0].content);
    // A one-word turn is never a cache question.
    expect(stop).toMatchObject({ agentText: 'Okay, I stopped.' });
    expect(stop.cache.response).toBe('skipped');
  });

  it('a turn that mentions earlier context is not served from the cache, even when its words are stored', async () => {
    const shared = caches();
    const scope = shared.binding().scope;
    // Planted as if learned: the lookup must refuse it because of "it", not because it is missing.
    shared.responses.store(scope, 'How much does it cost?', 'The cached price.', 300);
    const t = conversation(
      shared,
      [
        { startMs: 500, endMs: 2000, text: 'Tell me about the premium plan.' },
        { startMs: 9000, endMs: 10_000, text: 'How much does it cost?' },
      ],
      (m) =>
        lastUser(m).includes('premium') ? 'The premium plan has everything.' : 'It costs twenty dollars.',
    );
    await t.start();
    await t.runUntil(18_000);
    expect(t.errors).toEqual([]);
    const [, price] = t.metrics;
    expect(price).toMatchObject({ agentText: 'It costs twenty dollars.' });
    expect(price.cache.response).toBe('skipped');
    expect(t.llm.requests).toHaveLength(2);
    // And the second turn's reply (made with the first turn in its prompt) was not learned.
    expect(await shared.responses.lookup(scope, 'How much does it cost?')).toMatchObject({
      text: 'The cached price.',
    });
    expect(await shared.responses.lookup(scope, 'Tell me about the premium plan.')).toMatchObject({
      text: 'The premium plan has everything.',
    });
    expect(shared.responses.size).toBe(2);
  });

  it('a changed instruction invalidates: the same question under new instructions asks the LLM again', async () => {
    const shared = caches();
    const ask = [{ startMs: 500, endMs: 2000, text: 'What are your opening hours?' }];
    const a = conversation(shared, ask, () => HOURS, { instructions: 'You are the front desk of Acme.' });
    await a.start();
    await a.runUntil(12_000);
    const b = conversation(shared, ask, () => 'We open at ten now.', {
      instructions: 'You are the front desk of Acme. We moved.',
    });
    await b.start();
    await b.runUntil(12_000);
    expect(b.metrics[0]).toMatchObject({ agentText: 'We open at ten now.' });
    expect(b.metrics[0].cache.response).toBe('miss');
    expect(b.llm.requests).toHaveLength(1);
    // The old instructions still find their own answer; the new ones find theirs.
    const c = conversation(shared, ask, () => 'unused', { instructions: 'You are the front desk of Acme.' });
    await c.start();
    await c.runUntil(12_000);
    expect(c.metrics[0]).toMatchObject({ agentText: HOURS });
    expect(c.llm.requests).toHaveLength(0);
  });

  it('a reply that called a tool is never learned', async () => {
    const shared = caches();
    const t = timeline({
      user: [{ startMs: 500, endMs: 2000, text: 'What is the weather in Paris?' }],
      reply: (messages) =>
        messages.some((m) => m.role === 'tool')
          ? 'It is sunny in Paris.'
          : { toolCalls: [{ id: 'c1', name: 'weather', arguments: JSON.stringify({ city: 'Paris' }) }] },
      wrapTts: (tts) => new CachedTts(tts, { store: shared.store }),
      session: {
        preemptiveGeneration: false,
        responseCache: shared.binding(),
        tools: [
          defineTool({
            name: 'weather',
            description: 'The weather in a city',
            parameters: z.object({ city: z.string() }),
            execute: async () => 'sunny',
          }),
        ],
      },
    });
    await t.start();
    await t.runUntil(12_000);
    expect(t.errors).toEqual([]);
    expect(t.llm.requests).toHaveLength(2);
    expect(t.metrics[0]).toMatchObject({ agentText: 'It is sunny in Paris.' });
    expect(t.metrics[0].cache.response).toBe('miss');
    expect(shared.responses.size).toBe(0);
  });
});
