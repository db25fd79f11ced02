import { afterEach, describe, expect, it } from 'vitest';
import {
  FakeGeminiServer,
  type GeminiScript,
  type GenerateRequest,
} from '../src/providers/llm/testing/google-server.ts';
import { answerClip, CLIP_TEXT, configuredSession, startTyped, wordsOf } from './more-providers.harness.ts';

/**
 * Issue 22: `google:<model>` (Gemini) in sessions built from the spec string, key and endpoint in the environment,
 * against a local server speaking the Gemini API: a LibriVox clip heard by the local STT is answered; each fault is
 * survived.
 */

const KEY = 'AIza-session-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const lastUser = (r: GenerateRequest) =>
  (r.contents.filter((c) => c.role === 'user').at(-1)?.parts ?? [])
    .map((p) => ('text' in p ? p.text : ''))
    .join(' ');

async function gemini(script: (text: string) => GeminiScript) {
  const server = await FakeGeminiServer.start({ apiKey: KEY, script: (r) => script(lastUser(r)) });
  cleanups.push(() => server.close());
  return server;
}

async function session(baseURL: string, overrides: Record<string, unknown> = {}) {
  const s = await configuredSession(
    { llm: 'google:gemini-test', stt: 'local', tts: 'local', vad: 'silero', ...overrides },
    { GEMINI_API_KEY: KEY, GEMINI_BASE_URL: baseURL },
  );
  cleanups.push(() => s.close());
  return s;
}

describe('google (Gemini) sessions over the fake Gemini API', () => {
  it('answers a LibriVox clip end to end', async () => {
    const server = await gemini((text) => ({ text: `You said ${text.toLowerCase()}. Anything else?` }));
    const s = await session(server.baseURL);
    const result = await answerClip(s);
    const turn = result.metrics.find(
      (m) => m.outcome === 'completed' && wordsOf(m.userTranscript).length >= 3,
    );
    expect(turn, JSON.stringify(result.metrics.map((m) => [m.outcome, m.userTranscript]))).toBeDefined();
    expect(
      wordsOf(turn?.userTranscript ?? '').filter((w) => wordsOf(CLIP_TEXT).includes(w)).length,
    ).toBeGreaterThanOrEqual(3);
    expect(turn?.agentText).toMatch(/^You said .+\. Anything else\?$/);
    expect(turn?.llmProvider).toBe('google:gemini-test');
    expect(server.requests[0].body.systemInstruction?.parts[0].text.length).toBeGreaterThan(0);
    expect(s.errors).toEqual([]);
    expect(s.log.text()).not.toContain(KEY);
  }, 120_000);

  it('faults: 429 RetryInfo, 503 and a drop before output are retried; malformed and a drop mid-reply fail that turn; the next is answered; refused falls back', async () => {
    const plans: Record<string, GeminiScript[]> = {
      limited: [
        { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Quota', retryDelay: '0.05s' } },
      ],
      busy: [{ error: { code: 503, status: 'UNAVAILABLE', message: 'Overloaded' } }],
      early: [{ text: 'x y', dropAfterChunks: 0 }],
      slow: [{ text: 'Too late.', headersDelayMs: 5_000 }],
      junk: [{ text: 'one two three four.', malformedAfterChunks: 2, chunkIntervalMs: 20 }],
      cut: [{ text: 'This reply will be cut off in the middle.', dropAfterChunks: 3, chunkIntervalMs: 20 }],
    };
    const server = await gemini((text) => plans[text]?.shift() ?? { text: `Answer to ${text}.` });
    const s = await session(server.baseURL, { providerFailure: { firstTokenBudgetMs: 1000 } });
    const { turn } = await startTyped(s);
    for (const ok of ['limited', 'busy', 'early', 'slow']) {
      expect(await turn(ok), ok).toMatchObject({ outcome: 'completed', agentText: `Answer to ${ok}.` });
    }
    for (const fault of ['junk', 'cut']) {
      expect((await turn(fault)).outcome, fault).toBe('error');
      expect(await turn(`after ${fault}`)).toMatchObject({
        outcome: 'completed',
        agentText: `Answer to after ${fault}.`,
      });
    }
    expect(s.errors.filter((e) => e.startsWith('llm:'))).toHaveLength(2);

    const down = await configuredSession(
      {
        llm: ['google:gemini-test', 'llama:test/fixtures/models/stories260K.gguf'],
        llmThreads: 1,
        llmMaxTokens: 24,
        stt: 'local',
        tts: 'local',
      },
      { GEMINI_API_KEY: KEY, GEMINI_BASE_URL: 'http://127.0.0.1:1' },
    );
    cleanups.push(() => down.close());
    const reply = await (await startTyped(down)).turn('Tell me a story.');
    expect(reply).toMatchObject({
      outcome: 'completed',
      llmProvider: 'llama:test/fixtures/models/stories260K.gguf',
    });
  }, 120_000);
});
