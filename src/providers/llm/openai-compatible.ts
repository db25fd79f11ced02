import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { ChatMessage, ChatRequest, LLM, LlmChunk, ToolCall, ToolSchema } from './contract.ts';
import { LlmError } from './errors.ts';

export interface OpenAiCompatibleOptions {
  /** Model name as the server knows it (`qwen2.5`, `gpt-4o-mini`, …). */
  model: string;
  /** e.g. `http://127.0.0.1:11434/v1` (Ollama), `http://127.0.0.1:8080/v1` (llama.cpp server). Default OpenAI's. */
  baseURL?: string;
  /** Local servers ignore it, but the SDK insists on one. Default `not-needed`. */
  apiKey?: string;
  /** Until the response headers arrive (connect, queueing, prefill). Default 10,000 ms. */
  timeoutMs?: number;
  /** Longest silence between two streamed chunks before the turn fails. Default 15,000 ms. */
  idleTimeoutMs?: number;
  /**
   * Retries with backoff on connection errors and 429/5xx. Default 0: a voice turn cannot wait seconds for a
   * backoff; falling back to another provider is the agent's decision.
   */
  maxRetries?: number;
  /** Ask for a final usage chunk (`stream_options.include_usage`). Default true; turn off for servers that reject it. */
  includeUsage?: boolean;
  /** OpenAI's newer models take `max_completion_tokens`; compatible servers know `max_tokens`. */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens';
  temperature?: number;
  maxTokens?: number;
  headers?: Record<string, string>;
  /** Provider name in metrics and logs. Default `openai-compatible:<baseURL>#<model>`. */
  name?: string;
  /** Inject a client (tests, shared connection pools). */
  client?: OpenAI;
}

/** Streaming Chat Completions client for OpenAI and compatible servers (Ollama, llama.cpp server, vLLM, LM Studio). */
export class OpenAiCompatibleLlm implements LLM {
  readonly name: string;
  private readonly client: OpenAI;
  private readonly options: OpenAiCompatibleOptions;

  constructor(options: OpenAiCompatibleOptions) {
    this.options = options;
    this.name =
      options.name ?? `openai-compatible:${options.baseURL ?? 'https://api.openai.com/v1'}#${options.model}`;
    this.client =
      options.client ??
      new OpenAI({
        baseURL: options.baseURL,
        apiKey: options.apiKey ?? 'not-needed',
        timeout: options.timeoutMs ?? 10_000,
        maxRetries: options.maxRetries ?? 0,
        defaultHeaders: options.headers,
      });
  }

  chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    return this.stream(request);
  }

  private async *stream(request: ChatRequest): AsyncGenerator<LlmChunk> {
    if (request.signal.aborted) return;
    const connection = new AbortController();
    const onAbort = () => connection.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    const idleMs = this.options.idleTimeoutMs ?? 15_000;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let idleFired = false;
    // Armed only while we wait on the server, never while the consumer holds a chunk (TTS back-pressure is fine).
    const arm = () => {
      idleTimer = setTimeout(() => {
        idleFired = true;
        connection.abort();
      }, idleMs);
    };
    const disarm = () => clearTimeout(idleTimer);
    try {
      const stream = await this.client.chat.completions.create(this.body(request), {
        signal: connection.signal,
      });
      const calls = new ToolCallAccumulator();
      const iterator = stream[Symbol.asyncIterator]();
      for (;;) {
        arm();
        const next = await iterator.next();
        disarm();
        if (request.signal.aborted) return;
        if (next.done) {
          // The SDK ends an aborted stream quietly instead of throwing.
          if (idleFired) throw new Error('idle timeout');
          break;
        }
        const chunk: ChatCompletionChunk = next.value;
        for (const choice of chunk.choices ?? []) {
          const delta = choice.delta;
          if (delta?.content) yield { type: 'text', delta: delta.content };
          for (const d of delta?.tool_calls ?? []) calls.add(d);
          if (choice.finish_reason) for (const call of calls.flush()) yield { type: 'toolCall', call };
        }
        if (chunk.usage) {
          const cached = chunk.usage.prompt_tokens_details?.cached_tokens;
          yield {
            type: 'usage',
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
            ...(cached !== undefined && cached !== null ? { cachedTokens: cached } : {}),
          };
        }
      }
      // Servers that end the stream without a finish_reason still get their calls delivered.
      for (const call of calls.flush()) yield { type: 'toolCall', call };
    } catch (error) {
      if (request.signal.aborted) return;
      if (idleFired) {
        throw new LlmError('timeout', `${this.name}: no data from the server for ${idleMs} ms`, {
          cause: error,
        });
      }
      throw toLlmError(this.name, error);
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
    const tools = request.tools?.length ? request.tools.map(toTool) : undefined;
    return {
      model: this.options.model,
      messages: request.messages.map(toMessage),
      stream: true,
      ...(this.options.includeUsage === false ? {} : { stream_options: { include_usage: true } }),
      ...(tools ? { tools } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(maxTokens !== undefined ? { [this.options.maxTokensParam ?? 'max_tokens']: maxTokens } : {}),
    };
  }
}

/** Streamed tool calls arrive as fragments keyed by index: the first carries id and name, the rest argument text. */
class ToolCallAccumulator {
  private parts = new Map<number, { id?: string; name: string; arguments: string }>();

  add(d: ChatCompletionChunk.Choice.Delta.ToolCall): void {
    const part = this.parts.get(d.index) ?? { name: '', arguments: '' };
    if (d.id) part.id = d.id;
    if (d.function?.name) part.name += d.function.name;
    if (d.function?.arguments) part.arguments += d.function.arguments;
    this.parts.set(d.index, part);
  }

  flush(): ToolCall[] {
    const out = [...this.parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, p]) => ({
        id: p.id ?? `call_${index}_${Date.now().toString(36)}`,
        name: p.name,
        arguments: p.arguments || '{}',
      }));
    this.parts.clear();
    return out;
  }
}

function toMessage(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user':
      return { role: 'user', content: m.content };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content || (m.toolCalls?.length ? null : ''),
        ...(m.toolCalls?.length
          ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function' as const,
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : {}),
      };
  }
}

function toTool(t: ToolSchema): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  };
}

/** The innermost useful reason (`ECONNREFUSED`, `ENOTFOUND`, …) under fetch's generic "fetch failed". */
function rootCause(error: unknown): string | undefined {
  let why: string | undefined;
  let e = (error as { cause?: unknown }).cause;
  for (let depth = 0; e && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') why = code;
    else if (typeof message === 'string' && !why) why = message;
    e = (e as { cause?: unknown }).cause;
  }
  return why;
}

function toLlmError(name: string, error: unknown): LlmError {
  if (error instanceof APIConnectionTimeoutError) {
    return new LlmError('timeout', `${name}: the server did not answer in time`, { cause: error });
  }
  if (error instanceof APIError) {
    const detail = error.status ? `HTTP ${error.status}: ${error.message}` : error.message;
    const why = rootCause(error);
    return new LlmError('request', `${name}: ${detail}${why ? ` (${why})` : ''}`, { cause: error });
  }
  return new LlmError('request', `${name}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}
