import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatRequest, LLM, LlmChunk } from '../providers/llm/contract.ts';
import { createLlm } from '../providers/llm/spec.ts';
import type { STT } from '../providers/stt/contract.ts';
import { PocketsphinxSTT } from '../providers/stt/pocketsphinx.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { createLocalTts, LOCAL_TTS_ENGINES, type LocalTtsEngine } from '../providers/tts/local.ts';
import type { VAD } from '../providers/vad/contract.ts';
import { EnergyVad } from '../providers/vad/energy.ts';
import { SileroVAD } from '../providers/vad/silero.ts';
import { ConfigError, type ReparteeConfig } from './config.ts';

export const NO_LLM_NOTICE =
  'No language model is configured, so I cannot answer yet. Run "repartee models pull" to download one, ' +
  'or set REPARTEE_LLM, for example to an OpenAI-compatible server.';

export interface ProviderSet {
  vad: VAD;
  stt: STT;
  tts: TTS;
  /** The LLM spec in use, or null when none is configured. */
  llmSpec: string | null;
  /** A fresh LLM for one session (a local model keeps one KV cache per session). */
  createSessionLlm(): Promise<LLM>;
  close(): Promise<void>;
}

/** Builds the providers a configuration names; the embedded local stack by default. */
export async function createProviders(config: ReparteeConfig): Promise<ProviderSet> {
  const vad = createVad(config.vad);
  const stt = createStt(config.stt);
  const tts = createTts(config.tts);
  const llmSpec = await resolveLlmSpec(config);
  // Fail at start-up on a bad spec or a missing model file, not on the first turn.
  if (llmSpec) await (await createLlm(llmSpec, llmOptions(config))).close?.();
  return {
    vad,
    stt,
    tts,
    llmSpec,
    createSessionLlm: async () => (llmSpec ? createLlm(llmSpec, llmOptions(config)) : new UnconfiguredLlm()),
    close: async () => {
      await tts.close?.();
      if (stt instanceof PocketsphinxSTT) stt.dispose();
    },
  };
}

function llmOptions(config: ReparteeConfig) {
  return {
    llama: { maxTokens: config.llmMaxTokens, ...(config.llmThreads ? { threads: config.llmThreads } : {}) },
    openai: { maxTokens: config.llmMaxTokens },
  };
}

function createVad(spec: string): VAD {
  switch (spec) {
    case 'silero':
      return new SileroVAD();
    case 'energy':
      return new EnergyVad();
    default:
      throw new ConfigError(`unknown vad "${spec}" (expected "silero" or "energy")`);
  }
}

function createStt(spec: string): STT {
  switch (spec) {
    case 'local':
    case 'pocketsphinx':
      return new PocketsphinxSTT({ search: 'fast' });
    case 'pocketsphinx:accurate':
      return new PocketsphinxSTT({ search: 'accurate' });
    default:
      throw new ConfigError(
        `unknown stt "${spec}" (expected "local", "pocketsphinx" or "pocketsphinx:accurate")`,
      );
  }
}

function createTts(spec: string): TTS {
  if (spec === 'local') return createLocalTts();
  const [engine, voice] = spec.split(':', 2);
  if (!LOCAL_TTS_ENGINES.includes(engine as LocalTtsEngine)) {
    throw new ConfigError(
      `unknown tts "${spec}" (expected "local" or one of ${LOCAL_TTS_ENGINES.join(', ')}[:voice])`,
    );
  }
  return createLocalTts({ engine: engine as LocalTtsEngine, voice: voice || undefined });
}

/** The configured spec (the first of a fallback list), else the first GGUF in the models folder. */
async function resolveLlmSpec(config: ReparteeConfig): Promise<string | null> {
  if (config.llm) return Array.isArray(config.llm) ? config.llm[0] : config.llm;
  try {
    const gguf = (await readdir(config.modelsDir)).filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
    return gguf.length ? `llama:${join(config.modelsDir, gguf[0])}` : null;
  } catch {
    return null;
  }
}

export class LlmNotConfiguredError extends Error {
  override readonly name = 'LlmNotConfiguredError';
  constructor() {
    super(NO_LLM_NOTICE);
  }
}

/** Stands in when no LLM is configured: every request fails plainly; nothing pretends to answer. */
class UnconfiguredLlm implements LLM {
  readonly name = 'none';
  // biome-ignore lint/correctness/useYield: it has nothing to stream, only an error to raise
  async *chat(_request: ChatRequest): AsyncIterable<LlmChunk> {
    throw new LlmNotConfiguredError();
  }
}
