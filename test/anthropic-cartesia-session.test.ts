import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnthropicScript, FakeAnthropicServer } from '../src/providers/llm/testing/anthropic-server.ts';
import {
  type CartesiaConnectionPlan,
  FakeCartesiaServer,
} from '../src/providers/tts/testing/cartesia-server.ts';
import { answerClip, CLIP_TEXT, configuredSession, startTyped, wordsOf } from './more-providers.harness.ts';

/**
 * Issue 22: `anthropic:<model>` and `cartesia` in sessions built from their spec strings, keys and endpoints in
 * the environment, against local servers speaking the providers' wire protocols: a LibriVox clip is heard
 * (local VAD + STT), answered by Claude and spoken by Cartesia with word timings; each fault is survived.
 */

const ANTHROPIC_KEY = 'sk-ant-session-0123456789';
const CARTESIA_KEY = 'cartesia-session-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const userText = (request: { messages: { role: string; content: unknown }[] }) => {
  const m = request.messages.filter((x) => x.role === 'user').at(-1);
  const content = m?.content;
  if (typeof content === 'string') return content;
  return ((content ?? []) as { type: string; text?: string }[]).map((b) => b.text ?? '').join(' ');
};

async function fakes(
  script: (text: string, index: number) => AnthropicScript,
  cartesia: CartesiaConnectionPlan[] = [],
) {
  const anthropic = await FakeAnthropicServer.start({
    apiKey: ANTHROPIC_KEY,
    script: (r, i) => script(userText(r), i),
  });
  const tts = await new FakeCartesiaServer({
    apiKey: CARTESIA_KEY,
    msPerCharacter: 4,
    connections: cartesia,
  }).start();
  cleanups.push(
    () => anthropic.close(),
    () => tts.close(),
  );
  return { anthropic, tts };
}

async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function session(anthropicUrl: string, cartesiaUrl: string, overrides: Record<string, unknown> = {}) {
  const s = await configuredSession(
    { llm: 'anthropic:claude-test', tts: 'cartesia', stt: 'local', vad: 'silero', ...overrides },
    {
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: anthropicUrl,
      CARTESIA_API_KEY: CARTESIA_KEY,
      CARTESIA_BASE_URL: cartesiaUrl,
    },
  );
  cleanups.push(() => s.close());
  return s;
}

