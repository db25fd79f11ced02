import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type {
  MessageCreateParamsStreaming,
  RawMessageStreamEvent,
} from '@anthropic-ai/sdk/resources/messages';
import { budgetedChat, StallWatch, stallError } from './anthropic-budget.ts';
import { estimateTokens, toWirePrompt, toWireTools } from './anthropic-wire.ts';
import type { ChatRequest, LLM, LlmChunk, TokenCounter, ToolCall } from './contract.ts';
import { LlmError } from './errors.ts';
import type { ProviderLog } from './openai-compatible.ts';
import { createKeepAliveFetch, type KeepAliveFetch } from './openai-fetch.ts';
import { HttpStatusError, RetryableError, type RetryPolicy, retryPolicy, rootCause } from './openai-retry.ts';

export interface AnthropicOptions {
  /** e.g. `claude-haiku-4-5`, `claude-sonnet-4-5`. */
  model: string;
  apiKey: string;
  /** Default `https://api.anthropic.com` (the SDK adds `/v1/messages`). */
  baseURL?: string;
  /** Until the response headers arrive. Default 10,000 ms. */
  timeoutMs?: number;
  /** From the headers to the first streamed output, per attempt (halved under a first-token budget). Default 15,000 ms. */
  firstTokenTimeoutMs?: number;
  /** Longest silence between two streamed events after the first. Default 15,000 ms. */
  idleTimeoutMs?: number;
  /** Retries before the first output only (429 with retry-after, 5xx, 529 overloaded, drops). Default 2. */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** The API requires one. Default 1024. */
  maxTokens?: number;
  temperature?: number;
  /** A cache breakpoint on the instructions (tools + first system message). Default true. */
  promptCaching?: boolean;
  /** Provider name in metrics and logs. Default `anthropic:<model>`. */
  name?: string;
  log?: ProviderLog;
  /** Inject a client (tests). */
  client?: Anthropic;
}

const CALIBRATION_TEXT =
  'Thanks for calling. I can look that up for you: your order left the warehouse on Tuesday and should ' +
  'arrive by Friday afternoon. Is there anything else I can help you with today, or shall I send the ' +
  'tracking number to the e-mail address we have on file? It takes a minute, and you can reply to it.';

/** Fallback figures when the count endpoint is unreachable: ~3.5 characters a token, 4 a message, 8 a request. */
const ESTIMATE = { messageOverheadTokens: 4, promptOverheadTokens: 8 };

/**
 * Claude over the Messages API with the official SDK: streamed text and tool use mapped to our tool contract,
 * a prompt-cache breakpoint on the instructions, usage with cached tokens, retries before the first output
 * only, one kept-alive connection, and token counting calibrated once on the count-tokens endpoint.
 */
export class AnthropicLlm implements LLM {
  readonly name: string;
  private readonly client: Anthropic;
  private readonly retry: RetryPolicy;
  private readonly ownFetch: KeepAliveFetch | undefined;
  private counter: Promise<TokenCounter> | undefined;

  constructor(private readonly options: AnthropicOptions) {
    this.name = options.name ?? `anthropic:${options.model}`;
    this.retry = retryPolicy(options);
    this.ownFetch = options.client ? undefined : createKeepAliveFetch();
    this.client =
      options.client ??
      new Anthropic({
        apiKey: options.apiKey,
        authToken: null,
        baseURL: options.baseURL ?? 'https://api.anthropic.com',
        timeout: options.timeoutMs ?? 10_000,
        // Retries are ours: abortable, budgeted for a voice turn, and only before the first output.
        maxRetries: 0,
        fetch: this.ownFetch,
        logLevel: 'off',
      });
  }

  chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    return budgetedChat({
      name: this.name,
      request,
      policy: this.retry,
      firstOutputTimeoutMs: this.options.firstTokenTimeoutMs ?? 15_000,
      attempt: (signal, firstMs) => this.stream({ ...request, signal }, firstMs),
      toError: (error) => this.toLlmError(error),
      log: this.options.log,
    });
  }

  /** Opens the connection with a cheap `GET /v1/models`; any HTTP answer counts as warm. */
  async prewarm(): Promise<void> {
    try {
      await this.client.models.list({ limit: 1 }, { timeout: this.options.timeoutMs ?? 10_000 });
    } catch (error) {
      if (error instanceof APIError && error.status !== undefined) return;
      throw this.toLlmError(error);
    }
  }

  /**
   * Counts as Claude does: three calls to `POST /v1/messages/count_tokens` (once per instance) measure the
   * characters per token of English text and the per-message and per-request overheads. When the endpoint
   * cannot be reached, the documented estimate (3.5 characters a token) is used and a line is logged.
   */
  tokenCounter(): Promise<TokenCounter> {
    this.counter ??= this.calibrate().catch((error) => {
      this.options.log?.warn(
        { provider: this.name, err: this.toLlmError(error).message },
        'token count endpoint unavailable; estimating 3.5 characters a token',
      );
      return {
        name: 'estimate:3.5-chars-per-token',
        countTokens: (text: string) => estimateTokens(text),
        ...ESTIMATE,
      };
    });
    return this.counter;
  }

  /** The exact prompt size of a request, from the count endpoint. */
  async countRequestTokens(request: Pick<ChatRequest, 'messages' | 'tools'>): Promise<number> {
    const prompt = toWirePrompt(request.messages, { cacheInstructions: false });
    const tools = request.tools?.length ? toWireTools(request.tools) : undefined;
    const counted = await this.client.messages.countTokens(
      { model: this.options.model, ...prompt, ...(tools ? { tools } : {}) } as never,
      { timeout: this.options.timeoutMs ?? 10_000 },
    );
    return counted.input_tokens;
  }

  async close(): Promise<void> {
    this.ownFetch?.close();
  }

  private async calibrate(): Promise<TokenCounter> {
    const user = (text: string) => ({ role: 'user' as const, content: text });
    const one = await this.countRequestTokens({ messages: [user('a')] });
    const three = await this.countRequestTokens({
      messages: [user('a'), { role: 'assistant', content: 'a' }, user('a')],
    });
    const text = await this.countRequestTokens({ messages: [user(CALIBRATION_TEXT)] });
    const perMessage = Math.max(0, (three - one) / 2 - 1);
    const perRequest = Math.max(0, one - perMessage - 1);
    const textTokens = Math.max(1, text - perMessage - perRequest);
    const charsPerToken = CALIBRATION_TEXT.length / textTokens;
    return {
      name: `anthropic-count:${this.options.model}`,
      countTokens: (t: string) => estimateTokens(t, charsPerToken),
      messageOverheadTokens: Math.round(perMessage),
      promptOverheadTokens: Math.round(perRequest),
    };
  }

  private body(request: ChatRequest): MessageCreateParamsStreaming {
    const prompt = toWirePrompt(request.messages, {
      cacheInstructions: this.options.promptCaching !== false,
    });
    const tools = request.tools?.length ? toWireTools(request.tools) : undefined;
    const temperature = request.temperature ?? this.options.temperature;
    return {
      model: this.options.model,
      max_tokens: request.maxTokens ?? this.options.maxTokens ?? 1024,
      ...prompt,
      ...(tools ? { tools } : {}),
      ...(temperature !== undefined ? { temperature: Math.min(1, temperature) } : {}),
      stream: true,
    } as MessageCreateParamsStreaming;
  }

  /** One attempt; errors are raw so the retry loop can classify them. */
  private async *stream(request: ChatRequest, firstMs: number): AsyncGenerator<LlmChunk> {
    if (request.signal.aborted) return;
    const connection = new AbortController();
    const onAbort = () => connection.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    const watch = new StallWatch(firstMs, this.options.idleTimeoutMs ?? 15_000, () => connection.abort());
    try {
      watch.arm(true);
      const stream = await this.client.messages.create(this.body(request), { signal: connection.signal });
      const iterator = stream[Symbol.asyncIterator]();
      const calls = new Map<number, ToolCall>();
      const usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
      let stopReason: string | null | undefined;
      let stopped = false;
      let outputs = 0;
      for (;;) {
        const next = await iterator.next();
        watch.disarm();
        if (request.signal.aborted) return;
        if (watch.stalled || next.done) break;
        const event: RawMessageStreamEvent = next.value;
        switch (event.type) {
          case 'message_start': {
            const u = event.message.usage;
            usage.input = u.input_tokens ?? 0;
            usage.output = u.output_tokens ?? 0;
            usage.cacheRead = u.cache_read_input_tokens ?? 0;
            usage.cacheWrite = u.cache_creation_input_tokens ?? 0;
            break;
          }
          case 'content_block_start':
            if (event.content_block.type === 'tool_use') {
              calls.set(event.index, {
                id: event.content_block.id,
                name: event.content_block.name,
                arguments: '',
              });
            }
            break;
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text) {
              outputs++;
              yield { type: 'text', delta: event.delta.text };
            } else if (event.delta.type === 'input_json_delta') {
              const call = calls.get(event.index);
              if (call) call.arguments += event.delta.partial_json;
            }
            break;
          case 'content_block_stop': {
            const call = calls.get(event.index);
            if (call) {
              calls.delete(event.index);
              outputs++;
              yield { type: 'toolCall', call: { ...call, arguments: call.arguments || '{}' } };
            }
            break;
          }
          case 'message_delta': {
            stopReason = event.delta.stop_reason;
            const u = event.usage;
            usage.output = u.output_tokens ?? usage.output;
            if (u.input_tokens != null) usage.input = u.input_tokens;
            if (u.cache_read_input_tokens != null) usage.cacheRead = u.cache_read_input_tokens;
            if (u.cache_creation_input_tokens != null) usage.cacheWrite = u.cache_creation_input_tokens;
            break;
          }
          case 'message_stop':
            stopped = true;
            break;
        }
        if (stopped) break;
        watch.arm(outputs === 0);
      }
      if (watch.stalled) throw stallError(this.name, watch.stalled);
      // A connection cut cleanly (a proxy, a crashed worker) looks like an ordinary end of stream.
      if (!stopped) throw new RetryableError(`${this.name}: the stream ended before the reply finished`);
      yield {
        type: 'usage',
        // Anthropic's input_tokens leaves out what was read from or written to the cache.
        promptTokens: usage.input + usage.cacheRead + usage.cacheWrite,
        completionTokens: usage.output,
        cachedTokens: usage.cacheRead,
        ...(stopReason === 'max_tokens' ? { truncated: true } : {}),
      };
    } catch (error) {
      if (watch.stalled && !(error instanceof LlmError)) throw stallError(this.name, watch.stalled);
      throw this.classify(error);
    } finally {
      watch.disarm();
      request.signal.removeEventListener('abort', onAbort);
      connection.abort();
    }
  }

  /** The SDK's errors in the shapes our retry policy knows (status and headers kept, for retry-after). */
  private classify(error: unknown): unknown {
    if (error instanceof APIUserAbortError || error instanceof LlmError) return error;
    if (error instanceof APIConnectionTimeoutError)
      return new RetryableError(`${this.name}: the server did not answer in time`, { cause: error });
    if (error instanceof APIConnectionError) {
      const why = rootCause(error);
      return new RetryableError(`${this.name}: ${error.message}${why ? ` (${why})` : ''}`, { cause: error });
    }
    if (error instanceof APIError) {
      const body = error.error as { error?: { type?: string; message?: string } } | undefined;
      const detail = body?.error ? `${body.error.type}: ${body.error.message}` : error.message;
      if (error.status === undefined) {
        // An `error` event mid-stream (overloaded_error, api_error): retryable while nothing was said.
        return new RetryableError(`${this.name}: ${detail}`, { cause: error });
      }
      return new HttpStatusError(
        error.status,
        `${this.name}: HTTP ${error.status}: ${detail}`,
        error.headers,
      );
    }
    return error;
  }

  private redact(text: string): string {
    const key = this.options.apiKey;
    return key && key.length >= 8 ? text.split(key).join('[redacted]') : text;
  }

  private toLlmError(error: unknown): LlmError {
    if (error instanceof LlmError)
      return new LlmError(error.code, this.redact(error.message), { cause: error });
    const e = this.classify(error);
    const message = e instanceof Error ? e.message : String(e);
    const code = /no first token|did not answer in time/.test(message) ? 'timeout' : 'request';
    const text = message.startsWith(this.name) ? message : `${this.name}: ${message}`;
    return new LlmError(code, this.redact(text), { cause: error });
  }
}
