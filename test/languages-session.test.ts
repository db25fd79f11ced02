import { afterEach, describe, expect, it } from 'vitest';
import type { LanguageChange } from '../src/agent/language.ts';
import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import { AgentSession } from '../src/agent/session.ts';
import { PIPELINE_SAMPLE_RATE, samplesForMs } from '../src/audio/frame.ts';
import { VirtualClock } from '../src/metrics/clock.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import { loadEld } from '../src/providers/langid/eld.ts';
import type { ChatMessage, ChatRequest, LLM, LlmChunk } from '../src/providers/llm/contract.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import type { STT } from '../src/providers/stt/contract.ts';
import { DeepgramStt } from '../src/providers/stt/deepgram.ts';
import { OpenAiBatchStt } from '../src/providers/stt/openai-batch.ts';
import { type CodedWord, encodeWords, spacedWords } from '../src/providers/stt/testing/coded-speech.ts';
import { FakeDeepgramServer } from '../src/providers/stt/testing/deepgram-server.ts';
import { waitUntil } from '../src/providers/stt/testing/fake-server.ts';
import { FakeOpenAiTranscriptionsServer } from '../src/providers/stt/testing/openai-transcriptions-server.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import { ScriptedVad } from '../src/providers/vad/scripted.ts';

const ENGLISH = 'hello I would like a table tonight please sorry can we speak English now'.split(' ');
const SPANISH = 'tortilla quiero reservar una mesa para dos personas por favor'.split(' ');
const VOCABULARY = [...ENGLISH, ...SPANISH];
/**
 * English; a borrowed Spanish word alone and inside an English sentence; a switch to Spanish; a Spanish turn whose
 * LLM fails; back to English.
 */
const UTTERANCES = [
  { text: 'hello I would like a table tonight', startMs: 500 },
  { text: 'tortilla', startMs: 6_000 },
  { text: 'I would like a tortilla please', startMs: 11_500 },
  { text: 'quiero reservar una mesa para dos personas', startMs: 17_000 },
  { text: 'para dos personas por favor', startMs: 22_500 },
  { text: 'sorry can we speak English now', startMs: 28_000 },
];
const TOTAL_MS = 33_500;
const VAD_SILENCE_MS = 300;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** The scripted LLM, except that the request for "por favor" fails: the apology must come in Spanish. */
class ReplyingLlm implements LLM {
  readonly name = 'replying';
  readonly instructions: string[] = [];
  constructor(private readonly inner: ScriptedLlm) {}
  async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    const last = request.messages.at(-1) as ChatMessage;
    this.instructions.push(last.role === 'system' ? last.content : '');
    const user = request.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    if (user.includes('por favor')) throw new Error('upstream 500: the model is overloaded');
    yield* this.inner.chat(request);
  }
}

async function converse(stt: STT) {
  const clock = new VirtualClock();
  const words: CodedWord[] = UTTERANCES.flatMap((u) => spacedWords(u.text, u.startMs));
  const speech = UTTERANCES.map((u) => {
    const w = spacedWords(u.text, u.startMs);
    return { startMs: w[0].startMs, endMs: (w.at(-1) as CodedWord).endMs };
  });
  const audio = encodeWords(VOCABULARY, words, TOTAL_MS);
  const english = new ScriptedTts({ clock, ttfbMs: 50, realTimeFactor: 0.2 });
  const spanish = new ScriptedTts({ clock, ttfbMs: 50, realTimeFactor: 0.2 });
  const llm = new ReplyingLlm(
    new ScriptedLlm({
      clock,
      // The reply follows the instruction it was given, as a model would.
      reply: (m) =>
        m.at(-1)?.content.includes('Answer in Spanish') ? 'Claro, con mucho gusto.' : 'Sure, happy to help.',
      ttftMs: 100,
      tokensPerSecond: 40,
    }),
  );
  const session = new AgentSession({
    clock,
    vad: new ScriptedVad({ speech, minSilenceMs: VAD_SILENCE_MS }),
    stt,
    llm,
    tts: english,
    language: 'en',
    languages: {
      allowed: ['en', 'es'],
      identifier: await loadEld(),
      stt: 'detect',
      voices: { en: english, es: spanish },
    },
    endpointing: { minDelayMs: 300, maxDelayMs: 300 },
    sessionId: 'languages',
  });
  const changes: LanguageChange[] = [];
  const metrics: TurnMetrics[] = [];
  const finals: string[] = [];
  const errors: string[] = [];
  session.on('languageChanged', (c) =>
    changes.push({ from: c.from, to: c.to, source: c.source, text: c.text }),
  );
  session.on('metrics', (m) => metrics.push(m));
  session.on('error', (e) => errors.push(`${e.source}: ${e.error.message}`));
  session.on('transcript', (t) => {
    if (t.final) finals.push(t.text);
  });
  await session.start(new PacedAudioOutput({ clock }));
  const frame = samplesForMs(20, PIPELINE_SAMPLE_RATE);
  for (let t = 0; t < TOTAL_MS; t += 20) {
    await clock.advanceTo(t + 20);
    const from = (t * PIPELINE_SAMPLE_RATE) / 1000;
    session.pushAudio({
      samples: audio.slice(from, from + frame),
      sampleRate: PIPELINE_SAMPLE_RATE,
      timestampMs: t,
    });
    const ended = speech.findIndex((s) => s.endMs + VAD_SILENCE_MS === t + 20);
    if (ended >= 0) {
      const expected = UTTERANCES[ended].text;
      await waitUntil(() => finals.join(' | ').includes(expected), 20_000, `the final "${expected}"`);
    }
  }
  await clock.advance(4000);
  await waitUntil(() => metrics.length >= UTTERANCES.length, 20_000, 'a record for every turn');
  const history = session.history.toMessages().filter((m) => m.role !== 'system');
  await session.close();
  return { changes, metrics, history, errors, english, spanish, instructions: llm.instructions };
}

