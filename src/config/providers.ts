import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApologyAudioCache } from '../agent/apology.ts';
import { tokenCounterFor } from '../context/tokens.ts';
import type { ChatRequest, LLM, LlmChunk } from '../providers/llm/contract.ts';
import type { FallbackEvent } from '../providers/llm/fallback-rotation.ts';
import type { ProviderLog } from '../providers/llm/openai-compatible.ts';
import { createLlm } from '../providers/llm/spec.ts';
import type { STT } from '../providers/stt/contract.ts';
import { type CreateSttOptions, createStt } from '../providers/stt/spec.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { ELEVENLABS_DEFAULT_VOICE } from '../providers/tts/elevenlabs.ts';
import { FallbackTts } from '../providers/tts/fallback.ts';
import { type CreateTtsOptions, createTts, parseTtsSpec } from '../providers/tts/spec.ts';
import type { VAD } from '../providers/vad/contract.ts';
import { EnergyVad } from '../providers/vad/energy.ts';
import { SileroVAD } from '../providers/vad/silero.ts';
import { createCaches, type ProcessCaches, startPresynthesis } from './cache.ts';
import { ConfigError, type ReparteeConfig } from './config.ts';

export const NO_LLM_NOTICE =
  'No language model is configured, so I cannot answer yet. Run "repartee models pull" to download one, ' +
  'or set REPARTEE_LLM, for example to an OpenAI-compatible server.';

/** The cloud defaults picked by API keys; each is followed by the local provider as its fallback. */
export const CLOUD_DEFAULTS = {
  llm: 'openai:gpt-4o-mini',
  sttOpenAi: 'openai-realtime:gpt-4o-mini-transcribe',
  sttDeepgram: 'deepgram:nova-3',
  ttsOpenAi: 'openai:gpt-4o-mini-tts',
  ttsElevenLabs: `elevenlabs:${ELEVENLABS_DEFAULT_VOICE}`,
} as const;

export interface ResolvedSpecs {
  stt: string[];
  /** Empty: no LLM (the agent says how to configure one). */
  llm: string[];
  tts: string[];
}

const asList = (spec: string | string[]): string[] => (Array.isArray(spec) ? spec : [spec]);

/**
 * The provider lists to build: what the configuration names, else what the API keys in `env` pay for, with the
 * embedded local stack behind every cloud choice; without keys, the embedded default unchanged.
 * `localModel` is the GGUF found in the models folder, if any.
 */
export function resolveProviderSpecs(
  config: Pick<ReparteeConfig, 'stt' | 'llm' | 'tts'>,
  env: Record<string, string | undefined>,
  localModel: string | null,
): ResolvedSpecs {
  const openai = Boolean(env.OPENAI_API_KEY);
  const local = localModel ? [`llama:${localModel}`] : [];
  const llm = config.llm ? asList(config.llm) : openai ? [CLOUD_DEFAULTS.llm, ...local] : local;
  const stt = config.stt
    ? asList(config.stt)
    : env.DEEPGRAM_API_KEY
      ? [CLOUD_DEFAULTS.sttDeepgram, 'local']
      : openai
        ? [CLOUD_DEFAULTS.sttOpenAi, 'local']
        : ['local'];
  const tts = config.tts
    ? asList(config.tts)
    : env.ELEVENLABS_API_KEY
      ? [CLOUD_DEFAULTS.ttsElevenLabs, 'local']
      : openai
        ? [CLOUD_DEFAULTS.ttsOpenAi, 'local']
        : ['local'];
  return { stt, llm, tts };
}

export interface ProviderSet {
  vad: VAD;
  stt: STT;
  /**
   * The process's TTS, for a session when there is no `createSessionTts` (and for start-up checks). A fallback
   * list here is one rotation for every session that uses it.
   */
  tts: TTS;
  /**
   * A TTS of its own for one session, which the session's owner closes when it ends. A fallback list (and an
   * `elevenlabs:` socket with its HTTP fallback) keeps the provider in use and its fallback count per session, so
   * one session's outage moves only that session; the local engines inside are the process's resident ones and
   * outlive it. Optional so that a hand-built set (benchmarks, tests) may share `tts`.
   */
  createSessionTts?(): TTS;
  /** What was built, fallback lists in order (for the start-up log). */
  specs?: ResolvedSpecs;
  /** The LLM list in use (`a > b`), or null when none is configured. */
  llmSpec: string | null;
  /** A fresh LLM for one session (a local model keeps one KV cache per session; a fallback list its state). */
  createSessionLlm(): Promise<LLM>;
  /** An LLM for background summaries (`summarizerLlm`), with the same options as the session's. */
  createSummarizerLlm?(spec: string): Promise<LLM>;
  /** The apology every session says when a provider fails, synthesized once per voice for the process. */
  apologyCache?: ApologyAudioCache;
  /** The TTS audio cache and the response cache, shared by the process's sessions (src/config/cache.ts). */
  caches?: ProcessCaches;
  close(): Promise<void>;
}

export interface CreateProvidersOptions {
  /** Keys and endpoints come from here only. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Retry and fallback lines (never a key). */
  log?: ProviderLog;
  /** Every switch to a fallback provider (the log line is written either way). */
  onFallback?: (event: FallbackEvent) => void;
  /** Per-provider STT tuning for a library user (timeouts, retries); keys and URLs still come from `env`. */
  sttTuning?: Pick<CreateSttOptions, 'deepgram' | 'openaiRealtime' | 'openai' | 'assemblyai' | 'cartesia'>;
}

