import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import { AgentSession } from '../src/agent/session.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import type { LLM } from '../src/providers/llm/contract.ts';
import { FallbackLlm } from '../src/providers/llm/fallback.ts';
import type { FallbackEvent } from '../src/providers/llm/fallback-rotation.ts';
import { OpenAiCompatibleLlm } from '../src/providers/llm/openai-compatible.ts';
import {
  ChatCompletionsServer,
  type ChatScript,
} from '../src/providers/llm/testing/chat-completions-server.ts';
import { ScriptedStt } from '../src/providers/stt/scripted.ts';
import type { TTS } from '../src/providers/tts/contract.ts';
import { ElevenLabsTts } from '../src/providers/tts/elevenlabs.ts';
import { FallbackTts } from '../src/providers/tts/fallback.ts';
import { createOpenAiTts } from '../src/providers/tts/openai.ts';
import { ElevenLabsServer } from '../src/providers/tts/testing/elevenlabs-server.ts';
import { OpenAiSpeechServer, type SpeechScript } from '../src/providers/tts/testing/openai-speech-server.ts';
import { ScriptedVad } from '../src/providers/vad/scripted.ts';

/**
 * Whole conversations through AgentSession on the cloud clients, against local servers that speak each
 * provider's wire protocol, with a fault injected into the preferred provider: the session answers every turn
 * (from the fallback where it must) and keeps going.
 */

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A chat server answering every request with `reply(userText, index)`. */
async function chatServer(name: string, reply: (text: string, index: number) => ChatScript) {
  const server = await ChatCompletionsServer.start({
    apiKey: `sk-${name}-0123456789`,
    script: (request, index) => reply(String(request.messages.at(-1)?.content ?? ''), index),
  });
  cleanups.push(() => server.close());
  return server;
}

const llmOn = (baseURL: string, name: string) =>
  new OpenAiCompatibleLlm({
    baseURL,
    model: 'test-model',
    apiKey: `sk-${name}-0123456789`,
    name,
    retryBaseDelayMs: 20,
    timeoutMs: 2_000,
    firstTokenTimeoutMs: 2_000,
  });

async function ttsServers(openaiScript?: (input: string, index: number) => SpeechScript) {
  const speech = await OpenAiSpeechServer.start({
    apiKey: 'sk-tts-0123456789',
    msPerCharacter: 5,
    script: openaiScript ? (r, i) => openaiScript(r.input, i) : undefined,
  });
  const eleven = await ElevenLabsServer.start({ apiKey: 'xi-0123456789', msPerCharacter: 5 });
  cleanups.push(
    () => speech.close(),
    () => eleven.close(),
  );
  return { speech, eleven };
}

function ttsChain(openaiBaseURL: string, elevenBaseUrl: string, events: FallbackEvent[], budgetMs = 2000) {
  const tts = new FallbackTts(
    [
      createOpenAiTts({
        apiKey: 'sk-tts-0123456789',
        baseURL: openaiBaseURL,
        name: 'openai-tts',
        retryBaseDelayMs: 20,
      }),
      new ElevenLabsTts({
        apiKey: 'xi-0123456789',
        baseUrl: elevenBaseUrl,
        name: 'elevenlabs',
        retryBaseDelayMs: 20,
      }),
    ],
    { budgetMs, onFallback: (e) => events.push(e) },
  );
  cleanups.push(() => tts.close());
  return tts;
}

async function converse(llm: LLM, tts: TTS) {
  const clock = new MonotonicClock();
  const session = new AgentSession({
    vad: new ScriptedVad({ speech: [] }),
    stt: new ScriptedStt({ clock, words: [] }),
    llm,
    tts,
    clock,
    preemptiveGeneration: false,
    // These tests count fallback switches per turn; the apology synthesized at start would be a concurrent
    // stream through the same fallback list (see test/provider-failure.test.ts for the apology).
    providerFailure: { presynthesizeApology: false },
  });
  const output = new PacedAudioOutput({ clock, realTime: false });
  const errors: string[] = [];
  session.on('error', ({ source, error }) => errors.push(`${source}: ${error.message}`));
  cleanups.push(() => session.close());
  await session.start(output);
  /** One typed turn, to the end of its reply. */
  const turn = (text: string) =>
    new Promise<TurnMetrics>((resolve) => {
      const off = session.on('metrics', (m) => {
        if (m.userTranscript !== text) return;
        off();
        resolve(m);
      });
      session.sendText(text);
    });
  return { session, output, errors, turn };
}

