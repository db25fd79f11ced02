import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeAnthropicServer } from '../src/providers/llm/testing/anthropic-server.ts';
import { PocketsphinxSTT } from '../src/providers/stt/pocketsphinx.ts';
import {
  type AssemblyAiConnectionPlan,
  FakeAssemblyAiServer,
} from '../src/providers/stt/testing/assemblyai-server.ts';
import {
  type AuraConnectionPlan,
  FakeDeepgramAuraServer,
} from '../src/providers/tts/testing/deepgram-aura-server.ts';
import {
  answerClip,
  CLIP_TEXT,
  configuredSession,
  FAKE_STT_ENDPOINTING,
  FAKE_STT_TUNING,
  startTyped,
  wordsOf,
} from './more-providers.harness.ts';

/**
 * Issue 22: `assemblyai` STT and `deepgram-aura` TTS in sessions built from their spec strings, over fake servers
 * speaking their wire protocols. The AssemblyAI fake hears real speech with a real recogniser (pocketsphinx, run
 * inside the fake), so a LibriVox clip goes through the cloud path end to end; its end_of_turn reaches the turn
 * detector. Each fault of the fake is survived by the session.
 */

const AAI_KEY = 'aai-session-key-0123456789';
const DG_KEY = 'dg-session-key-0123456789';
const ANTHROPIC_KEY = 'sk-ant-session-0123456789';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What the AssemblyAI fake hears real speech with: the local recogniser, its own decoders. */
const recognizer = new PocketsphinxSTT();
let llm: FakeAnthropicServer;
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
}, 60_000);
afterAll(async () => {
  await llm.close();
  recognizer.dispose();
});

async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function fakes(stt: AssemblyAiConnectionPlan[] = [], tts: AuraConnectionPlan[] = []) {
  const assembly = await new FakeAssemblyAiServer({
    apiKey: AAI_KEY,
    recognizer,
    connections: stt,
  }).start();
  const aura = await new FakeDeepgramAuraServer({
    apiKey: DG_KEY,
    msPerCharacter: 4,
    connections: tts,
  }).start();
  cleanups.push(
    () => assembly.close(),
    () => aura.close(),
  );
  return { assembly, aura };
}

async function session(sttUrl: string, ttsUrl: string, overrides: Record<string, unknown> = {}) {
  const s = await configuredSession(
    {
      llm: 'anthropic:claude-test',
      stt: 'assemblyai',
      tts: 'deepgram-aura',
      vad: 'silero',
      endpointing: FAKE_STT_ENDPOINTING,
      ...overrides,
    },
    {
      ASSEMBLYAI_API_KEY: AAI_KEY,
      ASSEMBLYAI_BASE_URL: sttUrl,
      DEEPGRAM_API_KEY: DG_KEY,
      DEEPGRAM_TTS_BASE_URL: ttsUrl,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: llm.baseURL,
    },
    [],
    FAKE_STT_TUNING,
  );
  cleanups.push(() => s.close());
  return s;
}

/** How many of the clip's words a transcript has. */
const heardClip = (transcript = '') =>
  wordsOf(transcript).filter((w) => wordsOf(CLIP_TEXT).includes(w)).length;

const answered = (metrics: Awaited<ReturnType<typeof answerClip>>['metrics']) =>
  metrics.find((m) => m.outcome === 'completed' && wordsOf(m.userTranscript).length >= 3);

