import {
  type ChatHistoryItem,
  type ChatWrapper,
  GeneralChatWrapper,
  LlamaChat,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  resolveChatWrapper,
  type SpecializedChatWrapperTypeName,
} from 'node-llama-cpp';
import { AsyncQueue } from '../../util/async-queue.ts';
import type { ChatRequest, LLM, LlmChunk, TokenCounter } from './contract.ts';
import { LlmError } from './errors.ts';
import { toChatFunctions, toChatHistory, toToolCalls } from './llama-history.ts';
import { type BackendOptions, loadSharedModel } from './llama-models.ts';

export interface LlamaLlmOptions extends BackendOptions {
  /** Path of the GGUF file. */
  modelPath: string;
  /**
   * CPU threads for this session's evaluation. Default 1, measured on this project's 2-core box with another core
   * busy (the audio path: VAD, STT, TTS): the Qwen2.5-0.5B-shaped GGUF decoded at 47 tok/s with 1 thread and 12 tok/s
   * with 2; stories260K at 2,785 tok/s with 1 and 46 with 2. llama.cpp's threads spin-wait on each other, so a thread
   * that shares a core with audio work stalls the whole matrix product, and it takes the audio's core too. With 2
   * idle cores, 2 threads only shorten prefill (~350 → ~200 ms for 30 tokens), decode does not gain. One thread is
   * more than real-time for speech (a listener hears ~3 tokens/s) and always leaves a core to the audio path.
   */
  threads?: number;
  /** Context window in tokens, capped at the model's training context. Default 4096. */
  contextSize?: number;
  /**
   * Prompt format. `auto` uses the model's own chat template when the GGUF has one and node-llama-cpp's plain
   * `general` format otherwise (e.g. stories260K, a base model with no template). A wrapper type name or a
   * ChatWrapper instance forces one.
   */
  chatWrapper?: 'auto' | SpecializedChatWrapperTypeName | ChatWrapper;
  /** Sampling temperature when the request gives none. Default 0.7; 0 is greedy. */
  temperature?: number;
  /** Reply length limit when the request gives none. Default 512 tokens (a spoken reply is far shorter). */
  maxTokens?: number;
  /** Sampling seed, for reproducible tests. */
  seed?: number;
  /**
   * Keep the KV cache between turns so a turn prefills only the tokens after the longest prefix it shares with the
   * previous turn's context (history edits, e.g. an interrupted reply cut to what was heard, re-evaluate only from
   * the first changed token). Default true; false clears it every turn (benchmarks compare the two).
   */
  reuseKvCache?: boolean;
  /** Provider name in metrics and logs. Default `llama:<file name>`. */
  name?: string;
}

interface Session {
  model: LlamaModel;
  context: LlamaContext;
  sequence: LlamaContextSequence;
  chat: LlamaChat;
}

/** node-llama-cpp in-process LLM: one shared model per GGUF, one context (and KV cache) per instance/session. */
export class LlamaLlm implements LLM {
  readonly name: string;
  private readonly options: LlamaLlmOptions;
  private session: Promise<Session> | undefined;
  // Turns run one at a time on the one sequence; the next starts once the previous generation has really stopped.
  private tail: Promise<void> = Promise.resolve();
  private current: AbortController | undefined;
  private closed = false;

  constructor(options: LlamaLlmOptions) {
    this.options = options;
    this.name = options.name ?? `llama:${options.modelPath.split(/[\\/]/).at(-1)}`;
  }

  async prewarm(): Promise<void> {
    await this.open();
  }

  /** The model's tokens in the KV cache, for tests and metrics. */
  async contextTokenCount(): Promise<number> {
    return (await this.open()).sequence.nextTokenIndex;
  }

  chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    return this.turn(request);
  }

  /** The loaded model's tokenizer, with the overheads of its chat format measured once. */
  async tokenCounter(): Promise<TokenCounter> {
    const s = await this.open();
    return llamaTokenCounter(this.name, s.model, s.chat.chatWrapper);
  }

  /** Another context on the same shared weights: its own KV cache and turn lock. */
  sibling(): LLM {
    return new LlamaLlm({ ...this.options, name: `${this.name}#sibling` });
  }

  private async *turn(request: ChatRequest): AsyncGenerator<LlmChunk> {
    if (this.closed) throw new LlmError('closed', `${this.name} is closed`);
    const release = await this.acquire();
    let handedOff = false;
    try {
      if (request.signal.aborted) return;
      const s = await this.open();
      if (request.signal.aborted || this.closed) return;
      const queue = new AsyncQueue<LlmChunk>();
      const turn = new AbortController();
      this.current = turn;
      // The iterable ends the moment the caller aborts; llama.cpp stops within one token (or one prompt batch).
      const onAbort = () => {
        turn.abort(request.signal.reason);
        queue.end();
      };
      request.signal.addEventListener('abort', onAbort, { once: true });
      // The lock follows the native generation, not this generator: a consumer that abandons the iterable
      // without calling return() must not block the next turn or close().
      void this.generate(s, request, turn.signal, queue).finally(() => {
        request.signal.removeEventListener('abort', onAbort);
        if (this.current === turn) this.current = undefined;
        release();
      });
      handedOff = true;
      try {
        yield* queue;
      } finally {
        turn.abort();
      }
    } finally {
      if (!handedOff) release();
    }
  }

  private async generate(
    s: Session,
    request: ChatRequest,
    signal: AbortSignal,
    queue: AsyncQueue<LlmChunk>,
  ): Promise<void> {
    try {
      if (this.options.reuseKvCache === false) await s.sequence.clearHistory();
      const before = s.sequence.contextTokens;
      const meter = s.sequence.tokenMeter.getState();
      const functions = toChatFunctions(request.tools);
      const result = await s.chat.generateResponse(toChatHistory(request.messages, request.tools), {
        signal,
        stopOnAbortSignal: true,
        temperature: request.temperature ?? this.options.temperature ?? 0.7,
        maxTokens: request.maxTokens ?? this.options.maxTokens ?? 512,
        seed: this.options.seed,
        onTextChunk: (delta) => {
          if (!signal.aborted && delta) queue.push({ type: 'text', delta });
        },
        ...(functions ? { functions } : {}),
      });
      if (!signal.aborted) {
        for (const call of toToolCalls(result.functionCalls)) queue.push({ type: 'toolCall', call });
      }
      // At the token limit the text stops mid-sentence: said so, so the session can end the reply at a sentence.
      const truncated = result.metadata.stopReason === 'maxTokens';
      queue.push({ ...usage(before, s.sequence, meter), ...(truncated ? { truncated } : {}) });
      queue.end();
    } catch (error) {
      if (signal.aborted) queue.end();
      else
        queue.fail(
          new LlmError('request', `${this.name}: generation failed: ${errorText(error)}`, { cause: error }),
        );
    }
  }

  private acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const previous = this.tail;
    this.tail = previous.then(() => mine);
    return previous.then(() => release);
  }

  private open(): Promise<Session> {
    this.session ??= (async () => {
      const model = await loadSharedModel(this.options.modelPath, this.options);
      const context = await model.createContext({
        contextSize: Math.min(this.options.contextSize ?? 4096, model.trainContextSize),
        threads: this.options.threads ?? 1,
        sequences: 1,
      });
      const sequence = context.getSequence();
      const chat = new LlamaChat({
        contextSequence: sequence,
        chatWrapper: pickWrapper(model, this.options.chatWrapper),
      });
      return { model, context, sequence, chat };
    })();
    this.session.catch(() => {
      this.session = undefined;
    });
    return this.session;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current?.abort();
    await this.tail;
    const s = await this.session?.catch(() => undefined);
    this.session = undefined;
    if (!s) return;
    s.chat.dispose();
    await s.sequence.dispose();
    await s.context.dispose();
  }
}

function pickWrapper(model: LlamaModel, choice: LlamaLlmOptions['chatWrapper'] = 'auto'): ChatWrapper {
  if (typeof choice !== 'string') return choice;
  if (choice !== 'auto') return resolveChatWrapper(model, { type: choice });
  // Without a template node-llama-cpp guesses from the architecture (stories260K would get Llama 2's [INST]
  // format, which it never saw); the plain general format is the honest choice for a model with no chat format.
  const tokenizer = model.fileInfo.metadata?.tokenizer as { chat_template?: unknown } | undefined;
  return typeof tokenizer?.chat_template === 'string' ? resolveChatWrapper(model) : new GeneralChatWrapper();
}

/**
 * Prompt tokens = tokens kept from the previous turn's KV cache (the common prefix of the cache before and after
 * this turn, bounded by the prompt) + tokens evaluated now.
 */
function usage(
  before: readonly number[],
  sequence: LlamaContextSequence,
  meter: { usedInputTokens: number; usedOutputTokens: number },
): LlmChunk {
  const diff = sequence.tokenMeter.diff(meter);
  const after = sequence.contextTokens;
  let common = 0;
  while (common < before.length && common < after.length && before[common] === after[common]) common++;
  const cached = Math.max(0, Math.min(common, after.length - diff.usedOutputTokens));
  return {
    type: 'usage',
    promptTokens: cached + diff.usedInputTokens,
    completionTokens: diff.usedOutputTokens,
    cachedTokens: cached,
  };
}

/**
 * Counts with the model's tokenizer. The chat format's overheads are measured with the model's own chat wrapper:
 * a conversation is rendered with and without more messages, and the tokens of the texts are subtracted.
 */
function llamaTokenCounter(name: string, model: LlamaModel, wrapper: ChatWrapper): TokenCounter {
  const countTokens = (text: string) => (text ? model.tokenize(text).length : 0);
  const rendered = (history: ChatHistoryItem[]) =>
    wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer).length;
  const system = 'You are a helpful assistant. Answer briefly.';
  const text = 'Tell me a short story about a dog and a cat.';
  const base = rendered([
    { type: 'system', text: system },
    { type: 'model', response: [] },
  ]);
  const more = rendered([
    { type: 'system', text: system },
    { type: 'user', text },
    { type: 'model', response: [text] },
    { type: 'user', text },
    { type: 'model', response: [] },
  ]);
  const messageOverheadTokens = Math.max(0, Math.round((more - base) / 3 - countTokens(text)));
  return {
    name,
    countTokens,
    messageOverheadTokens,
    promptOverheadTokens: Math.max(0, base - countTokens(system) - messageOverheadTokens),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