describe('a session on cloud LLMs keeps answering when the preferred one fails', () => {
  it('connection refused: the fallback answers, and later turns go straight to it', async () => {
    const backup = await chatServer('backup', (text) => ({ text: `Backup heard ${text}.` }));
    const { speech, eleven } = await ttsServers();
    const events: FallbackEvent[] = [];
    const llm = new FallbackLlm(
      [llmOn(`http://127.0.0.1:${await refusedPort()}/v1`, 'primary'), llmOn(backup.baseURL, 'backup')],
      { onFallback: (e) => events.push(e) },
    );
    const { turn, errors, output } = await converse(llm, ttsChain(speech.baseURL, eleven.baseUrl, []));
    const first = await turn('hello');
    expect(first).toMatchObject({ outcome: 'completed', agentText: 'Backup heard hello.' });
    expect(first).toMatchObject({ llmProvider: 'backup', fallbacks: 1 });
    expect(events).toMatchObject([{ kind: 'llm', from: 'primary', to: 'backup', reason: 'error' }]);
    expect(events[0].error).toContain('ECONNREFUSED');
    const second = await turn('again');
    expect(second).toMatchObject({ outcome: 'completed', agentText: 'Backup heard again.' });
    expect(second).toMatchObject({ llmProvider: 'backup', fallbacks: 0 });
    expect(backup.requests).toHaveLength(2);
    expect(llm.activeProvider).toBe('backup');
    expect(output.played.length).toBeGreaterThan(0);
    expect(errors.filter((e) => !e.startsWith('llm: primary'))).toEqual([]);
  });

  it('429 with retry-after: a short wait is retried on the same provider, a long one falls back', async () => {
    const primary = await chatServer('primary', (text, index) =>
      text === 'patience' && index === 0
        ? {
            error: {
              status: 429,
              message: 'Rate limit',
              type: 'requests',
              headers: { 'retry-after-ms': '100' },
            },
          }
        : text === 'quota'
          ? { error: { status: 429, message: 'Quota', type: 'requests', headers: { 'retry-after': '20' } } }
          : { text: `Primary says ${text}.` },
    );
    const backup = await chatServer('backup', (text) => ({ text: `Backup says ${text}.` }));
    const { speech, eleven } = await ttsServers();
    const events: FallbackEvent[] = [];
    const llm = new FallbackLlm([llmOn(primary.baseURL, 'primary'), llmOn(backup.baseURL, 'backup')], {
      onFallback: (e) => events.push(e),
    });
    const { turn } = await converse(llm, ttsChain(speech.baseURL, eleven.baseUrl, []));
    expect((await turn('patience')).agentText).toBe('Primary says patience.');
    expect(events).toEqual([]);
    expect((await turn('quota')).agentText).toBe('Backup says quota.');
    expect(events).toMatchObject([{ from: 'primary', reason: 'error' }]);
    expect(events[0].error).toContain('429');
  });

  it('a drop mid-reply ends that reply; the next turn is answered by the fallback', async () => {
    const primary = await chatServer('primary', () => ({
      text: 'This reply will be cut off somewhere in the middle of it.',
      dropAfterChunks: 4,
      chunkIntervalMs: 30,
    }));
    const backup = await chatServer('backup', (text) => ({ text: `Backup after ${text}.` }));
    const { speech, eleven } = await ttsServers();
    const events: FallbackEvent[] = [];
    const llm = new FallbackLlm([llmOn(primary.baseURL, 'primary'), llmOn(backup.baseURL, 'backup')], {
      onFallback: (e) => events.push(e),
    });
    const { turn, errors } = await converse(llm, ttsChain(speech.baseURL, eleven.baseUrl, []));
    const broken = await turn('first');
    expect(broken.outcome).toBe('error');
    expect(errors.some((e) => e.startsWith('llm: primary'))).toBe(true);
    expect(primary.requests).toHaveLength(1);
    const next = await turn('second');
    expect(next).toMatchObject({ outcome: 'completed', agentText: 'Backup after second.' });
    expect(events).toMatchObject([{ from: 'primary', to: 'backup', reason: 'error' }]);
  });

  it('a slow first byte past the budget: the fallback, started on budget, answers first', async () => {
    const primary = await chatServer('primary', () => ({ text: 'Too late.', headersDelayMs: 1500 }));
    const backup = await chatServer('backup', (text) => ({ text: `Quick answer to ${text}.` }));
    const { speech, eleven } = await ttsServers();
    const events: FallbackEvent[] = [];
    const llm = new FallbackLlm([llmOn(primary.baseURL, 'primary'), llmOn(backup.baseURL, 'backup')], {
      budgetMs: 300,
      onFallback: (e) => events.push(e),
    });
    const { turn } = await converse(llm, ttsChain(speech.baseURL, eleven.baseUrl, []));
    const reply = await turn('hurry');
    expect(reply).toMatchObject({ outcome: 'completed', agentText: 'Quick answer to hurry.' });
    expect(events).toMatchObject([{ from: 'primary', to: 'backup', reason: 'budget' }]);
    expect(reply.llmTtftMs).toBeLessThan(1500);
  });
});

