import type { AgentSession as BaseSession } from '../agent/session.ts';
import { acceptSessionUser } from '../agent/session-user.ts';
import { type MemoryBackend, UserMemory } from '../context/memory.ts';
import { ForgetConfirmingLlm } from '../context/memory-reply.ts';
import { statedFacts } from '../context/memory-rules.ts';
import { summarize } from '../context/summarizer.ts';
import type { LLM } from '../providers/llm/contract.ts';
import { type MemoryConfig, UserIdSchema } from './memory-schema.ts';

/** A session's memory waits at most this long for the user's items at start (a slow store: it starts without). */
const LOAD_WAIT_MS = 2_000;
/** The background fact extraction and the end-of-call summary give up after this long. */
const LLM_JOB_TIMEOUT_MS = 20_000;
/** At most this many facts from one LLM extraction. */
const MAX_FACTS_PER_TURN = 5;

const EXTRACT_PROMPT =
  'You keep notes about a caller for their next calls. From the user message below, list the facts the user ' +
  'states about themselves (name, where they live, preferences, figures such as a budget or a date), one per ' +
  'line, in the first person as the user would say them. Answer NONE if there are none. Do not add anything else.';
const CALL_SUMMARY_PROMPT =
  'You keep notes about a caller for their next calls. Summarise this call in at most three sentences: what the ' +
  'user wanted, what they told you about themselves, and what was decided. Reply with the summary only.';

/** What memory uses of a session (any AgentSession). */
type AgentSession = Pick<BaseSession, 'id' | 'context' | 'history' | 'on'>;

/** What a session needs for memory: the store and the user the session request named. */
export interface SessionMemoryRequest {
  store?: MemoryBackend | undefined;
  userId?: string | undefined;
}

/** The memory of one session, wired: `finish()` at the end of the call remembers its summary. */
export interface SessionMemory {
  readonly memory: UserMemory;
  /** Resolves once the items loaded at start are in (tests, benchmarks; a reply never waits for it). */
  readonly loaded: Promise<void>;
  /**
   * The call is over (the session closed, its LLM still open): the facts still being extracted and the call's
   * summary are remembered, then every store write is awaited (each step bounded). Never rejects.
   */
  finish(): Promise<void>;
}

/** The session's LLM wrapped so that a request to forget is confirmed in fixed words (memory-reply.ts). */
export function memoryLlm(llm: LLM, active?: () => boolean): LLM {
  return new ForgetConfirmingLlm(llm, active);
}

/** Memory may apply: switched on, with a store (the user may be named now or later). */
export function memoryPossible(config: MemoryConfig, request: SessionMemoryRequest | undefined): boolean {
  return config.enabled && request?.store !== undefined;
}

/**
 * Wires memory into a session that `memoryPossible` allows: at once for the request's user, else when the client
 * names one later (the WebSocket `config` message's `user`, through session-user.ts). Resolves once a named user's
 * items are loaded (bounded).
 */
export async function wireSessionMemory(
  session: AgentSession & { memory: SessionMemory | undefined },
  config: MemoryConfig,
  store: MemoryBackend,
  userId: string | undefined,
  llm: LLM | undefined,
  onError: (error: Error) => void,
): Promise<void> {
  const attach = (user: string) => {
    session.memory = attachMemory(session, config, { store, userId: user }, llm, onError);
    return session.memory.loaded;
  };
  acceptSessionUser(session, (user) => {
    const parsed = UserIdSchema.safeParse(user);
    if (!parsed.success) return parsed.error.issues[0].message;
    if (session.memory)
      return session.memory.memory.userId === parsed.data ? undefined : 'this session already has a user';
    void attach(parsed.data);
    return undefined;
  });
  if (userId) await attach(userId);
}

/**
 * Gives `session` the memory of `userId`: the items relevant to each user turn go into its prompts; facts the
 * user states are remembered (the rule at once, the LLM's in the background after the reply); a request to forget
 * deletes the matching items as the turn enters the history. `llm` is the model for the background jobs (the
 * session's own; a sibling context is used when it offers one).
 */
