/**
 * The simulated pass on the real cloud clients (issue 22): each chosen provider's client talks to its local fake
 * server (the same fakes the tests use), and the fake waits what its vendor documents before its first output.
 * `REPARTEE_BENCH_PROVIDERS=anthropic,cartesia` (one LLM of anthropic, google; one TTS of cartesia, deepgram-aura;
 * one STT of assemblyai, cartesia-stt) selects them; the others stay simulated. Figures used (what each vendor
 * publishes, else the cloud profile's):
 * - Cartesia Sonic: first audio in 135 ms (Cartesia's client README: "stream out the first audio chunk in just
 *   135ms"); audio paced at the profile's real-time factor.
 * - Deepgram Aura-2: first audio under 200 ms ("sub-200 ms TTFB"): 150-200 ms drawn.
 * - AssemblyAI Universal-Streaming: "immutable transcripts in ~300ms": the end-of-turn transcript 250-350 ms after
 *   the end of speech (or the ForceEndpoint), drawn; interims at the profile's delay. The fake hears the bench's
 *   clips with the same clip-matching recogniser the simulated STT is (it knows the clips the client plays).
 * - Cartesia STT: no published latency for its finals; the cloud profile's final delay.
 * - Anthropic, Google Gemini: no published time to first token; the cloud profile's 400-700 ms, and its token rate.
 */

import type { LLM } from '../../src/providers/llm/contract.ts';
import { createLlm } from '../../src/providers/llm/spec.ts';
import { FakeAnthropicServer } from '../../src/providers/llm/testing/anthropic-server.ts';
import { FakeGeminiServer } from '../../src/providers/llm/testing/google-server.ts';
import { latencySampler, seededRandom } from '../../src/providers/simulated-latency.ts';
import type { STT } from '../../src/providers/stt/contract.ts';
import { type KnownUtterance, SimulatedStt } from '../../src/providers/stt/simulated.ts';
import { createStt } from '../../src/providers/stt/spec.ts';
import { FakeAssemblyAiServer } from '../../src/providers/stt/testing/assemblyai-server.ts';
import { FakeCartesiaSttServer } from '../../src/providers/stt/testing/cartesia-stt-server.ts';
import type { TTS } from '../../src/providers/tts/contract.ts';
import { createTts } from '../../src/providers/tts/spec.ts';
import { FakeCartesiaServer } from '../../src/providers/tts/testing/cartesia-server.ts';
import { FakeDeepgramAuraServer } from '../../src/providers/tts/testing/deepgram-aura-server.ts';
import type { SimulatedProfile } from './ipc.ts';

export const BENCH_VENDORS = [
  'anthropic',
  'google',
  'cartesia',
  'deepgram-aura',
  'assemblyai',
  'cartesia-stt',
] as const;
export type BenchVendor = (typeof BENCH_VENDORS)[number];

export const VENDOR_LATENCY = {
  cartesia: { ttfbMs: 135 },
  'deepgram-aura': { ttfbMs: { minMs: 150, maxMs: 200 } },
  assemblyai: { finalMs: { minMs: 250, maxMs: 350 } },
} as const;

/** The vendors named in `REPARTEE_BENCH_PROVIDERS`; an unknown name stops the bench with the accepted ones. */
export function benchVendors(env = process.env.REPARTEE_BENCH_PROVIDERS): BenchVendor[] {
  const names = (env ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!BENCH_VENDORS.includes(n as BenchVendor)) {
      throw new Error(
        `REPARTEE_BENCH_PROVIDERS: unknown provider "${n}"; one of ${BENCH_VENDORS.join(', ')}`,
      );
    }
  }
  for (const pair of [
    ['anthropic', 'google'],
    ['cartesia', 'deepgram-aura'],
    ['assemblyai', 'cartesia-stt'],
  ]) {
    if (pair.every((n) => names.includes(n)))
      throw new Error(`REPARTEE_BENCH_PROVIDERS: one of ${pair.join(' or ')}, not both`);
  }
  return names as BenchVendor[];
}

export interface VendorStack {
  description: string;
  createLlm?: () => Promise<LLM>;
  createTts?: () => TTS;
  stt?: STT;
  close(): Promise<void>;
}

const KEY = 'bench-fake-key-0123456789';