describe('assemblyai + deepgram-aura sessions over their fake servers', () => {
  it('answers a LibriVox clip end to end; AssemblyAI end_of_turn reaches the turn detector; Aura speaks', async () => {
    const { assembly, aura } = await fakes();
    const s = await session(assembly.url, aura.baseUrl);
    const result = await answerClip(s);
    const turn = answered(result.metrics);
    expect(
      turn,
      JSON.stringify({
        m: result.metrics.map((m) => [m.outcome, m.userTranscript]),
        e: s.errors,
        r: assembly.records.map((r) => ({ n: r.chunkMs.length, c: r.control, t: r.turns, x: r.closedWith })),
        log: s.log.text().slice(0, 2000),
      }),
    ).toBeDefined();
    const heard = wordsOf(turn?.userTranscript ?? '');
    expect(heard.filter((w) => wordsOf(CLIP_TEXT).includes(w)).length).toBeGreaterThanOrEqual(3);
    expect(turn?.agentText).toMatch(/^You said .+\. Anything else\?$/);
    expect(turn?.ttsProvider).toBe('deepgram-aura');
    const signals = turn?.turnTaking?.signals ?? {};
    expect(
      Object.entries(signals).some(([k, v]) => /stt|endpoint/i.test(k) && v > 0),
      JSON.stringify(signals),
    ).toBe(true);
    expect(assembly.records[0].turns.length).toBeGreaterThanOrEqual(1);
    expect(aura.records[0].flushed.join(' ')).toContain('Anything else?');
    expect(result.reply.samples.some((v) => v !== 0)).toBe(true);
    expect(s.errors).toEqual([]);
  }, 120_000);

  it('STT faults: 429 + retry-after and a drop mid-turn are survived (the audio is replayed); refused hands over to local', async () => {
    const { assembly, aura } = await fakes([
      { reject: { status: 429, headers: { 'retry-after': '0.05' }, body: '{"error":"Too many"}' } },
      { dropAfterAudioMs: 1500 },
    ]);
    const s = await session(assembly.url, aura.baseUrl);
    const result = await answerClip(s);
    const turn = answered(result.metrics);
    expect(turn, JSON.stringify(result.metrics.map((m) => m.userTranscript))).toBeDefined();
    // The audio before the drop was replayed: the words of the clip's start are heard.
    expect(heardClip(turn?.userTranscript)).toBeGreaterThanOrEqual(3);
    expect(assembly.connectionAttempts).toBeGreaterThanOrEqual(3);
    expect(assembly.records.map((r) => r.index)).toEqual([1, 2]);

    const down = await session(`ws://127.0.0.1:${await refusedPort()}`, aura.baseUrl, {
      stt: ['assemblyai', 'local'],
    });
    const fallback = await answerClip(down);
    expect(
      answered(fallback.metrics),
      JSON.stringify(fallback.metrics.map((m) => m.userTranscript)),
    ).toBeDefined();
  }, 180_000);

  it('STT faults: malformed messages and a slow first result are survived; the clip is still answered', async () => {
    const { assembly, aura } = await fakes([
      {
        junkFirst: ['not json', '{"type":"Turn","turn_order":"x"}', '{"type":"SomethingNew"}'],
        firstResultDelayMs: 800,
      },
    ]);
    const s = await session(assembly.url, aura.baseUrl);
    const result = await answerClip(s);
    const turn = answered(result.metrics);
    expect(
      turn,
      JSON.stringify({ m: result.metrics.map((m) => m.userTranscript), e: s.errors }),
    ).toBeDefined();
    expect(heardClip(turn?.userTranscript)).toBeGreaterThanOrEqual(3);
    expect(turn?.agentText).toMatch(/^You said .+\. Anything else\?$/);
    // The junk was reported, not fatal: the STT stayed on assemblyai.
    expect(
      s.errors.some((e) => /malformed|unexpected/.test(e)),
      JSON.stringify(s.errors),
    ).toBe(true);
    expect(assembly.records[0].turns.length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('TTS faults: 429, a drop before audio and malformed data are retried; refused and slow first audio hand over to local', async () => {
    const { assembly, aura } = await fakes(
      [],
      [
        { reject: { status: 429, headers: { 'retry-after': '0.05' } } },
        { dropAfterChunks: 0 },
        { malformedAfterChunks: 0 },
      ],
    );
    const s = await session(assembly.url, aura.baseUrl);
    const { turn } = await startTyped(s);
    expect(await turn('one')).toMatchObject({
      outcome: 'completed',
      agentText: 'You said one. Anything else?',
      ttsProvider: 'deepgram-aura',
    });
    // The three faults, then a good connection for the reply and, unless it was done before the reply came, one
    // for the apology synthesized ahead of need (on its own connection, so the reply never waits behind it).
    expect(aura.connectionAttempts).toBeGreaterThanOrEqual(4);
    expect(aura.connectionAttempts).toBeLessThanOrEqual(5);
    expect(await turn('two')).toMatchObject({ outcome: 'completed', ttsProvider: 'deepgram-aura' });

    const down = await session(assembly.url, `http://127.0.0.1:${await refusedPort()}`, {
      tts: ['deepgram-aura', 'local'],
    });
    expect(await (await startTyped(down)).turn('three')).toMatchObject({
      outcome: 'completed',
      ttsProvider: 'flite:rms',
    });

    const slowServer = await new FakeDeepgramAuraServer({
      apiKey: DG_KEY,
      connections: [{ firstChunkDelayMs: 5_000 }, { firstChunkDelayMs: 5_000 }],
    }).start();
    cleanups.push(() => slowServer.close());
    const slow = await session(assembly.url, slowServer.baseUrl, {
      tts: ['deepgram-aura', 'local'],
      ttsFallbackBudgetMs: 300,
    });
    expect(await (await startTyped(slow)).turn('hurry')).toMatchObject({
      outcome: 'completed',
      ttsProvider: 'flite:rms',
    });
  }, 120_000);
});
