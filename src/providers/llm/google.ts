import {
  ApiError,
  type Content,
  type GenerateContentParameters,
  GoogleGenAI,
  type Part,
} from '@google/genai';
import { budgetedChat, StallWatch, stallError } from './anthropic-budget.ts';
import type { ChatMessage, ChatRequest, LLM, LlmChunk, ToolSchema } from './contract.ts';
import { LlmError } from './errors.ts';
import type { ProviderLog } from './openai-compatible.ts';
import { HttpStatusError, RetryableError, type RetryPolicy, retryPolicy, rootCause } from './openai-retry.ts';

export interface GoogleLlmOptions {
  /** e.g. `gemini-2.5-flash`. */
  model: string;
  apiKey: string;
  /** Default Google's (`https://generativelanguage.googleapis.com`); the SDK adds `/v1beta/models/…`. */
  baseURL?: string;
  /** Per attempt, to the first streamed output (halved under a first-token budget). Default 15,000 ms. */
  firstTokenTimeoutMs?: number;
  /** Longest silence between two streamed chunks. Default 15,000 ms. */
  idleTimeoutMs?: number;
  /** Retries before the first output only (429 with RetryInfo, 5xx, drops). Default 2. */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  maxTokens?: number;
  temperature?: number;
  name?: string;
  log?: ProviderLog;
}