/** Builds the providers a configuration names (or the API keys pick); the embedded local stack by default. */
export async function createProviders(
  config: ReparteeConfig,
  options: CreateProvidersOptions = {},
): Promise<ProviderSet> {
  const env = options.env ?? process.env;
  const specs = resolveProviderSpecs(config, env, await findLocalModel(config.modelsDir));
  const vad = createVad(config.vad);
  let stt: STT;
  let tts: TTS;
  let sessionTts: SessionTtsFactory;
  try {
    stt = createStt(specs.stt, {
      ...options.sttTuning,
      language: config.language,
      env,
      log: options.log,
      onFallback: (event) =>
        options.onFallback?.({
          kind: 'stt',
          from: event.from,
          to: event.to,
          reason: event.reason === 'latency' ? 'budget' : 'error',
          ...(event.error ? { error: event.error.message } : {}),
          atMs: performance.now(),
        }),
    });
    sessionTts = new SessionTtsFactory(specs.tts, {
      env,
      log: options.log,
      fallback: {
        budgetMs: config.ttsFallbackBudgetMs,
        retryPrimaryAfterMs: config.fallbackRetryPrimaryAfterMs,
        onFallback: options.onFallback,
      },
    });
    tts = sessionTts.create();
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const llmOptions = {
    env,
    log: options.log,
    llama: { maxTokens: config.llmMaxTokens, ...(config.llmThreads ? { threads: config.llmThreads } : {}) },
    openai: { maxTokens: config.llmMaxTokens },
    fallback: {
      budgetMs: config.llmFallbackBudgetMs,
      retryPrimaryAfterMs: config.fallbackRetryPrimaryAfterMs,
      onFallback: options.onFallback,
    },
  };
  let caches: ProcessCaches;
  try {
    caches = createCaches(config, env, specs.tts);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  // The fixed phrases (status lines, apologies, the no-model notice) are in the TTS cache before they are needed,
  // synthesized on a TTS of their own (a fallback list's switches there move no session's).
  startPresynthesis(caches, sessionTts.create(), config, specs.llm.length ? [] : [NO_LLM_NOTICE], (line) =>
    console.log(line),
  );
  // Fail at start-up on a bad spec, a missing key or a missing model file, not on the first turn.
  // A tiktoken encoder is built now, once per process: parsing its rank table blocks the event loop for
  // 250-450 ms, which the first caller's session would otherwise pay while every other conversation waits. (An
  // LLM with its own tokenizer, a GGUF or Claude's count endpoint, builds that when its first session needs it.)
  if (specs.llm.length) {
    const llm = await createLlm(specs.llm, llmOptions);
    try {
      if (!llm.tokenCounter) await tokenCounterFor(llm);
    } finally {
      await llm.close?.();
    }
  }
  return {
    vad,
    stt,
    tts,
    specs,
    llmSpec: specs.llm.length ? specs.llm.join(' > ') : null,
    apologyCache: new ApologyAudioCache(),
    caches,
    createSummarizerLlm: (spec) => createLlm(spec, llmOptions),
    createSessionLlm: async () =>
      specs.llm.length ? createLlm(specs.llm, llmOptions) : new UnconfiguredLlm(),
    createSessionTts: () => (sessionTts.perSession ? sessionTts.create() : shareOf(tts)),
    close: async () => {
      await tts.close?.();
      await sessionTts.close();
      (stt as { dispose?: () => void }).dispose?.();
      await caches.close();
    },
  };
}

/**
 * Builds the TTS of a spec list, once per session where it keeps per-session state: a fallback list's rotation,
 * an `elevenlabs:` socket with its HTTP fallback. The local engines (flite, espeak-ng: one native binding per
 * process; festival: one resident child per synthesizer) are built once, shared by every TTS made here, and
 * closed only with the factory.
 */
class SessionTtsFactory {
  readonly perSession: boolean;
  private readonly local = new Map<string, TTS>();

  constructor(
    private readonly specs: readonly string[],
    private readonly options: CreateTtsOptions,
  ) {
    // A socket client keeps one connection per session, so a fault on it never reaches another session.
    this.perSession =
      specs.length > 1 ||
      specs.some((spec) => ['elevenlabs', 'cartesia', 'deepgram-aura'].includes(parseTtsSpec(spec).kind));
  }

  create(): TTS {
    const providers = this.specs.map((spec) =>
      this.isLocal(spec) ? this.shared(spec) : createTts(spec, this.options),
    );
    return providers.length === 1
      ? providers[0]
      : new FallbackTts(providers, { log: this.options.log, ...this.options.fallback });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.local.values()].map((tts) => tts.close?.()));
    this.local.clear();
  }

  private isLocal(spec: string): boolean {
    const { kind } = parseTtsSpec(spec);
    return kind === 'local' || kind === 'engine';
  }

  private shared(spec: string): TTS {
    let tts = this.local.get(spec);
    if (!tts) {
      tts = createTts(spec, this.options);
      this.local.set(spec, tts);
    }
    return shareOf(tts);
  }
}

/** `tts` for one user among many: everything but close (its owner closes it). */
function shareOf(tts: TTS): TTS {
  return {
    name: tts.name,
    sampleRate: tts.sampleRate,
    stream: (options) => tts.stream(options),
    ...(tts.prewarm ? { prewarm: () => tts.prewarm?.() ?? Promise.resolve() } : {}),
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

/** The first GGUF in the models folder, if any. */
async function findLocalModel(modelsDir: string): Promise<string | null> {
  try {
    const gguf = (await readdir(modelsDir)).filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
    return gguf.length ? join(modelsDir, gguf[0]) : null;
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