describe('anthropic + cartesia sessions over their fake servers', () => {
  it('answers a LibriVox clip end to end: heard, answered by Claude, spoken by Cartesia with word timings', async () => {
    const { anthropic, tts } = await fakes((text) => ({
      text: `You said ${text.toLowerCase()}. Anything else?`,
    }));
    const s = await session(anthropic.baseURL, tts.baseUrl);
    const result = await answerClip(s);
    const turn = result.metrics.find(
      (m) => m.outcome === 'completed' && wordsOf(m.userTranscript).length >= 3,
    );
    expect(
      turn,
      JSON.stringify({
        m: result.metrics.map((m) => [m.outcome, m.userTranscript]),
        e: s.errors,
        h: result.history,
      }),
    ).toBeDefined();
    // pocketsphinx hears most of the sentence; Claude got it, with the cached instructions block.
    const heard = wordsOf(turn?.userTranscript ?? '');
    expect(heard.filter((w) => wordsOf(CLIP_TEXT).includes(w)).length).toBeGreaterThanOrEqual(3);
    expect(anthropic.requests.length).toBeGreaterThanOrEqual(1);
    expect(anthropic.requests[0].system?.[0]).toMatchObject({ cache_control: { type: 'ephemeral' } });
    expect(turn?.agentText).toMatch(/^You said .+\. Anything else\?$/);
    expect(turn?.llmProvider).toBe('anthropic:claude-test');
    expect(turn?.ttsProvider).toBe('cartesia');
    // Cartesia spoke the reply as one context of continuations, and sent word timings.
    const spoken = [...tts.contexts.values()].map((c) => c.pieces.join('')).join(' ');
    expect(spoken).toContain('Anything else?');
    expect(result.reply.samples.some((v) => v !== 0)).toBe(true);
    expect(s.errors).toEqual([]);
    expect(s.log.text()).not.toContain(ANTHROPIC_KEY);
  }, 120_000);

  it('LLM faults: 429 + retry-after, a drop before output and a slow first byte are retried within the budget; malformed data and a drop mid-reply fail that turn with an apology; every next turn is answered', async () => {
    const plans: Record<string, AnthropicScript[]> = {
      limited: [
        {
          error: {
            status: 429,
            type: 'rate_limit_error',
            message: 'slow down',
            headers: { 'retry-after': '0.05' },
          },
        },
      ],
      early: [{ text: 'x y z', dropAfterChunks: 0 }],
      junk: [{ text: 'one two three four five.', malformedAfterChunks: 2, chunkIntervalMs: 20 }],
      cut: [
        { text: 'This reply will be cut off in the middle of it.', dropAfterChunks: 3, chunkIntervalMs: 20 },
      ],
      slow: [{ text: 'Too late.', headersDelayMs: 5_000 }],
    };
    const { anthropic, tts } = await fakes((text) => plans[text]?.shift() ?? { text: `Answer to ${text}.` });
    const s = await session(anthropic.baseURL, tts.baseUrl, {
      providerFailure: { firstTokenBudgetMs: 1000 },
    });
    const { turn } = await startTyped(s);
    expect(await turn('limited')).toMatchObject({ outcome: 'completed', agentText: 'Answer to limited.' });
    expect(await turn('early')).toMatchObject({ outcome: 'completed', agentText: 'Answer to early.' });
    // The first attempt may wait half the 1 s budget; the retry answers within it.
    expect(await turn('slow')).toMatchObject({ outcome: 'completed', agentText: 'Answer to slow.' });
    for (const fault of ['junk', 'cut']) {
      const failed = await turn(fault);
      expect(failed.outcome, fault).toBe('error');
      const next = await turn(`after ${fault}`);
      expect(next, fault).toMatchObject({ outcome: 'completed', agentText: `Answer to after ${fault}.` });
    }
    expect(s.errors.filter((e) => e.startsWith('llm:'))).toHaveLength(2);
    expect(anthropic.requests.map((r) => userText(r)).filter((t) => t === 'slow')).toHaveLength(2);
    expect(s.log.text()).not.toContain(ANTHROPIC_KEY);
  }, 120_000);

  it('LLM refused: the next provider in the list (the local llama model) answers', async () => {
    const { tts } = await fakes(() => ({ text: 'unused' }));
    const s = await configuredSession(
      {
        llm: ['anthropic:claude-test', 'llama:test/fixtures/models/stories260K.gguf'],
        llmThreads: 1,
        llmMaxTokens: 24,
        tts: 'cartesia',
        stt: 'local',
      },
      {
        ANTHROPIC_API_KEY: ANTHROPIC_KEY,
        ANTHROPIC_BASE_URL: `http://127.0.0.1:${await refusedPort()}`,
        CARTESIA_API_KEY: CARTESIA_KEY,
        CARTESIA_BASE_URL: tts.baseUrl,
      },
    );
    cleanups.push(() => s.close());
    const { turn } = await startTyped(s);
    const reply = await turn('Tell me a story.');
    expect(reply).toMatchObject({
      outcome: 'completed',
      llmProvider: 'llama:test/fixtures/models/stories260K.gguf',
      fallbacks: 1,
    });
    expect(reply.agentText.length).toBeGreaterThan(0);
    expect(s.log.text()).toMatch(/ECONNREFUSED|Connection error/);
    expect(s.log.text()).not.toContain(ANTHROPIC_KEY);
  }, 120_000);

  it('TTS faults: 429 + retry-after, a drop before audio and malformed data are retried; a refused Cartesia hands over to the fallback', async () => {
    const { anthropic, tts } = await fakes(
      (text) => ({ text: `Answer to ${text}. Second sentence here.` }),
      [
        { reject: { status: 429, headers: { 'retry-after': '0.05' } } },
        { dropAfterChunks: 0 },
        { malformedAfterChunks: 0 },
      ],
    );
    const s = await session(anthropic.baseURL, tts.baseUrl);
    const { turn, output } = await startTyped(s);
    expect(await turn('one')).toMatchObject({
      outcome: 'completed',
      agentText: 'Answer to one. Second sentence here.',
      ttsProvider: 'cartesia',
    });
    expect(tts.connectionAttempts).toBe(4);
    expect(await turn('two')).toMatchObject({ outcome: 'completed' });
    expect(output.played.length).toBeGreaterThan(0);

    const down = await session(anthropic.baseURL, `http://127.0.0.1:${await refusedPort()}`, {
      tts: ['cartesia', 'local'],
    });
    const typed = await startTyped(down);
    const three = await typed.turn('three');
    expect(three).toMatchObject({ outcome: 'completed', ttsProvider: 'flite:rms' });
    expect(three.fallbacks).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('TTS slow first audio past the fallback budget: the local fallback speaks', async () => {
    const { anthropic, tts } = await fakes((text) => ({ text: `Answer to ${text}.` }));
    const slow = await new FakeCartesiaServer({
      apiKey: CARTESIA_KEY,
      connections: [{ firstChunkDelayMs: 5_000 }, { firstChunkDelayMs: 5_000 }],
    }).start();
    cleanups.push(() => slow.close());
    void tts;
    const s = await session(anthropic.baseURL, slow.baseUrl, {
      tts: ['cartesia', 'local'],
      ttsFallbackBudgetMs: 300,
    });
    const { turn } = await startTyped(s);
    expect(await turn('hurry')).toMatchObject({
      outcome: 'completed',
      agentText: 'Answer to hurry.',
      ttsProvider: 'flite:rms',
    });
  }, 60_000);
});
