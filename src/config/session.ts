import { AgentSession, type AgentSessionOptions } from '../agent/agent-api.ts';
import type { Agent } from '../agent/definition.ts';
import type { JsonLinesMetricsWriter } from '../metrics/jsonl.ts';
import type { McpToolset } from '../tools/mcp/toolset.ts';
import type { ToolEntry } from '../tools/tool.ts';
import { cachedSessionTts, responseBinding } from './cache.ts';
import type { ReparteeConfig } from './config.ts';
import { configuredDocsIndex } from './docs-index.ts';
import { configuredLanguages } from './languages.ts';
import {
  memoryLlm,
  memoryPossible,
  type SessionMemory,
  type SessionMemoryRequest,
  wireSessionMemory,
} from './memory.ts';
import { NO_LLM_NOTICE, type ProviderSet } from './providers.ts';
import { createConfiguredTurnDetector } from './turn-detector.ts';

interface Closable {
  close?(): Promise<void>;
}

/** A session that, once closed, also closes the providers made for it alone (its LLM, summariser and TTS). */
class ConfiguredSession extends AgentSession {
  private releaseOwned: Promise<void> | undefined;
  /** The user's memory across conversations (memory.ts): the call's summary is kept before the LLM closes. */
  memory: SessionMemory | undefined;

  constructor(
    options: AgentSessionOptions,
    private readonly ownProviders: readonly (Closable | undefined)[],
  ) {
    super(options);
  }

  override async close(): Promise<void> {
    await super.close();
    await this.memory?.finish();
    this.releaseOwned ??= Promise.allSettled(this.ownProviders.map((p) => p?.close?.())).then(
      () => undefined,
    );
    await this.releaseOwned;
  }
}

const warned = new Set<string>();
/** A missing model file is worth one line per process, not one per session. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

/** One conversation on the configured providers; its turn records also go to `metricsLog` when given. */
export async function createConfiguredSession(
  config: ReparteeConfig,
  providers: ProviderSet,
  metricsLog?: JsonLinesMetricsWriter,
  tools: readonly ToolEntry[] = [],
  /** An agent file's agent (its instructions replace the configured ones) and the process's MCP connections. */
  withAgent: { agent?: Agent; connectMcp?(agent: Agent): Promise<McpToolset | undefined> } = {},
  /** The store and the user the session request named: with `memory.enabled`, the session remembers them. */
  memoryRequest?: SessionMemoryRequest,
): Promise<AgentSession> {
  // A fallback list's state (the provider in use, its switches) belongs to one session: see createSessionTts.
  const tts = providers.createSessionTts?.();
  const llm = await providers.createSessionLlm();
  const summarizer = config.summarizerLlm
    ? await providers.createSummarizerLlm?.(config.summarizerLlm)
    : undefined;
  const turnDetector = await createConfiguredTurnDetector(config, providers.llmSpec, (message) =>
    warnOnce(message),
  );
  const own = [tts, llm, summarizer, { close: async () => turnDetector.close?.() }];
  const retrieval = await configuredDocsIndex(config, (message) => warnOnce(message));
  let session: ConfiguredSession;
  try {
    // A bad voice spec or a language outside `allowed` fails here, with the providers above closed.
    const languages = await configuredLanguages(config, providers.specs?.stt ?? []);
    session = new ConfiguredSession(
      {
        vad: providers.vad,
        stt: providers.stt,
        tts: cachedSessionTts(tts ?? providers.tts, providers.caches, config),
        // With a user's memory, a request to forget is confirmed in fixed words (src/context/memory-reply.ts).
        llm: memoryPossible(config.memory, memoryRequest)
          ? memoryLlm(llm, () => session.memory !== undefined)
          : llm,
        instructions: config.instructions,
        maxReplySentences: config.maxReplySentences,
        // No LLM: every turn is answered by the notice, said in full (see AgentSessionOptions).
        ...(providers.llmSpec ? {} : { llmUnavailableNotice: NO_LLM_NOTICE }),
        language: config.language,
        ...(languages ? { languages } : {}),
        preemptiveGeneration: config.preemptiveGeneration,
        providerFailure: config.providerFailure,
        apologyCache: providers.apologyCache,
        // With memory, no response cache: a reply shaped by one user's memory must never answer another user.
        responseCache: memoryPossible(config.memory, memoryRequest)
          ? undefined
          : responseBinding(
              providers.caches,
              // An agent file's instructions replace the configured ones: its replies are its own.
              { ...config, instructions: withAgent.agent?.instructions ?? config.instructions },
              providers.llmSpec,
              tools.map((t) => ('name' in t && typeof t.name === 'string' ? t.name : 'tool-source')),
            ),
        endpointing: config.endpointing,
        turnDetector,
        interruption: config.interruption,
        tools,
        toolTimeoutMs: config.toolTimeoutMs,
        maxToolSteps: config.maxToolSteps,
        longTools: config.longTools,
        context: config.context,
        summarizer,
        retrieval,
        ...withAgent,
      },
      own,
    );
  } catch (error) {
    await Promise.allSettled(own.map((p) => p?.close?.()));
    throw error;
  }
  if (metricsLog) session.on('metrics', (record) => metricsLog.write(record));
  if (memoryRequest?.store && config.memory.enabled) {
    const { id } = session;
    await wireSessionMemory(
      session,
      config.memory,
      memoryRequest.store,
      memoryRequest.userId,
      providers.llmSpec ? llm : undefined,
      (error) => console.warn(`session ${id}: ${error.message}`),
    );
  }
  return session;
}
