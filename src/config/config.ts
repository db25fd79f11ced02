import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const durationMs = z.number().int().min(0).max(600_000);

export const ConfigSchema = z
  .object({
    /** `silero` (default) or `energy`. */
    vad: z.string().default('silero'),
    /** `local` / `pocketsphinx` (fast search) or `pocketsphinx:accurate`. */
    stt: z.string().default('local'),
    /**
     * An LLM spec or a fallback list: `llama:./models/x.gguf`, `openai-compatible:<baseURL>#<model>`,
     * `openai:<model>`. Unset: the first .gguf in `modelsDir`, else no LLM (the agent says how to configure one).
     */
    llm: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** `local` (the measured default engine), `flite[:voice]`, `espeak-ng[:voice]` or `festival[:voice]`. */
    tts: z.string().default('local'),
    instructions: z
      .string()
      .default(
        'You are Repartee, a friendly voice assistant. Answer in one to three short spoken sentences, with no ' +
          'lists, markdown or emoji.',
      ),
    language: z.string().default('en'),
    modelsDir: z.string().default('./models'),
    /** Threads for a local llama.cpp model; unset picks the measured default for this machine. */
    llmThreads: z.number().int().min(1).max(256).optional(),
    /** Upper bound of one reply, in tokens (a spoken answer is short; this stops a rambling model). */
    llmMaxTokens: z.number().int().min(1).max(8192).default(256),
    preemptiveGeneration: z.boolean().default(true),
    endpointing: z
      .object({ minDelayMs: durationMs.optional(), maxDelayMs: durationMs.optional() })
      .strict()
      .default({}),
    interruption: z
      .object({
        enabled: z.boolean().optional(),
        minWords: z.number().int().min(0).max(20).optional(),
        falseInterruptionTimeoutMs: durationMs.optional(),
      })
      .strict()
      .default({}),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        /** Required from clients when the server listens beyond loopback; generated at start if unset. */
        token: z.string().min(16).optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    /** Append every turn's metrics as JSON lines to this file. */
    metricsLog: z.string().optional(),
  })
  .strict();

export type ReparteeConfig = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ENV_KEYS: Record<string, (value: string, config: Record<string, unknown>) => void> = {
  REPARTEE_VAD: (v, c) => {
    c.vad = v;
  },
  REPARTEE_STT: (v, c) => {
    c.stt = v;
  },
  REPARTEE_LLM: (v, c) => {
    c.llm = v.includes(',') ? v.split(',').map((s) => s.trim()) : v;
  },
  REPARTEE_TTS: (v, c) => {
    c.tts = v;
  },
  REPARTEE_MODELS_DIR: (v, c) => {
    c.modelsDir = v;
  },
  REPARTEE_LLM_THREADS: (v, c) => {
    c.llmThreads = Number(v);
  },
  REPARTEE_LLM_MAX_TOKENS: (v, c) => {
    c.llmMaxTokens = Number(v);
  },
  REPARTEE_HOST: (v, c) => {
    c.server = { ...(c.server as object), host: v };
  },
  REPARTEE_PORT: (v, c) => {
    c.server = { ...(c.server as object), port: Number(v) };
  },
  REPARTEE_TOKEN: (v, c) => {
    c.server = { ...(c.server as object), token: v };
  },
  REPARTEE_METRICS_LOG: (v, c) => {
    c.metricsLog = v;
  },
};

export interface LoadConfigOptions {
  /** A JSON file; missing is fine only when it was not asked for explicitly. */
  file?: string;
  fileRequired?: boolean;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, unknown>;
}

/** defaults ← repartee.config.json ← REPARTEE_* environment ← overrides (CLI flags, code). */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ReparteeConfig> {
  const merged: Record<string, unknown> = {};
  const file = options.file ?? 'repartee.config.json';
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || options.fileRequired) {
      throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`);
    }
  }
  if (text !== undefined) {
    try {
      Object.assign(merged, JSON.parse(text));
    } catch (error) {
      throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const env = options.env ?? process.env;
  for (const [key, apply] of Object.entries(ENV_KEYS)) {
    const value = env[key];
    if (value !== undefined && value !== '') apply(value, merged);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    const current = merged[key];
    merged[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? { ...current, ...value }
        : value;
  }
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return parsed.data;
}
