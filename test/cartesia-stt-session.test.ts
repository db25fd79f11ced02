import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeAnthropicServer } from '../src/providers/llm/testing/anthropic-server.ts';
import { PocketsphinxSTT } from '../src/providers/stt/pocketsphinx.ts';
import {
  type CartesiaSttConnectionPlan,
  FakeCartesiaSttServer,
} from '../src/providers/stt/testing/cartesia-stt-server.ts';
import { FakeCartesiaServer } from '../src/providers/tts/testing/cartesia-server.ts';
import {
  answerClip,
  CLIP_TEXT,
  configuredSession,
  FAKE_STT_ENDPOINTING,
  FAKE_STT_TUNING,
  wordsOf,
} from './more-providers.harness.ts';

/**
 * Issue 22: `cartesia` STT (Cartesia Ink over its realtime `/stt/websocket`) in sessions built from the spec string,
 * the key and endpoints in the environment, against a local server speaking that protocol: the fake hears the
 * LibriVox clip with a real recogniser (pocketsphinx, inside the fake), the session's end of speech sends `finalize`,
 * the final piece and `flush_done` end the turn; Claude (fake) answers and Cartesia TTS (fake) speaks. Each fault
 * of the STT fake is survived.
 */

const CARTESIA_KEY = 'cartesia-stt-session-0123456789';
const ANTHROPIC_KEY = 'sk-ant-cartesia-stt-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const recognizer = new PocketsphinxSTT();
let llm: FakeAnthropicServer;
let tts: FakeCartesiaServer;
beforeAll(async () => {
  llm = await FakeAnthropicServer.start({
    apiKey: ANTHROPIC_KEY,
    script: (request) => {
      const last = request.messages.at(-1)?.content;
      const text =
        typeof last === 'string' ? last : (last ?? []).map((b) => ('text' in b ? b.text : '')).join(' ');
      return { text: `You said ${text.toLowerCase().replace(/[.?!]+$/, '')}. Anything else?` };
    },
  });
  tts = await new FakeCartesiaServer({ apiKey: CARTESIA_KEY, msPerCharacter: 4 }).start();
}, 60_000);
afterAll(async () => {
  await llm.close();
  await tts.close();
  recognizer.dispose();
});

async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function sttFake(connections: CartesiaSttConnectionPlan[] = []) {
  const server = await new FakeCartesiaSttServer({ apiKey: CARTESIA_KEY, recognizer, connections }).start();
  cleanups.push(() => server.close());
  return server;
}

async function session(sttUrl: string, overrides: Record<string, unknown> = {}) {
  const s = await configuredSession(
    {
      llm: 'anthropic:claude-test',
      stt: 'cartesia',
      tts: 'cartesia',
      vad: 'silero',
      endpointing: FAKE_STT_ENDPOINTING,
      ...overrides,
    },
    {
      CARTESIA_API_KEY: CARTESIA_KEY,
      CARTESIA_BASE_URL: tts.baseUrl,
      CARTESIA_STT_BASE_URL: sttUrl,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: llm.baseURL,
    },
    [],
    FAKE_STT_TUNING,
  );
  cleanups.push(() => s.close());
  return s;
}

const heardClip = (transcript = '') =>
  wordsOf(transcript).filter((w) => wordsOf(CLIP_TEXT).includes(w)).length;
const answered = (metrics: Awaited<ReturnType<typeof answerClip>>['metrics']) =>
  metrics.find((m) => m.outcome === 'completed' && heardClip(m.userTranscript) >= 3);
const why = (result: Awaited<ReturnType<typeof answerClip>>, s: { errors: string[] }) =>
  JSON.stringify({ m: result.metrics.map((m) => [m.outcome, m.userTranscript]), e: s.errors });

describe('cartesia STT sessions over the fake Cartesia realtime STT', () => {
  it('answers a LibriVox clip end to end: heard over /stt/websocket, finalize → final + flush_done, answered, spoken', async () => {
    const stt = await sttFake();
    const s = await session(stt.url);
    const result = await answerClip(s);
    const turn = answered(result.metrics);
    expect(turn, why(result, s)).toBeDefined();
    expect(turn?.agentText).toMatch(/^You said .+\. Anything else\?$/);
    expect(turn?.ttsProvider).toBe('cartesia');
    expect(s.providers.stt.name).toBe('cartesia:ink-whisper');
    // One connection for the session, with the documented query and version header; the turn ended by finalize.
    expect(stt.connectionAttempts).toBe(1);
    const record = stt.records[0];
    expect(Object.fromEntries(record.query)).toMatchObject({
      model: 'ink-whisper',
      encoding: 'pcm_s16le',
      sample_rate: '16000',
      language: 'en',
    });
    expect(record.version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(record.commands).toContain('finalize');
    expect(record.finals.some((f) => heardClip(f) >= 3)).toBe(true);
    expect(s.errors).toEqual([]);
    expect(s.log.text()).not.toContain(CARTESIA_KEY);
  }, 120_000);

  it('faults: 429 + retry-after and a drop mid-utterance are survived (the audio is replayed); refused hands over to local', async () => {
    const stt = await sttFake([
      { reject: { status: 429, headers: { 'retry-after': '0.05' }, body: '{"error":"Too many requests"}' } },
      { dropAfterAudioMs: 1500 },
    ]);
    const s = await session(stt.url);
    const result = await answerClip(s);
    expect(answered(result.metrics), why(result, s)).toBeDefined();
    expect(stt.connectionAttempts).toBeGreaterThanOrEqual(3);
    expect(stt.records.map((r) => r.index).slice(0, 2)).toEqual([1, 2]);
    expect(s.log.text()).not.toContain(CARTESIA_KEY);

    const down = await session(`ws://127.0.0.1:${await refusedPort()}`, { stt: ['cartesia', 'local'] });
    const fallback = await answerClip(down);
    expect(answered(fallback.metrics), why(fallback, down)).toBeDefined();
  }, 180_000);

  it('faults: malformed messages are reported and a slow first message is waited for; the clip is still answered', async () => {
    const stt = await sttFake([
      {
        junkFirst: ['not json', '{"type":"transcript","is_final":"maybe"}', '{"type":"something_new"}'],
        firstResultDelayMs: 800,
      },
    ]);
    const s = await session(stt.url);
    const result = await answerClip(s);
    expect(answered(result.metrics), why(result, s)).toBeDefined();
    expect(
      s.errors.some((e) => /malformed|unexpected/.test(e)),
      JSON.stringify(s.errors),
    ).toBe(true);
    expect(stt.records[0].finals.length).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
