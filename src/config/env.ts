/** `REPARTEE_*` environment variables, each applied onto the raw configuration before validation. */

export const ENV_KEYS: Record<string, (value: string, config: Record<string, unknown>) => void> = {
  REPARTEE_VAD: (v, c) => {
    c.vad = v;
  },
  REPARTEE_STT: (v, c) => {
    c.stt = specList(v);
  },
  REPARTEE_LLM: (v, c) => {
    c.llm = specList(v);
  },
  REPARTEE_TTS: (v, c) => {
    c.tts = specList(v);
  },
  REPARTEE_LLM_FALLBACK_BUDGET_MS: (v, c) => {
    c.llmFallbackBudgetMs = Number(v);
  },
  REPARTEE_TTS_FALLBACK_BUDGET_MS: (v, c) => {
    c.ttsFallbackBudgetMs = Number(v);
  },
  REPARTEE_LLM_FIRST_TOKEN_BUDGET_MS: (v, c) => {
    c.providerFailure = { ...(c.providerFailure as object), firstTokenBudgetMs: Number(v) };
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
  REPARTEE_MAX_REPLY_SENTENCES: (v, c) => {
    c.maxReplySentences = Number(v);
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
  REPARTEE_ALLOWED_HOSTS: (v, c) => {
    c.server = {
      ...(c.server as object),
      allowedHosts: v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  },
  REPARTEE_MAX_SESSIONS: (v, c) => {
    c.server = { ...(c.server as object), maxSessions: Number(v) };
  },
  REPARTEE_MAX_SESSIONS_PER_CLIENT: (v, c) => {
    c.server = { ...(c.server as object), maxSessionsPerClient: Number(v) };
  },
  REPARTEE_TELEPHONY_PUBLIC_URL: (v, c) => {
    c.telephony = { ...(c.telephony as object | undefined), publicUrl: v };
  },
  REPARTEE_METRICS_LOG: (v, c) => {
    c.metricsLog = v;
  },
  REPARTEE_STORE: (v, c) => {
    // `off` switches the store off; a postgres:// URL is the shared database; anything else is the SQLite file.
    if (v === 'off') c.store = { ...(c.store as object), enabled: false };
    else if (/^postgres(ql)?:\/\//.test(v)) c.store = { ...(c.store as object), url: v };
    else c.store = { ...(c.store as object), path: v };
  },
  REPARTEE_RECORD_AUDIO: (v, c) => {
    c.store = { ...(c.store as object), recordAudio: v === '1' || v === 'true' };
  },
  REPARTEE_DOCS_ROOT: (v, c) => {
    c.docsRoot = v;
  },
  REPARTEE_DOCS_EMBEDDINGS: (v, c) => {
    c.docsEmbeddings = v;
  },
};

/** `a, b` in an environment variable is the fallback list `["a", "b"]`. */
function specList(value: string): string | string[] {
  return value.includes(',') ? value.split(',').map((s) => s.trim()) : value;
}
