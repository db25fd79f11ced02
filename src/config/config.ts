import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { contextPolicySchema } from '../context/policy.ts';
import { AlertsConfigSchema } from '../metrics/alerts.ts';
import { OtelConfigSchema } from '../metrics/otel-config.ts';
import { DashboardConfigSchema } from '../server/dashboard-config.ts';
import { StoreConfigSchema } from '../store/config.ts';
import { ToolsConfigShape } from '../tools/config.ts';
import { CacheConfigSchema } from './cache-schema.ts';
import { ENV_KEYS } from './env.ts';
import { ExperimentsSchema } from './experiments.ts';
import { LanguagesConfigSchema } from './languages.ts';
import { MemoryConfigSchema } from './memory-schema.ts';
import { TelephonyConfigSchema } from './telephony.ts';

const durationMs = z.number().int().min(0).max(600_000);
const specOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** Per-client input bounds (src/transport/input-budget.ts): past them a client is dropped with a reason. */
const clientInputBounds = {
  maxAudioAheadMs: z.number().int().positive(),
  initialAudioAllowanceMs: z.number().int().positive(),
  maxDiscardedAudioMs: z.number().int().positive(),
  maxMessagesPerSecond: z.number().int().positive(),
  maxMessageBurst: z.number().int().positive(),
};