export async function vendorStack(
  vendors: readonly BenchVendor[],
  profile: SimulatedProfile,
  /** The clips the bench client plays, with their transcripts (what the STT fake hears). */
  utterances: readonly KnownUtterance[] = [],
): Promise<VendorStack> {
  const closers: (() => Promise<void>)[] = [];
  const env: Record<string, string> = {};
  const parts: string[] = [];
  const random = seededRandom(22);
  let llm: VendorStack['createLlm'];
  let tts: VendorStack['createTts'];
  if (vendors.includes('anthropic')) {
    const ttft = latencySampler(profile.llmTtft, random, 'llmTtft');
    let reply = 0;
    const fake = await FakeAnthropicServer.start({
      apiKey: KEY,
      script: () => ({
        text: profile.replies[reply++ % profile.replies.length],
        firstEventDelayMs: ttft(),
        chunkIntervalMs: 1000 / profile.llmTokensPerSecond,
      }),
    });
    closers.push(() => fake.close());
    Object.assign(env, { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: fake.baseURL });
    llm = () => createLlm('anthropic:claude-haiku-4-5', { env });
    parts.push('anthropic (fake, cloud-profile TTFT)');
  } else if (vendors.includes('google')) {
    const ttft = latencySampler(profile.llmTtft, random, 'llmTtft');
    let reply = 0;
    const fake = await FakeGeminiServer.start({
      apiKey: KEY,
      script: () => ({
        text: profile.replies[reply++ % profile.replies.length],
        firstChunkDelayMs: ttft(),
        chunkIntervalMs: 1000 / profile.llmTokensPerSecond,
      }),
    });
    closers.push(() => fake.close());
    Object.assign(env, { GEMINI_API_KEY: KEY, GEMINI_BASE_URL: fake.baseURL });
    llm = () => createLlm('google:gemini-2.5-flash', { env });
    parts.push('google (fake, cloud-profile TTFT)');
  }
  let stt: STT | undefined;
  if (vendors.includes('assemblyai')) {
    const recognizer = new SimulatedStt({
      utterances,
      finalDelay: VENDOR_LATENCY.assemblyai.finalMs,
      interimDelayMs: profile.sttInterimDelayMs,
      seed: 22,
    });
    const fake = await new FakeAssemblyAiServer({ apiKey: KEY, recognizer }).start();
    closers.push(() => fake.close());
    Object.assign(env, { ASSEMBLYAI_API_KEY: KEY, ASSEMBLYAI_BASE_URL: fake.url });
    stt = createStt('assemblyai', { env, language: 'en' });
    parts.push('assemblyai (fake, 250-350 ms final)');
  }
  if (vendors.includes('cartesia-stt')) {
    // Cartesia publishes no figure for its STT's finals: the cloud profile's, as for Gemini's TTFT.
    const recognizer = new SimulatedStt({
      utterances,
      finalDelay: profile.sttFinal,
      interimDelayMs: profile.sttInterimDelayMs,
      seed: 23,
    });
    const fake = new FakeCartesiaSttServer({ apiKey: KEY, recognizer });
    await fake.start();
    closers.push(() => fake.close());
    Object.assign(env, { CARTESIA_API_KEY: KEY, CARTESIA_STT_BASE_URL: fake.url });
    stt = createStt('cartesia', { env, language: 'en' });
    parts.push('cartesia STT (fake, cloud-profile final)');
  }
  const chunkIntervalMs = 40 * profile.ttsRealTimeFactor;
  if (vendors.includes('cartesia')) {
    const ttfb = latencySampler(VENDOR_LATENCY.cartesia.ttfbMs, random);
    const fake = await new FakeCartesiaServer({
      apiKey: KEY,
      msPerCharacter: 65,
      chunkIntervalMs,
      firstAudioMs: ttfb,
    }).start();
    closers.push(() => fake.close());
    Object.assign(env, { CARTESIA_API_KEY: KEY, CARTESIA_BASE_URL: fake.baseUrl });
    tts = () => createTts('cartesia', { env });
    parts.push('cartesia (fake, 135 ms first audio)');
  } else if (vendors.includes('deepgram-aura')) {
    const ttfb = latencySampler(VENDOR_LATENCY['deepgram-aura'].ttfbMs, random);
    const fake = await new FakeDeepgramAuraServer({
      apiKey: KEY,
      msPerCharacter: 65,
      chunkIntervalMs,
      firstAudioMs: ttfb,
    }).start();
    closers.push(() => fake.close());
    Object.assign(env, { DEEPGRAM_API_KEY: KEY, DEEPGRAM_TTS_BASE_URL: fake.baseUrl });
    // REPARTEE_BENCH_AURA_CONNECTIONS=1: replies take turns on one socket (the before of the A/B in docs/providers.md).
    const connections = Number(process.env.REPARTEE_BENCH_AURA_CONNECTIONS ?? 2);
    tts = () => createTts('deepgram-aura', { env, deepgramAura: { maxConnections: connections } });
    parts.push('deepgram-aura (fake, 150-200 ms first audio)');
  }
  return {
    description: parts.join(', '),
    ...(llm ? { createLlm: llm } : {}),
    ...(tts ? { createTts: tts } : {}),
    ...(stt ? { stt } : {}),
    close: async () => {
      for (const c of closers) await c();
    },
  };
}