describe('a session on cloud TTS keeps speaking when the preferred one fails', () => {
  const answer = 'First sentence here is long enough to be cut off in its middle. And a second one.';

  async function run(
    openaiScript: ((input: string, index: number) => SpeechScript) | 'refused',
    budgetMs = 2000,
  ) {
    const chat = await chatServer('llm', () => ({ text: answer }));
    const { speech, eleven } = await ttsServers(openaiScript === 'refused' ? undefined : openaiScript);
    const events: FallbackEvent[] = [];
    const openaiURL =
      openaiScript === 'refused' ? `http://127.0.0.1:${await refusedPort()}/v1` : speech.baseURL;
    const tts = ttsChain(openaiURL, eleven.baseUrl, events, budgetMs);
    const { turn, output } = await converse(llmOn(chat.baseURL, 'llm'), tts);
    const first = await turn('talk');
    const second = await turn('more');
    return { first, second, events, speech, eleven, output, tts };
  }

  it('connection refused: ElevenLabs speaks every sentence instead', async () => {
    const { first, second, events, eleven } = await run('refused');
    expect(first).toMatchObject({ outcome: 'completed', agentText: answer });
    expect(second.outcome).toBe('completed');
    expect(events).toMatchObject([{ kind: 'tts', from: 'openai-tts', to: 'elevenlabs', reason: 'error' }]);
    expect(eleven.sockets.some((s) => s.messages.some((m) => m.text.includes('sentence')))).toBe(true);
  });

  it('429 with retry-after: retried on OpenAI, no fallback', async () => {
    const { first, events, speech } = await run((_input, index) =>
      index === 0
        ? {
            error: {
              status: 429,
              message: 'Rate limit',
              type: 'requests',
              headers: { 'retry-after-ms': '50' },
            },
          }
        : {},
    );
    expect(first).toMatchObject({ outcome: 'completed', agentText: answer });
    expect(events).toEqual([]);
    expect(speech.requests.length).toBeGreaterThanOrEqual(3);
  });

  it('a drop mid-sentence: the sentence is said again by the fallback and the turn completes', async () => {
    const { first, second, events, eleven, tts } = await run((input) =>
      input.startsWith('First') ? { dropAfterBytes: 4801, chunkIntervalMs: 20 } : {},
    );
    expect(first).toMatchObject({ outcome: 'completed', agentText: answer });
    expect(events).toMatchObject([{ from: 'openai-tts', to: 'elevenlabs', reason: 'error' }]);
    const spoken = eleven.sockets.flatMap((s) => s.messages.map((m) => m.text)).join('');
    expect(spoken).toContain('cut off in its middle.');
    expect(second.outcome).toBe('completed');
    expect((tts as FallbackTts).activeProvider).toBe('elevenlabs');
  });

  it('a slow first byte past the budget: the fallback speaks', async () => {
    const { first, events } = await run(() => ({ firstByteDelayMs: 3000 }), 300);
    expect(first).toMatchObject({ outcome: 'completed', agentText: answer });
    expect(events).toMatchObject([{ from: 'openai-tts', to: 'elevenlabs', reason: 'budget' }]);
    expect(first.ttsTtfbMs).toBeLessThan(3000);
  });
});