export const ConfigSchema = z
  .object({
    /** `silero` (default) or `energy`. */
    vad: z.string().default('silero'),
    /**
     * An STT spec or a fallback list: `local` / `pocketsphinx` (fast search), `pocketsphinx:accurate`, and the
     * cloud specs of `src/providers/stt/spec.ts`. Unset: chosen from the API keys in the environment
     * (`resolveProviderSpecs`), else `local`.
     */
    stt: specOrList.optional(),
    /**
     * An LLM spec or a fallback list: `llama:./models/x.gguf`, `openai-compatible:<baseURL>#<model>`,
     * `openai:<model>`. Unset: the first .gguf in `modelsDir`, else no LLM (the agent says how to configure one).
     */
    llm: specOrList.optional(),
    /**
     * A TTS spec or a fallback list: `local` (the measured default engine), `flite[:voice]`, `espeak-ng[:voice]`,
     * `festival[:voice]`, `openai[:<model>[:<voice>]]`, `elevenlabs[:<voice_id>[:<model_id>]]`. Unset: chosen
     * from the API keys in the environment, else `local`.
     */
    tts: specOrList.optional(),
    /** A fallback list moves to its next LLM when the first token takes longer than this. */
    llmFallbackBudgetMs: durationMs.default(2_000),
    /** A fallback list moves to its next TTS when the first audio takes longer than this. */
    ttsFallbackBudgetMs: durationMs.default(2_000),
    /** After a fallback, the first provider of the list is tried again this long after the switch. */
    fallbackRetryPrimaryAfterMs: durationMs.default(60_000),
    instructions: z
      .string()
      .default(
        'You are Repartee, a friendly voice assistant. Answer in one to three short spoken sentences, with no ' +
          'lists, markdown or emoji.',
      ),
    language: z.string().default('en'),
    /** Languages a conversation may switch between mid-call (src/config/languages.ts). Unset: `language` only. */
    languages: LanguagesConfigSchema.optional(),
    modelsDir: z.string().default('./models'),
    /** Threads for a local llama.cpp model; unset picks the measured default for this machine. */
    llmThreads: z.number().int().min(1).max(256).optional(),
    /** Upper bound of one reply, in tokens (a spoken answer is short; this stops a rambling model). */
    llmMaxTokens: z.number().int().min(1).max(8192).default(256),
    /**
     * A spoken reply ends after this many sentences (the LLM is stopped there; what is said and kept ends at a
     * sentence). 0: no budget, only `llmMaxTokens`.
     */
    maxReplySentences: z.number().int().min(0).max(100).default(3),
    preemptiveGeneration: z.boolean().default(true),
    /**
     * When the LLM or the TTS fails: `firstTokenBudgetMs` is the whole wait for a reply's first token, retries
     * and fallbacks included (default 8,000); `apology` is said in the session's voice ('' for none).
     */
    providerFailure: z
      .object({
        firstTokenBudgetMs: z.number().int().min(500).max(120_000).optional(),
        ttsStallTimeoutMs: z.number().int().min(500).max(120_000).optional(),
        apology: z.string().max(300).optional(),
        presynthesizeApology: z.boolean().optional(),
        apologyAudioTimeoutMs: z.number().int().min(100).max(10_000).optional(),
      })
      .strict()
      .default({}),
    /**
     * End-of-turn detector: `combined` (every signal, no download), `ngram`, `prosody`, `wordlist`, `fixed` or
     * `fixed:<p>` (the fixed-delay VAD baseline). See src/providers/turn/spec.ts.
     */
    turnDetector: z
      .string()
      .regex(/^(combined|ngram|prosody|wordlist|heuristic|fixed(:(0(\.\d+)?|1(\.0+)?))?)$/, {
        message: 'expected combined, ngram, prosody, wordlist, fixed or fixed:<probability 0..1>',
      })
      .default('combined'),
    /**
     * Add the local llama.cpp model's own end-of-turn probability to `combined` (only with a `llama:` LLM). Costs
     * a prefill of the new transcript tokens per pause on the LLM's cores; `turnDetectorLlmBudgetMs` bounds it.
     */
    turnDetectorLlm: z.boolean().default(false),
    turnDetectorLlmBudgetMs: z.number().int().min(10).max(5_000).default(250),
    endpointing: z
      .object({
        minDelayMs: durationMs.optional(),
        maxDelayMs: durationMs.optional(),
        /** Curve of the wait between max (p = 0) and min (p >= confidentAbove); 1 linear, 0.5 the default. */
        shape: z.number().min(0.1).max(10).optional(),
        confidentAbove: z.number().min(0.05).max(1).optional(),
        /** Dynamic endpointing: learn this user's in-turn pauses within the session. */
        adaptToUser: z.boolean().optional(),
        userPauseQuantile: z.number().min(0.5).max(1).optional(),
        userFloorCapMs: durationMs.optional(),
        finalTranscriptTimeoutMs: durationMs.optional(),
        /** New speech this soon after a commit (real onset) takes the commit back while its reply is unheard. */
        resumeMergeGraceMs: z.number().int().min(0).max(2_000).optional(),
        /** ...as long as the reply has played for no more than this at the client. */
        resumeMergeMaxHeardMs: z.number().int().min(0).max(5_000).optional(),
      })
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
        /**
         * Required from clients when the server listens beyond loopback; generated at start if unset. A set token
         * must be strong (at least 16 characters and about 64 bits of entropy, e.g. `openssl rand -hex 32`).
         */
        token: z.string().min(16).optional(),
        /**
         * Public host names (or origins, e.g. `http://lan-box:8080`) clients reach this server by; loopback names
         * and this machine's own addresses on the bound port are always accepted. Any other Host gets 403.
         */
        allowedHosts: z.array(z.string().min(1)).optional(),
        /** Sessions at once in this process; unset: from the measured cost per session and this machine's memory. */
        maxSessions: z.number().int().min(1).max(100_000).optional(),
        /** Sessions at once from one client address (429 past it); 0 turns the per-client cap off. */
        maxSessionsPerClient: z.number().int().min(0).max(100_000).optional(),
        /** Apply the per-client cap to loopback clients too (by default they count only towards maxSessions). */
        limitLoopbackClients: z.boolean().optional(),
        /** Reverse proxies (exact addresses) whose X-Forwarded-For names the client for the per-client cap. */
        trustedProxies: z.array(z.string().min(1)).optional(),
        /** Retry-After, in seconds, on a 503/429 refusal. */
        retryAfterSeconds: z.number().int().min(1).max(3600).optional(),
        /** Event-loop lag: logged above logAboveMs; /health "degraded" while a lag above degradedAboveMs is recent. */
        eventLoop: z
          .object({
            logAboveMs: z.number().int().min(1).max(600_000),
            degradedAboveMs: z.number().int().min(1).max(600_000),
            degradedHoldMs: z.number().int().min(1).max(600_000),
          })
          .partial()
          .strict()
          .optional(),
        /** Folder of the web client served at `/`; default: the repository's web/. */
        webRoot: z.string().optional(),
        webrtc: z
          .object({
            iceAdditionalHostAddresses: z.array(z.string()),
            connectTimeoutMs: z.number().int().positive(),
            disconnectGraceMs: z.number().int().nonnegative(),
            gatheringTimeoutMs: z.number().int().positive(),
            sendAheadMs: z.number().int().nonnegative(),
            receiptTimeoutMs: z.number().int().positive(),
            heartbeatIntervalMs: z.number().int().positive(),
            heartbeatTimeoutMs: z.number().int().positive(),
            /** Deployment: STUN/TURN servers (coturn), the UDP port range to open, addresses to advertise. */
            iceServers: z.array(
              z
                .object({
                  urls: z.string().min(1),
                  username: z.string().optional(),
                  credential: z.string().optional(),
                })
                .strict(),
            ),
            icePortRange: z
              .tuple([z.number().int().min(1024).max(65535), z.number().int().min(1024).max(65535)])
              .refine(([min, max]) => min < max, 'icePortRange: min must be below max'),
            ...clientInputBounds,
          })
          .partial()
          .strict()
          .optional(),
        websocket: z
          .object({
            outputSampleRate: z.union([z.literal(16000), z.literal(24000), z.literal(48000)]),
            receiptTimeoutMs: z.number().int().positive(),
            pingIntervalMs: z.number().int().positive(),
            pongTimeoutMs: z.number().int().positive(),
            maxUnsentAudioMs: z.number().int().positive(),
            closeGraceMs: z.number().int().positive(),
            ...clientInputBounds,
          })
          .partial()
          .strict()
          .optional(),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
    /** Append every turn's metrics as JSON lines to this file. */
    metricsLog: z.string().optional(),
    /** Scale-out (src/cluster): a worker registered in Redis; its conversations stored there and resumable. */
    cluster: z
      .object({
        redisUrl: z.string().min(1),
        workerId: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/)
          .optional(),
        /** This worker's address as others reach it (default: its listen address). */
        advertiseUrl: z.string().url().optional(),
        /** HAProxy agent-check port (0: any free one). */
        agentPort: z.number().int().min(0).max(65535).optional(),
        heartbeatMs: z.number().int().min(50).max(60_000).optional(),
        workerTtlMs: z.number().int().min(100).max(600_000).optional(),
        conversationTtlMs: z.number().int().min(1000).optional(),
        maxClockSkewMs: z.number().int().min(1).max(3_600_000).optional(),
        drainTimeoutMs: z.number().int().min(0).optional(),
        prefix: z.string().min(1).max(64).optional(),
      })
      .strict()
      .optional(),
    /** The prompt's token budget, summarisation and pruning (see src/context/policy.ts for the defaults). */
    context: contextPolicySchema.optional(),
    /** An LLM spec for summaries (a cheaper model); unset: the session's own LLM, on a second context. */
    summarizerLlm: z.string().min(1).optional(),
    /** A folder of documents the agent may list, read, search, edit and analyze (the bundled repartee-docs). */
    docsRoot: z.string().min(1).optional(),
    /**
     * Embeddings for the docs index and the relevance window (`openai:<model>`, `openai-compatible:<url>#<model>`,
     * `llama:<file.gguf>`): combined with BM25; unset, BM25 alone (src/search/, src/context/relevance-embeddings.ts).
     */
    docsEmbeddings: z.string().min(1).optional(),
    /** The TTS audio cache and the response cache (src/config/cache-schema.ts). */
    cache: CacheConfigSchema.default(CacheConfigSchema.parse({})),
    /** Stored conversations (SQLite; PostgreSQL with `url`), retention, recordings: src/store/config.ts. */
    store: StoreConfigSchema.prefault({}),
    /** Memory across conversations, per user id (off by default): src/config/memory-schema.ts. */
    memory: MemoryConfigSchema.prefault({}),
    /** /dashboard/ and its prices: src/server/dashboard-config.ts. */
    dashboard: DashboardConfigSchema.prefault({}),
    /** Alert rules over the turn records: src/metrics/alerts.ts. */
    alerts: AlertsConfigSchema.prefault({}),
    /** A/B experiments: variants of per-session settings with weights (src/config/experiments.ts). */
    experiments: ExperimentsSchema.default([]),
    /** OpenTelemetry traces over OTLP HTTP: src/metrics/otel-config.ts. */
    otel: OtelConfigSchema.prefault({}),
    /** Phone calls (Twilio, Telnyx, Vonage): src/config/telephony.ts; the providers' secrets from the environment. */
    telephony: TelephonyConfigSchema.optional(),
    ...ToolsConfigShape,
  })
  .strict();

export type ReparteeConfig = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

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
    const fromFile = text !== undefined ? (JSON.parse(text) as unknown) : undefined;
    const issues = parsed.error.issues.map((issue) => describeIssue(issue, fromFile, file)).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  return parsed.data;
}

type Issue = z.ZodError['issues'][number];

/**
 * One problem, said so the user can find it: the key's path ("top level" rather than an empty path), the unknown
 * keys by name, and the file when the offending value came from it (an auto-loaded file is easy to forget).
 */
function describeIssue(issue: Issue, fileJson: unknown, file: string): string {
  const where = issue.path.length ? issue.path.join('.') : 'top level';
  const inFile = (key?: string) => {
    const path = key === undefined ? issue.path : [...issue.path, key];
    return hasPath(fileJson, path) ? ` in ${file}` : '';
  };
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as Issue & { keys: string[] }).keys;
    return keys.map((key) => `unknown key "${key}" (${where})${inFile(key)}`).join('; ');
  }
  return `${where}${inFile()}: ${issue.message}`;
}

function hasPath(value: unknown, path: readonly PropertyKey[]): boolean {
  let current = value;
  for (const key of path) {
    if (!current || typeof current !== 'object' || !Object.hasOwn(current, key)) return false;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return path.length > 0;
}