export function attachMemory(
  session: AgentSession,
  config: MemoryConfig,
  request: { store: MemoryBackend; userId: string },
  llm: LLM | undefined,
  onError: (error: Error) => void,
): SessionMemory {
  const memory = new UserMemory({
    store: request.store,
    userId: request.userId,
    sessionId: session.id,
    maxTokens: config.tokens,
    maxItems: config.maxItems,
    onError,
  });
  session.context.useMemory(memory);
  const loaded = memory.load();
  const useRule = config.extract !== 'llm';
  const useLlm = config.extract !== 'rule' && llm !== undefined;
  let worker: LLM | undefined;
  const backlog: string[] = [];
  let extracting: Promise<void> | undefined;
  let closed = false;

  const llmFor = (): LLM | undefined => {
    if (!llm) return undefined;
    worker ??= llm.sibling?.() ?? llm;
    return worker;
  };
  const withTimeout = async <T>(job: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error('memory: the LLM took too long')),
      LLM_JOB_TIMEOUT_MS,
    );
    timer.unref?.();
    try {
      return await job(controller.signal);
    } finally {
      clearTimeout(timer);
    }
  };
  const extract = async (): Promise<void> => {
    for (let text = backlog.shift(); text !== undefined; text = backlog.shift()) {
      const model = llmFor();
      if (!model) return;
      try {
        const answer = await withTimeout((signal) =>
          complete(model, EXTRACT_PROMPT, `User message: ${text}`, signal, 200),
        );
        for (const fact of parseFacts(answer)) memory.remember('fact', fact);
      } catch (error) {
        onError(asError(error, 'memory: fact extraction failed'));
      }
    }
  };

  const turnsToExtract: string[] = [];
  /** The last request to forget in this call: the call's summary covers only what came after it. */
  let forgottenAfterId = 0;
  session.on('conversationItem', (item) => {
    if (item.role !== 'user' || closed) return;
    if (memory.forgetIfAsked(item.content)) {
      forgottenAfterId = item.id;
      turnsToExtract.length = 0;
      return;
    }
    if (useRule) for (const fact of statedFacts(item.content)) memory.remember('fact', fact);
    if (useLlm) turnsToExtract.push(item.content);
  });
  const startExtraction = () => {
    if (!useLlm || turnsToExtract.length === 0) return;
    backlog.push(...turnsToExtract.splice(0));
    extracting ??= extract().finally(() => {
      extracting = undefined;
    });
  };
  // After the reply, while the LLM is idle: never on the reply's path.
  session.on('speechEnded', () => {
    if (!closed) startExtraction();
  });

  const finish = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // The last turns' extraction still runs (each job bounded by LLM_JOB_TIMEOUT_MS), then the summary.
    startExtraction();
    await extracting?.catch(() => undefined);
    // The session is closed and its LLM idle: the summary is its own (no second context for it).
    if (config.summaries) {
      const summary = await callSummary(session, forgottenAfterId, llm, withTimeout).catch(
        (error: unknown) => {
          onError(asError(error, 'memory: the call summary failed'));
          return forgottenAfterId ? undefined : session.context.latestSummary?.text;
        },
      );
      if (summary) memory.remember('summary', summary);
    }
    if (worker && worker !== llm) await worker.close?.().catch(() => undefined);
    await Promise.race([memory.settled(), delay(LOAD_WAIT_MS * 5)]);
  };
  return { memory, loaded: Promise.race([loaded, delay(LOAD_WAIT_MS)]), finish };
}

/**
 * The call's summary: the LLM's over the call, else the context summary; none for a call with no turn. After a
 * request to forget (`afterId`: its history item), only what followed it, without the context summary.
 */
async function callSummary(
  session: AgentSession,
  afterId: number,
  llm: LLM | undefined,
  withTimeout: <T>(job: (signal: AbortSignal) => Promise<T>) => Promise<T>,
): Promise<string | undefined> {
  const messages = session.history.messages.filter((m) => m.role !== 'system' && m.id > afterId);
  const earlier = afterId ? undefined : session.context.latestSummary?.text;
  if (!messages.some((m) => m.role === 'user')) return undefined;
  if (!llm) return earlier;
  return withTimeout((signal) =>
    summarize({
      llm,
      prompt: CALL_SUMMARY_PROMPT,
      previous: earlier,
      messages: messages.slice(-40),
      maxTokens: 160,
      signal,
    }),
  );
}

async function complete(
  llm: LLM,
  system: string,
  user: string,
  signal: AbortSignal,
  maxTokens: number,
): Promise<string> {
  let text = '';
  for await (const chunk of llm.chat({
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ],
    signal,
    maxTokens,
    temperature: 0,
  })) {
    if (chunk.type === 'text') text += chunk.delta;
  }
  signal.throwIfAborted();
  return text;
}

/** The facts of an extraction answer: one per line, bullets and numbering off, NONE and empty lines out. */
export function parseFacts(answer: string): string[] {
  return answer
    .split('\n')
    .map((line) => line.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim())
    .filter((line) => line.length > 3 && !/^none\b/i.test(line))
    .slice(0, MAX_FACTS_PER_TURN)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref?.();
  });
}

function asError(error: unknown, context: string): Error {
  const base = error instanceof Error ? error : new Error(String(error));
  return new Error(`${context}: ${base.message}`, { cause: base });
}
