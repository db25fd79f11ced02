/**
 * Time to first audio per chunk strategy per engine: LLM text streamed at 50 tok/s (after its first token) goes
 * through the SentenceChunker with each strategy into the TTS (trimmed, as sessions use it); the figure is first
 * token -> first audible sample, median over the replies. Local engines are real (flite, espeak-ng, festival);
 * "streaming (scripted)" is a streaming-input engine with a 50 ms TTFB per chunk.
 *   npx tsx bench/core/chunk-strategies.ts
 */
import { type ChunkStrategy, SentenceChunker } from '../../src/agent/chunker.ts';
import { MonotonicClock } from '../../src/metrics/clock.ts';
import { summarize } from '../../src/metrics/stats.ts';
import type { TTS } from '../../src/providers/tts/contract.ts';
import { trimLeadingSilence } from '../../src/providers/tts/leading-silence.ts';
import { createLocalTts } from '../../src/providers/tts/local.ts';
import { ScriptedTts } from '../../src/providers/tts/scripted.ts';

const REPLIES = [
  'The next train to the city leaves at ten past nine, from platform two. It takes forty minutes.',
  'I have set a timer for twenty minutes. I will tell you when it is done.',
  'Paris is the capital of France, and it has about two million people in the city itself.',
  'Sure. Your meeting with Anna is moved to Thursday at three in the afternoon.',
  'It will be sunny tomorrow morning with some clouds later in the day and a light wind from the west.',
  'That is a good question, and the short answer is yes. The longer answer depends on your plan.',
];
const TOKEN_MS = 20; // 50 tok/s
const STRATEGIES: ChunkStrategy[] = ['word', 'first-clause', 'sentence'];

async function firstAudibleMs(tts: TTS, text: string, strategy: ChunkStrategy, clock: MonotonicClock) {
  const controller = new AbortController();
  const stream = trimLeadingSilence(tts, { clock }).stream({ signal: controller.signal });
  const chunker = new SentenceChunker({ strategy });
  const tokens = text.match(/\S+\s*/g) ?? [];
  const startedAt = clock.now();
  let firstChunkAt: number | undefined;
  const feeding = (async () => {
    for (const token of tokens) {
      for (const chunk of chunker.push(token)) {
        firstChunkAt ??= clock.now();
        stream.pushText(chunk);
        stream.flush();
      }
      await new Promise((resolve) => setTimeout(resolve, TOKEN_MS));
    }
    const rest = chunker.flush();
    if (rest) {
      firstChunkAt ??= clock.now();
      stream.pushText(rest);
      stream.flush();
    }
    stream.end();
  })();
  let audibleAt: number | undefined;
  for await (const _audio of stream) {
    audibleAt = clock.now();
    break;
  }
  controller.abort();
  await feeding;
  return {
    ttfa: (audibleAt ?? Number.NaN) - startedAt,
    firstChunk: (firstChunkAt ?? Number.NaN) - startedAt,
  };
}

async function main() {
  const clock = new MonotonicClock();
  const engines: [string, () => TTS][] = [
    ['flite slt', () => createLocalTts({ engine: 'flite', voice: 'slt' })],
    ['flite kal16', () => createLocalTts({ engine: 'flite', voice: 'kal16' })],
    ['espeak-ng', () => createLocalTts({ engine: 'espeak-ng' })],
    ['festival', () => createLocalTts({ engine: 'festival' })],
    ['streaming (scripted, TTFB 50 ms)', () => new ScriptedTts({ clock, ttfbMs: 50, streamingInput: true })],
  ];
  console.log(
    `first LLM token -> first audible TTS sample (ms), text at 50 tok/s, median (p95) of ${REPLIES.length} replies`,
  );
  console.log(`| engine | ${STRATEGIES.map((s) => `${s} (first chunk at)`).join(' | ')} |`);
  console.log(`| --- | ${STRATEGIES.map(() => '---').join(' | ')} |`);
  for (const [name, make] of engines) {
    const tts = make();
    try {
      await tts.prewarm?.();
      await firstAudibleMs(tts, 'Warm up.', 'sentence', clock);
      const cells: string[] = [];
      for (const strategy of STRATEGIES) {
        const runs = [];
        for (const reply of REPLIES) runs.push(await firstAudibleMs(tts, reply, strategy, clock));
        const ttfa = summarize(runs.map((r) => r.ttfa));
        const chunk = summarize(runs.map((r) => r.firstChunk));
        cells.push(`${ttfa.p50?.toFixed(0)} (${ttfa.p95?.toFixed(0)}) [${chunk.p50?.toFixed(0)}]`);
      }
      console.log(`| ${name} | ${cells.join(' | ')} |`);
    } catch (error) {
      console.log(`| ${name} | unavailable: ${(error as Error).message} |`);
    } finally {
      await tts.close?.();
    }
  }
  console.log('cells: TTFA p50 (p95) [first chunk sent to the TTS, p50]');
}

await main();
