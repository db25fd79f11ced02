import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { LlmError } from './errors.ts';

/**
 * The process-wide model cache: llama.cpp's backend is initialised once, and each GGUF is loaded once however many
 * sessions use it (weights are shared, every session gets its own context). This is the module's only mutable
 * state, on purpose: loading a 0.5B model costs about a second and ~500 MB, and must not be paid per call.
 */
let backend: Promise<Llama> | undefined;
const models = new Map<string, Promise<LlamaModel>>();

export interface BackendOptions {
  /** llama.cpp's own log level; `warn` shows harmless tokenizer warnings for some GGUFs. Default `error`. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

/** The shared llama.cpp backend: CPU only, prebuilt binaries only (never compiles). First caller's options win. */
export function sharedLlama(options: BackendOptions = {}): Promise<Llama> {
  backend ??= getLlama({
    gpu: false,
    build: 'never',
    logLevel: toLogLevel(options.logLevel ?? 'error'),
  }).catch((error: unknown) => {
    backend = undefined;
    throw new LlmError(
      'backend',
      `node-llama-cpp could not start its prebuilt CPU backend (it never compiles here): ${message(error)}`,
      { cause: error },
    );
  });
  return backend;
}

/** Loads `modelPath` once per process; later calls (any session) get the same model. */
export function loadSharedModel(modelPath: string, options: BackendOptions = {}): Promise<LlamaModel> {
  const key = resolve(modelPath);
  let model = models.get(key);
  if (!model) {
    model = (async () => {
      try {
        await access(key);
      } catch {
        throw new LlmError(
          'model-missing',
          `LLM model file not found: ${key}. Run \`repartee models pull\`.`,
        );
      }
      const llama = await sharedLlama(options);
      try {
        return await llama.loadModel({ modelPath: key });
      } catch (error) {
        throw new LlmError('model-load', `could not load ${key} as a GGUF model: ${message(error)}`, {
          cause: error,
        });
      }
    })();
    // A failed load is not cached: the file may appear later (e.g. after `models pull`).
    model.catch(() => models.delete(key));
    models.set(key, model);
  }
  return model;
}

/** Unloads every cached model (tests, shutdown). Contexts still using one are disposed with it. */
export async function unloadSharedModels(): Promise<void> {
  const loaded = [...models.values()];
  models.clear();
  await Promise.all(loaded.map(async (m) => (await m.catch(() => undefined))?.dispose()));
}

function toLogLevel(level: NonNullable<BackendOptions['logLevel']>): LlamaLogLevel {
  return {
    error: LlamaLogLevel.error,
    warn: LlamaLogLevel.warn,
    info: LlamaLogLevel.info,
    debug: LlamaLogLevel.debug,
  }[level];
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
