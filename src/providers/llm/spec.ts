import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { AnthropicLlm, type AnthropicOptions } from './anthropic.ts';
import type { LLM } from './contract.ts';
import { LlmError } from './errors.ts';
import { FallbackLlm } from './fallback.ts';
import type { FallbackOptions } from './fallback-rotation.ts';
import { GoogleLlm, type GoogleLlmOptions } from './google.ts';
import { LlamaLlm, type LlamaLlmOptions } from './llama.ts';
import { OpenAiCompatibleLlm, type OpenAiCompatibleOptions, type ProviderLog } from './openai-compatible.ts';

export type LlmSpec =
  | { kind: 'llama'; modelPath: string }
  | { kind: 'openai-compatible'; baseURL: string; model: string }
  | { kind: 'openai'; model: string }
  | { kind: 'anthropic'; model: string }
  | { kind: 'google'; model: string };

const EXAMPLES =
  'expected one of "llama:./models/model.gguf", "openai-compatible:http://127.0.0.1:11434/v1#qwen2.5", ' +
  '"openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "google:gemini-2.5-flash"';

/** Parses an `llm` spec string; throws LlmError('bad-spec') with the accepted forms. */
export function parseLlmSpec(spec: string): LlmSpec {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  const kind = colon > 0 ? trimmed.slice(0, colon) : '';
  const rest = colon > 0 ? trimmed.slice(colon + 1).trim() : '';
  const bad = (why: string) => new LlmError('bad-spec', `bad llm spec "${spec}": ${why}; ${EXAMPLES}`);
  switch (kind) {
    case 'llama':
      if (!rest) throw bad('missing the path of a .gguf file');
      if (!rest.toLowerCase().endsWith('.gguf')) throw bad(`"${rest}" is not a .gguf file`);
      return { kind, modelPath: rest };
    case 'openai-compatible': {
      const hash = rest.lastIndexOf('#');
      if (hash < 0) throw bad('missing "#<model>" after the base URL');
      const baseURL = rest.slice(0, hash);
      const model = rest.slice(hash + 1).trim();
      if (!model) throw bad('empty model name after "#"');
      let url: URL;
      try {
        url = new URL(baseURL);
      } catch {
        throw bad(`"${baseURL}" is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw bad(`"${baseURL}" is not an http(s) URL`);
      return { kind, baseURL, model };
    }
    case 'openai':
    case 'anthropic':
    case 'google':
      if (!rest) throw bad('missing the model name');
      return { kind, model: rest };
    default:
      throw bad(kind ? `unknown provider "${kind}"` : 'no provider prefix');
  }
}

export interface CreateLlmOptions {
  /** Options for `llama:` specs (threads, context size, chat wrapper, …). */
  llama?: Omit<LlamaLlmOptions, 'modelPath'>;
  /** Options for `openai:` and `openai-compatible:` specs (timeouts, retries, …). */
  openai?: Omit<OpenAiCompatibleOptions, 'model' | 'baseURL'>;
  /** Options for `anthropic:` specs (timeouts, retries, prompt caching, …). */
  anthropic?: Omit<AnthropicOptions, 'model' | 'apiKey'>;
  /** Options for `google:` specs. */
  google?: Omit<GoogleLlmOptions, 'model' | 'apiKey'>;
  /**
   * Secrets come from here only: OPENAI_API_KEY for `openai:`, REPARTEE_LLM_API_KEY (optional) for
   * `openai-compatible:` servers started with a key, ANTHROPIC_API_KEY (and optional ANTHROPIC_BASE_URL) for
   * `anthropic:`, GEMINI_API_KEY (or GOOGLE_API_KEY; optional GEMINI_BASE_URL) for `google:`. Default `process.env`.
   */
  env?: Record<string, string | undefined>;
  /** Relative `llama:` paths resolve against this. Default the working directory. */
  cwd?: string;
  /** For a list of specs: the first-token budget, when to retry the first, where fallbacks are reported. */
  fallback?: FallbackOptions;
  /** Retry and fallback lines (never a key). */
  log?: ProviderLog;
}

/**
 * Builds the LLM a spec, or a fallback list of specs, names. Every entry is checked now, so a typo anywhere in
 * the list fails at start-up.
 */
export async function createLlm(
  spec: string | readonly string[],
  options: CreateLlmOptions = {},
): Promise<LLM> {
  const specs = typeof spec === 'string' ? [spec] : spec;
  if (specs.length === 0) throw new LlmError('bad-spec', 'an llm fallback list needs at least one spec');
  if (specs.length === 1) return createOneLlm(specs[0], options);
  const providers: LLM[] = [];
  try {
    for (const one of specs) providers.push(await createOneLlm(one, options));
  } catch (error) {
    await Promise.allSettled(providers.map((p) => p.close?.()));
    throw error;
  }
  return new FallbackLlm(providers, { log: options.log, ...options.fallback });
}

/**
 * Builds the LLM a spec names. A `llama:` model file must exist (checked now, so a typo fails at start-up, not on
 * the first turn); the weights themselves load on `prewarm()` or the first turn.
 */
async function createOneLlm(spec: string, options: CreateLlmOptions): Promise<LLM> {
  const parsed = parseLlmSpec(spec);
  const env = options.env ?? process.env;
  switch (parsed.kind) {
    case 'llama': {
      const modelPath = isAbsolute(parsed.modelPath)
        ? parsed.modelPath
        : resolve(options.cwd ?? process.cwd(), parsed.modelPath);
      try {
        await access(modelPath);
      } catch {
        throw new LlmError(
          'model-missing',
          `LLM model file not found: ${modelPath} (from "${spec}"). Run \`repartee models pull\` to download the ` +
            'default model, or point the spec at an existing .gguf file.',
        );
      }
      return new LlamaLlm({ ...options.llama, modelPath, name: options.llama?.name ?? spec });
    }
    case 'openai-compatible':
      return new OpenAiCompatibleLlm({
        ...options.openai,
        baseURL: parsed.baseURL,
        model: parsed.model,
        apiKey: options.openai?.apiKey ?? env.REPARTEE_LLM_API_KEY,
        name: options.openai?.name ?? spec,
        log: options.openai?.log ?? options.log,
      });
    case 'openai': {
      const apiKey = options.openai?.apiKey ?? env.OPENAI_API_KEY;
      if (!apiKey) {
        throw new LlmError('missing-api-key', `"${spec}" needs the OPENAI_API_KEY environment variable`);
      }
      return new OpenAiCompatibleLlm({
        maxTokensParam: 'max_completion_tokens',
        ...options.openai,
        baseURL: env.OPENAI_BASE_URL || undefined,
        model: parsed.model,
        apiKey,
        name: options.openai?.name ?? spec,
        log: options.openai?.log ?? options.log,
      });
    }
    case 'anthropic': {
      const apiKey = env.ANTHROPIC_API_KEY;
      if (!apiKey) {
        throw new LlmError('missing-api-key', `"${spec}" needs the ANTHROPIC_API_KEY environment variable`);
      }
      return new AnthropicLlm({
        maxTokens: options.openai?.maxTokens,
        ...options.anthropic,
        baseURL: options.anthropic?.baseURL ?? (env.ANTHROPIC_BASE_URL || undefined),
        model: parsed.model,
        apiKey,
        name: options.anthropic?.name ?? spec,
        log: options.anthropic?.log ?? options.log,
      });
    }
    case 'google': {
      const apiKey = env.GEMINI_API_KEY || env.GOOGLE_API_KEY;
      if (!apiKey) {
        throw new LlmError(
          'missing-api-key',
          `"${spec}" needs the GEMINI_API_KEY (or GOOGLE_API_KEY) environment variable`,
        );
      }
      return new GoogleLlm({
        maxTokens: options.openai?.maxTokens,
        ...options.google,
        baseURL: options.google?.baseURL ?? (env.GEMINI_BASE_URL || undefined),
        model: parsed.model,
        apiKey,
        name: options.google?.name ?? spec,
        log: options.google?.log ?? options.log,
      });
    }
  }
}
