import { homedir } from 'node:os';
import { join } from 'node:path';
import { SentenceChunker } from '../agent/chunker.ts';
import { DEFAULT_LONG_TOOLS, resolveProviderFailureOptions } from '../agent/options.ts';
import type { ResponseCacheBinding } from '../agent/reply-cache.ts';
import { CachedTts } from '../cache/cached-tts.ts';
import { createEmbedder } from '../cache/embeddings.ts';
import { ResponseCache } from '../cache/response-cache.ts';
import { TtsAudioStore } from '../cache/tts-store.ts';
import type { TTS } from '../providers/tts/contract.ts';
import type { ReparteeConfig } from './config.ts';

/** The process's caches, shared by its sessions (ProviderSet.caches). */
export interface ProcessCaches {
  tts?: TtsAudioStore;
  /** What decides the sound besides the provider's name: the TTS spec list. */
  ttsIdentity: string;
  response?: ResponseCache;
  /** Pre-synthesis of the fixed phrases; resolves when it is done (or was stopped). */
  presynthesis?: Promise<{ synthesized: number; cached: number }>;
  /** Aborted by close(): stops the pre-synthesis. */
  readonly signal: AbortSignal;
  close(): Promise<void>;
}

export function defaultTtsCacheDir(env: Record<string, string | undefined>): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'repartee', 'tts');
}

/** Builds the caches the configuration turns on; `log` gets a line per corrupt file or failed embedding. */
export function createCaches(
  config: ReparteeConfig,
  env: Record<string, string | undefined>,
  ttsSpecs: readonly string[],
  log: (line: string) => void = (line) => console.warn(line),
): ProcessCaches {
  const { tts, response } = config.cache;
  const stop = new AbortController();
  const dir = tts.dir === undefined ? defaultTtsCacheDir(env) : tts.dir || undefined;
  const store = tts.enabled
    ? new TtsAudioStore({
        memoryBytes: tts.memoryMb * 1024 * 1024,
        dir,
        diskBytes: tts.diskMb * 1024 * 1024,
        log,
      })
    : undefined;
  const responses = response.enabled
    ? new ResponseCache({
        mode: response.mode,
        ttlMs: response.ttlMs,
        maxEntries: response.maxEntries,
        allowList: response.allowList,
        threshold: response.threshold,
        embeddingTimeoutMs: response.embeddingTimeoutMs,
        embedder: response.embeddings ? createEmbedder(response.embeddings, env) : undefined,
        log,
      })
    : undefined;
  const caches: ProcessCaches = {
    tts: store,
    ttsIdentity: JSON.stringify(ttsSpecs),
    response: responses,
    signal: stop.signal,
    close: async () => {
      stop.abort(new Error('closing'));
      await caches.presynthesis?.catch(() => undefined);
      await store?.settled();
      await responses?.close();
    },
  };
  return caches;
}

/** The session's TTS behind the audio cache (unchanged when it is off, or a streaming-input engine not forced in). */
export function cachedSessionTts(tts: TTS, caches: ProcessCaches | undefined, config: ReparteeConfig): TTS {
  if (!caches?.tts) return tts;
  if (tts.streamingInput && !config.cache.tts.streamingEngines) return tts;
  return new CachedTts(tts, { store: caches.tts, identity: caches.ttsIdentity });
}

/** The fixed phrases of the configuration, as the sentences a session sends its TTS. */
export function fixedPhrases(config: ReparteeConfig, extra: readonly string[] = []): string[] {
  const failure = resolveProviderFailureOptions(config.providerFailure);
  const longTools = { ...DEFAULT_LONG_TOOLS, ...config.longTools };
  const texts = [
    ...config.cache.tts.phrases,
    longTools.statusText,
    longTools.timeoutApology,
    failure.apology,
    ...extra,
  ];
  const sentences: string[] = [];
  for (const text of texts) {
    if (!text?.trim()) continue;
    const chunker = new SentenceChunker({ streamingInput: false });
    for (const sentence of [...chunker.push(text), chunker.flush()]) if (sentence) sentences.push(sentence);
  }
  return sentences;
}

/**
 * Starts synthesizing the fixed phrases in the background on `tts`, which it closes when done (stopped by
 * `caches.close()`).
 */
export function startPresynthesis(
  caches: ProcessCaches,
  tts: TTS,
  config: ReparteeConfig,
  extra: readonly string[],
  log: (line: string) => void,
): void {
  const wrapped = cachedSessionTts(tts, caches, config);
  if (!(wrapped instanceof CachedTts) || !config.cache.tts.presynthesize) {
    void tts.close?.().catch(() => undefined);
    return;
  }
  const started = performance.now();
  caches.presynthesis = wrapped
    .presynthesize(fixedPhrases(config, extra), caches.signal)
    .then(
      (result) => {
        if (result.synthesized > 0) {
          log(
            `tts cache: ${result.synthesized} fixed phrases synthesized, ${result.cached} already cached ` +
              `(${Math.round(performance.now() - started)} ms)`,
          );
        }
        return result;
      },
      (error) => {
        if (!caches.signal.aborted) log(`tts cache: pre-synthesis failed: ${(error as Error).message}`);
        return { synthesized: 0, cached: 0 };
      },
    )
    .finally(() => tts.close?.().catch(() => undefined));
}

/** The response cache as one agent sees it (its instructions, version, model and tools make the scope). */
export function responseBinding(
  caches: ProcessCaches | undefined,
  config: ReparteeConfig,
  llmSpec: string | null,
  toolNames: readonly string[],
): ResponseCacheBinding | undefined {
  if (!caches?.response || !llmSpec) return undefined;
  const scope = ResponseCache.scopeKey({
    instructions: config.instructions,
    agentVersion: config.cache.response.agentVersion,
    llm: llmSpec,
    tools: [...toolNames].sort(),
  });
  return { cache: caches.response, scope, storeFrom: config.cache.response.storeFrom };
}