function expectSwitchesAndBack(result: Awaited<ReturnType<typeof converse>>) {
  const { changes, metrics, history, english, spanish, instructions } = result;
  // One switch to Spanish and one back: the borrowed "tortilla" switched nothing.
  expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['en->es', 'es->en']);
  expect(changes[0].text).toBe('quiero reservar una mesa para dos personas');
  expect(changes[1].text).toBe('sorry can we speak English now');
  expect(metrics.map((m) => m.language)).toEqual(['en', 'en', 'en', 'es', 'es', 'en']);
  // The LLM was told the language of each turn.
  expect(instructions).toEqual([
    'The caller is speaking English. Answer in English.',
    'The caller is speaking English. Answer in English.',
    'The caller is speaking English. Answer in English.',
    'The caller is speaking Spanish. Answer in Spanish.',
    'The caller is speaking Spanish. Answer in Spanish.',
    'The caller is speaking English. Answer in English.',
  ]);
  expect(history).toEqual([
    { role: 'user', content: 'hello I would like a table tonight' },
    { role: 'assistant', content: 'Sure, happy to help.' },
    { role: 'user', content: 'tortilla' },
    { role: 'assistant', content: 'Sure, happy to help.' },
    { role: 'user', content: 'I would like a tortilla please' },
    { role: 'assistant', content: 'Sure, happy to help.' },
    { role: 'user', content: 'quiero reservar una mesa para dos personas' },
    { role: 'assistant', content: 'Claro, con mucho gusto.' },
    { role: 'user', content: 'para dos personas por favor' },
    // The fixed phrase follows the language: the apology is the Spanish one.
    { role: 'assistant', content: 'Lo siento, algo ha fallado. ¿Puede repetirlo?' },
    { role: 'user', content: 'sorry can we speak English now' },
    { role: 'assistant', content: 'Sure, happy to help.' },
  ]);
  // The voice follows the language: each reply (and apology) was synthesized by that language's TTS.
  expect(spanish.segmentsSynthesized).toContain('Claro, con mucho gusto.');
  expect(spanish.segmentsSynthesized).toContain('Lo siento, algo ha fallado. ¿Puede repetirlo?');
  expect(spanish.segmentsSynthesized.some((s) => s.includes('Sure'))).toBe(false);
  expect(english.segmentsSynthesized.filter((s) => s === 'Sure, happy to help.')).toHaveLength(4);
  expect(english.segmentsSynthesized.some((s) => s.includes('Claro') || s.includes('Lo siento'))).toBe(false);
}

const WORD_LANGUAGES = Object.fromEntries(SPANISH.map((w) => [w, 'es']));

describe('a conversation switches language mid-call on the STT languages of cloud providers', () => {
  it('Deepgram multilingual (language=multi, per-word language and the alternative`s languages)', async () => {
    const server = await new FakeDeepgramServer({
      apiKey: 'dg-languages-key-123',
      vocabulary: VOCABULARY,
      wordLanguages: WORD_LANGUAGES,
    }).start();
    closers.push(() => server.close());
    const stt = new DeepgramStt({ apiKey: 'dg-languages-key-123', baseUrl: server.url, initialBackoffMs: 5 });
    const result = await converse(stt);
    expectSwitchesAndBack(result);
    expect(server.records[0].query.get('language')).toBe('multi');
    expect(server.connectionAttempts).toBe(1);
    expect(result.errors.filter((e) => !e.startsWith('llm:'))).toEqual([]);
  }, 90_000);

  it('OpenAI transcription (whisper-1 verbose_json `language`, no language sent)', async () => {
    const server = await new FakeOpenAiTranscriptionsServer({
      apiKey: 'sk-languages-key-123',
      vocabulary: VOCABULARY,
      wordLanguages: Object.fromEntries(
        VOCABULARY.map((w) => [w, WORD_LANGUAGES[w] === 'es' ? 'spanish' : 'english']),
      ),
    }).start();
    closers.push(() => server.close());
    const stt = new OpenAiBatchStt({
      apiKey: 'sk-languages-key-123',
      baseUrl: server.url,
      model: 'whisper-1',
    });
    const result = await converse(stt);
    expectSwitchesAndBack(result);
    const answered = server.records.filter((r) => r.status === 200);
    expect(answered.length).toBeGreaterThanOrEqual(UTTERANCES.length);
    for (const record of answered) {
      expect(record.language).toBeUndefined();
      expect(record.responseFormat).toBe('verbose_json');
    }
    expect(result.errors.filter((e) => !e.startsWith('llm:'))).toEqual([]);
  }, 90_000);
});
