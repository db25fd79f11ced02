import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';
import { stallError } from './anthropic-budget.ts';
import type { ChatRequest, LLM, LlmChunk } from './contract.ts';
import { LlmError } from './errors.ts';
import { createKeepAliveFetch, type KeepAliveFetch } from './openai-fetch.ts';
import { prewarmModels } from './openai-prewarm.ts';
import { RetryableError, type RetryPolicy, retryPolicy, rootCause } from './openai-retry.ts';
import { ToolCallAccumulator, toWireMessage, toWireTool } from './openai-wire.ts';
import { retryBeforeOutput } from './retry-before-output.ts';

/** Where a provider writes its operational lines (a pino logger fits). Never given a key. */
export interface ProviderLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface OpenAiCompatibleOptions {
  /** Model name as the server knows it (`qwen2.5`, `gpt-4o-mini`, …). */
  model: string;
  /**
   * e.g. `http://127.0.0.1:11434/v1` (Ollama), `https://api.groq.com/openai/v1`, `https://api.cerebras.ai/v1`,
   * `https://api.together.xyz/v1`, `http://127.0.0.1:8000/v1` (vLLM). Default OpenAI's.
   */
  baseURL?: string;
  /** Local servers ignore it, but the SDK insists on one. Default `not-needed`. */
  apiKey?: string;
  /** Until the response headers arrive (connect, TLS, queueing). Default 10,000 ms. */
  timeoutMs?: number;
  /**
   * From the response headers to the first streamed chunk (prefill), per attempt. Default 15,000 ms. Under a
   * request's `firstTokenBudgetMs` (the agent sets one for every voice turn) the first attempt waits at most
   * half the budget and a retry what is left of it.
   */
  firstTokenTimeoutMs?: number;
  /** Longest silence between two streamed chunks after the first before the turn fails. Default 15,000 ms. */
  idleTimeoutMs?: number;
  /**
   * Retries with backoff on connection errors, 408/409/429/5xx and streams that break before their first chunk.
   * Once a chunk has been delivered the reply is never retried (it would repeat speech): it fails, and a
   * fallback list takes over. Default 2 retries, 250 ms doubling, at most 2,000 ms per wait.
   */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Ask for a final usage chunk (`stream_options.include_usage`). Default true; turn off for servers that reject it. */
  includeUsage?: boolean;
  /** OpenAI's newer models take `max_completion_tokens`; compatible servers know `max_tokens`. */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens';
  temperature?: number;
  maxTokens?: number;
  headers?: Record<string, string>;
  /** Provider name in metrics and logs. Default `openai-compatible:<baseURL>#<model>`. */
  name?: string;
  /** Retry lines go here. */
  log?: ProviderLog;
  /** Inject a client (tests, shared connection pools). */
  client?: OpenAI;
  /** The fetch the client uses. Default a keep-alive fetch owned by this LLM, so turns reuse one connection. */
  fetch?: typeof fetch;
}

/**
 * Streaming Chat Completions client for OpenAI and compatible servers (Groq, Cerebras, Together, Ollama,
 * llama.cpp server, vLLM, LM Studio): tools, usage with cached tokens, retries before the first token, and a
 * connection kept warm between turns.
 */
export class OpenAiCompatibleLlm implements LLM {
  readonly name: string;
  private readonly client: OpenAI;
  private readonly options: OpenAiCompatibleOptions;
  private readonly retry: RetryPolicy;
  private readonly ownFetch: KeepAliveFetch | undefined;

  constructor(options: OpenAiCompatibleOptions) {
    this.options = options;
    this.name =
      options.name ?? `openai-compatible:${options.baseURL ?? 'https://api.openai.com/v1'}#${options.model}`;
    this.retry = retryPolicy(options);
    this.ownFetch = options.client || options.fetch ? undefined : createKeepAliveFetch();
    this.client =
      options.client ??
      new OpenAI({
        baseURL: options.baseURL,
        apiKey: options.apiKey ?? 'not-needed',
        timeout: options.timeoutMs ?? 10_000,
        // Retries are ours: abortable, capped for a voice turn, and only before the first chunk.
        maxRetries: 0,
        defaultHeaders: options.headers,
        fetch: options.fetch ?? this.ownFetch,
        logLevel: 'off',
      });
  }

  chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    const budgetMs = request.firstTokenBudgetMs;
    if (budgetMs !== undefined && Number.isFinite(budgetMs)) return this.chatWithinBudget(request, budgetMs);
    return retryBeforeOutput(() => this.stream(request), {
      signal: request.signal,
      policy: this.retry,
      fail: (error) => this.toLlmError(error),
      onRetry: (error, attempt, delayMs) => this.logRetry(error, attempt, delayMs),
    });
  }

  /**
   * The request under one first-token budget shared by every attempt and backoff: the first attempt may wait
   * at most half of it for a first token (so a connection that hangs after its headers can be retried once), a
   * later one what is left; a retry whose backoff would end past the budget is not made, and when the budget
   * runs out the request fails with a timeout naming the attempts made and the last failure.
   */
  private async *chatWithinBudget(request: ChatRequest, budgetMs: number): AsyncGenerator<LlmChunk> {
    const started = performance.now();
    const left = () => budgetMs - (performance.now() - started);
    const budget = new AbortController();
    const timer = setTimeout(
      () => budget.abort(new Error('first-token budget spent')),
      Math.max(0, budgetMs),
    );
    const signal = AbortSignal.any([request.signal, budget.signal]);
    let attempts = 0;
    let lastError: unknown;
    let answered = false;
    const attempt = () => {
      attempts++;
      const firstTokenMs = this.options.firstTokenTimeoutMs ?? 15_000;
      const wait = attempts === 1 ? Math.min(firstTokenMs, budgetMs / 2) : Math.min(firstTokenMs, left());
      return this.stream({ ...request, signal }, Math.max(1, Math.round(wait)));
    };
    try {
      for await (const chunk of retryBeforeOutput(attempt, {
        signal,
        policy: this.retry,
        fail: (error) => this.toLlmError(error),
        onRetry: (error, n, delayMs) => {
          lastError = error;
          if (delayMs >= left()) {
            throw new LlmError(
              'timeout',
              `${this.describe(error)} (no time left in the ${budgetMs} ms first-token budget to retry)`,
              { cause: error },
            );
          }
          this.logRetry(error, n, delayMs);
        },
      })) {
        if (!answered) {
          answered = true;
          clearTimeout(timer);
        }
        yield chunk;
      }
    } finally {
      clearTimeout(timer);
    }
    if (!answered && budget.signal.aborted && !request.signal.aborted) {
      const last = lastError === undefined ? '' : `; last failure: ${this.describe(lastError)}`;
      throw new LlmError(
        'timeout',
        `${this.name}: no first token within the ${budgetMs} ms budget (${attempts} attempt${attempts === 1 ? '' : 's'}${last})`,
      );
    }
  }

  private logRetry(error: unknown, attempt: number, delayMs: number): void {
    this.options.log?.warn(
      { provider: this.name, attempt: attempt + 1, delayMs, err: this.describe(error) },
      'llm request failed before its first token; retrying',
    );
  }

  /**
   * Opens the connection (DNS, TCP, TLS) with a cheap `GET /models`, so the first turn does not pay for it. Any
   * HTTP answer counts as warm (some compatible servers have no /models); an unreachable server throws.
   */
  async prewarm(): Promise<void> {
    await prewarmModels(this.client, this.options.timeoutMs ?? 10_000).catch((error) => {
      throw this.toLlmError(error);
    });
  }

  async close(): Promise<void> {
    this.ownFetch?.close();
  }

  /** One attempt; errors are raw so the retry loop can classify them. */
  private async *stream(request: ChatRequest, firstTokenMs?: number): AsyncGenerator<LlmChunk> {
    if (request.signal.aborted) return;
    const connection = new AbortController();
    const onAbort = () => connection.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    const firstMs = firstTokenMs ?? this.options.firstTokenTimeoutMs ?? 15_000;
    const idleMs = this.options.idleTimeoutMs ?? 15_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stalled: { afterMs: number; first: boolean } | undefined;
    // Armed only while we wait on the server, never while the consumer holds a chunk (TTS back-pressure is fine).
    const arm = (first: boolean) => {
      const afterMs = first ? firstMs : idleMs;
      timer = setTimeout(() => {
        stalled = { afterMs, first };
        connection.abort();
      }, afterMs);
    };
    const disarm = () => clearTimeout(timer);
    try {
      const stream = await this.client.chat.completions.create(this.body(request), {
        signal: connection.signal,
      });
      const calls = new ToolCallAccumulator();
      const iterator = stream[Symbol.asyncIterator]();
      let finished = false;
      let chunks = 0;
      // finish_reason "length": the reply stopped at max_tokens, mid-sentence (said on the usage chunk).
      let truncated = false;
      let usageSent = false;
      for (;;) {
        arm(chunks === 0);
        const next = await iterator.next();
        disarm();
        if (request.signal.aborted) return;
        if (stalled) break;
        if (next.done) break;
        chunks++;
        const chunk: ChatCompletionChunk = next.value;
        for (const choice of chunk.choices ?? []) {
          const delta = choice.delta;
          if (delta?.content) yield { type: 'text', delta: delta.content };
          for (const d of delta?.tool_calls ?? []) calls.add(d);
          if (choice.finish_reason) {
            finished = true;
            if (choice.finish_reason === 'length') truncated = true;
            for (const call of calls.flush()) yield { type: 'toolCall', call };
          }
        }
        if (chunk.usage) {
          const cached = chunk.usage.prompt_tokens_details?.cached_tokens;
          yield {
            type: 'usage',
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
            ...(cached !== undefined && cached !== null ? { cachedTokens: cached } : {}),
            ...(truncated ? { truncated } : {}),
          };
          usageSent = true;
        }
      }
      if (truncated && !usageSent) yield { type: 'usage', promptTokens: 0, completionTokens: 0, truncated };
      // The SDK ends an aborted stream quietly instead of throwing.
      if (stalled) throw stallError(this.name, stalled);
      if (!finished) {
        // A connection cut cleanly (a proxy, a crashed worker) looks like an ordinary end of stream.
        throw new RetryableError(`${this.name}: the stream ended before the reply finished`);
      }
    } catch (error) {
      if (stalled && !(error instanceof LlmError)) throw stallError(this.name, stalled);
      throw error;
    } finally {
      disarm();
      request.signal.removeEventListener('abort', onAbort);
      // Closes the HTTP stream when the consumer stops early.
      connection.abort();
    }
  }

  private body(request: ChatRequest): ChatCompletionCreateParamsStreaming {
    const maxTokens = request.maxTokens ?? this.options.maxTokens;
    const temperature = request.temperature ?? this.options.temperature;
    const tools = request.tools?.length ? request.tools.map(toWireTool) : undefined;
    return {
      model: this.options.model,
      messages: request.messages.map(toWireMessage),
      stream: true,
      ...(this.options.includeUsage === false ? {} : { stream_options: { include_usage: true } }),
      ...(tools ? { tools } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { [this.options.maxTokensParam ?? 'max_tokens']: maxTokens } : {}),
    };
  }

  private describe(error: unknown): string {
    return this.redact(this.toLlmError(error).message);
  }

  /** An error message never carries the key, whatever the server echoed back. */
  private redact(text: string): string {
    const key = this.options.apiKey;
    return key && key.length >= 8 ? text.split(key).join('[redacted]') : text;
  }

  private toLlmError(error: unknown): LlmError {
    if (error instanceof LlmError)
      return new LlmError(error.code, this.redact(error.message), { cause: error });
    if (error instanceof RetryableError) {
      const code = /no first token/.test(error.message) ? 'timeout' : 'request';
      return new LlmError(code, this.redact(error.message), { cause: error });
    }
    const name = this.name;
    if (error instanceof APIConnectionTimeoutError) {
      return new LlmError('timeout', `${name}: the server did not answer in time`, { cause: error });
    }
    if (error instanceof APIError) {
      const detail = error.status ? `HTTP ${error.status}: ${error.message}` : error.message;
      const why = rootCause(error);
      return new LlmError('request', this.redact(`${name}: ${detail}${why ? ` (${why})` : ''}`), {
        cause: error,
      });
    }
    const why = rootCause(error);
    const message = error instanceof Error ? error.message : String(error);
    return new LlmError('request', this.redact(`${name}: ${message}${why ? ` (${why})` : ''}`), {
      cause: error,
    });
  }
}
