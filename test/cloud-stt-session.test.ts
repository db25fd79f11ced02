import { afterEach, describe, expect, it } from 'vitest';
import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import { AgentSession } from '../src/agent/session.ts';
import { PIPELINE_SAMPLE_RATE, samplesForMs } from '../src/audio/frame.ts';
import { VirtualClock } from '../src/metrics/clock.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import type { STT } from '../src/providers/stt/contract.ts';
import { DeepgramStt } from '../src/providers/stt/deepgram.ts';
import { FallbackStt } from '../src/providers/stt/fallback.ts';
import { OpenAiRealtimeStt } from '../src/providers/stt/openai-realtime.ts';
import { type CodedWord, encodeWords, spacedWords } from '../src/providers/stt/testing/coded-speech.ts';
import { FakeDeepgramServer } from '../src/providers/stt/testing/deepgram-server.ts';
import { waitUntil } from '../src/providers/stt/testing/fake-server.ts';
import { MemoryLog } from '../src/providers/stt/testing/harness.ts';
import { FakeOpenAiRealtimeServer } from '../src/providers/stt/testing/openai-realtime-server.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import { ScriptedVad } from '../src/providers/vad/scripted.ts';

const VOCABULARY = ['hello', 'world', 'how', 'are', 'you', 'fine', 'thanks', 'bye'];
const UTTERANCES = [
  { text: 'hello world how are you', startMs: 500 },
  { text: 'fine thanks', startMs: 7000 },
];
const VAD_SILENCE_MS = 300;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';

/**
 * A session on a virtual clock with a scripted VAD, LLM and TTS and a real cloud STT client talking to a fake
 * provider over 127.0.0.1. Audio is fed in 20 ms frames; when the VAD ends a stretch of speech, the feed pauses (in
 * virtual time) until the final transcript has crossed the network, as a real user's silence would allow.
 */
async function converse(stt: STT) {
  const clock = new VirtualClock();
  const words: CodedWord[] = UTTERANCES.flatMap((u) => spacedWords(u.text, u.startMs));
  const speech = UTTERANCES.map((u) => {
    const w = spacedWords(u.text, u.startMs);
    return { startMs: w[0].startMs, endMs: (w.at(-1) as CodedWord).endMs };
  });
  const totalMs = 11_000;
  const audio = encodeWords(VOCABULARY, words, totalMs);
  const session = new AgentSession({
    clock,
    vad: new ScriptedVad({ speech, minSilenceMs: VAD_SILENCE_MS }),
    stt,
    llm: new ScriptedLlm({
      clock,
      reply: (m) => `You said: ${lastUser(m)}.`,
      ttftMs: 200,
      tokensPerSecond: 30,
    }),
    tts: new ScriptedTts({ clock, ttfbMs: 100, realTimeFactor: 0.2 }),
    endpointing: { minDelayMs: 300, maxDelayMs: 300 },
    sessionId: 'cloud-stt',
  });
  const errors: string[] = [];
  const finals: string[] = [];
  session.on('error', (e) => errors.push(`${e.source}: ${e.error.message}`));
  session.on('transcript', (t) => {
    if (t.final) finals.push(t.text);
  });
  await session.start(new PacedAudioOutput({ clock }));
  const frame = samplesForMs(20, PIPELINE_SAMPLE_RATE);
  let heard = 0;
  for (let t = 0; t < totalMs; t += 20) {
    await clock.advanceTo(t + 20);
    session.pushAudio({
      samples: audio.slice((t * PIPELINE_SAMPLE_RATE) / 1000, (t * PIPELINE_SAMPLE_RATE) / 1000 + frame),
      sampleRate: PIPELINE_SAMPLE_RATE,
      timestampMs: t,
    });
    const ended = speech.findIndex((s) => s.endMs + VAD_SILENCE_MS === t + 20);
    if (ended >= 0) {
      const expected = UTTERANCES[ended].text;
      await waitUntil(() => finals.join(' ').includes(expected), 15_000, `the final "${expected}"`);
      heard++;
    }
  }
  await clock.advance(3000);
  const history = session.history.toMessages().filter((m) => m.role !== 'system');
  await session.close();
  return { history, errors, heard };
}

describe('an AgentSession on a cloud STT keeps going across a dropped connection', () => {
  it('Deepgram: a drop mid-utterance, and every word of both turns reaches the LLM', async () => {
    const server = await new FakeDeepgramServer({
      apiKey: 'dg-session-key-123',
      vocabulary: VOCABULARY,
      connections: [{ dropAfterWords: 3 }],
    }).start();
    closers.push(() => server.close());
    const log = new MemoryLog();
    const stt = new DeepgramStt({
      apiKey: 'dg-session-key-123',
      baseUrl: server.url,
      log,
      initialBackoffMs: 5,
    });
    const { history, errors, heard } = await converse(stt);
    expect(heard).toBe(2);
    expect(history).toEqual([
      { role: 'user', content: 'hello world how are you' },
      { role: 'assistant', content: 'You said: hello world how are you.' },
      { role: 'user', content: 'fine thanks' },
      { role: 'assistant', content: 'You said: fine thanks.' },
    ]);
    expect(server.connectionAttempts).toBe(2);
    expect(server.records[0].wordsHeard).toEqual(['hello', 'world', 'how']);
    expect(log.count('stt reconnected; replaying unfinalised audio')).toBe(1);
    expect(errors).toEqual([]);
  });

  it('OpenAI realtime: a drop between commit and transcript', async () => {
    const server = await new FakeOpenAiRealtimeServer({
      apiKey: 'sk-session-key-123',
      vocabulary: VOCABULARY,
      connections: [{ dropOnCommit: 1 }],
    }).start();
    closers.push(() => server.close());
    const stt = new OpenAiRealtimeStt({
      apiKey: 'sk-session-key-123',
      baseUrl: server.url,
      initialBackoffMs: 5,
    });
    const { history, errors } = await converse(stt);
    expect(history).toEqual([
      { role: 'user', content: 'hello world how are you' },
      { role: 'assistant', content: 'You said: hello world how are you.' },
      { role: 'user', content: 'fine thanks' },
      { role: 'assistant', content: 'You said: fine thanks.' },
    ]);
    expect(server.connectionAttempts).toBe(2);
    expect(errors).toEqual([]);
  });

  it('Deepgram down for good mid-turn: the fallback provider finishes the turn and the next', async () => {
    const deepgram = await new FakeDeepgramServer({
      apiKey: 'dg-session-key-123',
      vocabulary: VOCABULARY,
      connections: [{ dropAfterWords: 2 }, ...Array(10).fill({ reject: { status: 503 } })],
    }).start();
    const openai = await new FakeOpenAiRealtimeServer({
      apiKey: 'sk-session-key-123',
      vocabulary: VOCABULARY,
    }).start();
    closers.push(
      () => deepgram.close(),
      () => openai.close(),
    );
    const fallbacks: string[] = [];
    const stt = new FallbackStt(
      [
        new DeepgramStt({
          apiKey: 'dg-session-key-123',
          baseUrl: deepgram.url,
          maxRetries: 2,
          initialBackoffMs: 5,
        }),
        new OpenAiRealtimeStt({ apiKey: 'sk-session-key-123', baseUrl: openai.url }),
      ],
      { onFallback: (e) => fallbacks.push(`${e.from} > ${e.to}`) },
    );
    const { history, errors } = await converse(stt);
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
      'hello world how are you',
      'fine thanks',
    ]);
    expect(fallbacks).toEqual(['deepgram:nova-3 > openai-realtime:gpt-4o-mini-transcribe']);
    expect(errors).toEqual([]);
  });
});