/** Our chat contract as Gemini `contents`: model turns carry functionCall parts, tool results functionResponse. */
export function toGeminiContents(messages: readonly ChatMessage[]): { system?: string; contents: Content[] } {
  const system: string[] = [];
  const contents: Content[] = [];
  const names = new Map<string, string>();
  const add = (role: 'user' | 'model', parts: Part[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts?.push(...parts);
    else contents.push({ role, parts });
  };
  for (const m of messages) {
    if (m.role === 'system') {
      if (m.content.trim()) system.push(m.content);
    } else if (m.role === 'user') {
      add('user', m.content.trim() ? [{ text: m.content }] : []);
    } else if (m.role === 'assistant') {
      const parts: Part[] = m.content.trim() ? [{ text: m.content }] : [];
      for (const call of m.toolCalls ?? []) {
        names.set(call.id, call.name);
        parts.push({ functionCall: { id: call.id, name: call.name, args: parseArgs(call.arguments) } });
      }
      add('model', parts);
    } else {
      const id = m.toolCallId ?? '';
      add('user', [
        {
          functionResponse: {
            id,
            name: names.get(id) ?? 'tool',
            response: { output: parseOutput(m.content) },
          },
        },
      ]);
    }
  }
  return { ...(system.length ? { system: system.join('\n\n') } : {}), contents };
}

function parseArgs(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function parseOutput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const toDeclarations = (tools: readonly ToolSchema[]) => [
  {
    functionDeclarations: tools.map((t) => ({
      name: t.name,
      description: t.description,
      parametersJsonSchema: t.parameters,
    })),
  },
];

/**
 * Gemini over the official `@google/genai` SDK: `streamGenerateContent` (SSE), function calling mapped to our tool
 * contract, usage with cached tokens, retries before the first output only, within the first-token budget.
 */
export class GoogleLlm implements LLM {
  readonly name: string;
  private readonly ai: GoogleGenAI;
  private readonly retry: RetryPolicy;
  private calls = 0;

  constructor(private readonly options: GoogleLlmOptions) {
    this.name = options.name ?? `google:${options.model}`;
    this.retry = retryPolicy(options);
    this.ai = new GoogleGenAI({
      apiKey: options.apiKey,
      ...(options.baseURL ? { httpOptions: { baseUrl: options.baseURL } } : {}),
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

  /** Opens the connection with `GET /v1beta/models`; any HTTP answer counts as warm. */
  async prewarm(): Promise<void> {
    try {
      await this.ai.models.list({ config: { pageSize: 1 } });
    } catch (error) {
      if (error instanceof ApiError) return;
      throw this.toLlmError(error);
    }
  }

  private params(request: ChatRequest, signal: AbortSignal): GenerateContentParameters {
    const { system, contents } = toGeminiContents(request.messages);
    const maxTokens = request.maxTokens ?? this.options.maxTokens;
    const temperature = request.temperature ?? this.options.temperature;
    return {
      model: this.options.model,
      contents,
      config: {
        abortSignal: signal,
        ...(system ? { systemInstruction: system } : {}),
        ...(request.tools?.length ? { tools: toDeclarations(request.tools) } : {}),
        ...(maxTokens !== undefined ? { maxOutputTokens: maxTokens } : {}),
        ...(temperature !== undefined ? { temperature } : {}),
      },
    };
  }

  private async *stream(request: ChatRequest, firstMs: number): AsyncGenerator<LlmChunk> {
    if (request.signal.aborted) return;
    const connection = new AbortController();
    const onAbort = () => connection.abort(request.signal.reason);
    request.signal.addEventListener('abort', onAbort, { once: true });
    const watch = new StallWatch(firstMs, this.options.idleTimeoutMs ?? 15_000, () => connection.abort());
    try {
      watch.arm(true);
      const stream = await this.ai.models.generateContentStream(this.params(request, connection.signal));
      const iterator = stream[Symbol.asyncIterator]();
      let outputs = 0;
      let finish: string | undefined;
      let usage: {
        promptTokenCount?: number;
        candidatesTokenCount?: number;
        cachedContentTokenCount?: number;
      } = {};
      for (;;) {
        const next = await iterator.next();
        watch.disarm();
        if (request.signal.aborted) return;
        if (watch.stalled || next.done) break;
        const chunk = next.value;
        const candidate = chunk.candidates?.[0];
        for (const part of candidate?.content?.parts ?? []) {
          if (part.text && !part.thought) {
            outputs++;
            yield { type: 'text', delta: part.text };
          } else if (part.functionCall?.name) {
            outputs++;
            const id = part.functionCall.id ?? `call_${++this.calls}`;
            const args = JSON.stringify(part.functionCall.args ?? {});
            yield { type: 'toolCall', call: { id, name: part.functionCall.name, arguments: args } };
          }
        }
        if (chunk.usageMetadata) usage = chunk.usageMetadata;
        if (candidate?.finishReason) finish = String(candidate.finishReason);
        watch.arm(outputs === 0);
      }
      if (watch.stalled) throw stallError(this.name, watch.stalled);
      if (!finish) throw new RetryableError(`${this.name}: the stream ended before the reply finished`);
      if (finish === 'SAFETY' || finish === 'RECITATION' || finish === 'PROHIBITED_CONTENT') {
        throw new LlmError('request', `${this.name}: the reply was blocked (${finish})`);
      }
      yield {
        type: 'usage',
        promptTokens: usage.promptTokenCount ?? 0,
        completionTokens: usage.candidatesTokenCount ?? 0,
        cachedTokens: usage.cachedContentTokenCount ?? 0,
        ...(finish === 'MAX_TOKENS' ? { truncated: true } : {}),
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

  /** SDK errors as our retry policy knows them: the status, and Google's RetryInfo delay as retry-after. */
  private classify(error: unknown): unknown {
    if (error instanceof LlmError || error instanceof RetryableError) return error;
    if (error instanceof ApiError) {
      const delay = /"retryDelay":\s*"(\d+(?:\.\d+)?)s"/.exec(error.message)?.[1];
      const headers = new Headers(delay ? { 'retry-after': delay } : {});
      return new HttpStatusError(
        error.status,
        `${this.name}: HTTP ${error.status}: ${error.message.slice(0, 300)}`,
        headers,
      );
    }
    if (error instanceof SyntaxError)
      return new LlmError('request', `${this.name}: malformed stream data`, { cause: error });
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
    const why = rootCause(e);
    const message = e instanceof Error ? e.message : String(e);
    const code = /no first token/.test(message) ? 'timeout' : 'request';
    const text = message.startsWith(this.name)
      ? message
      : `${this.name}: ${message}${why ? ` (${why})` : ''}`;
    return new LlmError(code, this.redact(text), { cause: error });
  }
}
