export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model wrote it; validated by the tool runner before any call. */
  arguments: string;
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Assistant messages that asked for tools. */
  toolCalls?: ToolCall[];
  /** Tool results: the call they answer. */
  toolCallId?: string;
  /** Assistant messages cut short by the user; content holds only what was heard. */
  interrupted?: boolean;
}

export interface ToolSchema {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export type LlmChunk =
  | { type: 'text'; delta: string }
  | { type: 'toolCall'; call: ToolCall }
  | {
      type: 'usage';
      promptTokens: number;
      completionTokens: number;
      cachedTokens?: number;
      /** The reply stopped at the token limit, mid-sentence (the session then ends it at its last sentence). */
      truncated?: boolean;
    };

export interface ChatRequest {
  messages: readonly ChatMessage[];
  tools?: readonly ToolSchema[];
  signal: AbortSignal;
  temperature?: number;
  maxTokens?: number;
  /**
   * How long, from this call, the request may take to its first output (token or tool call), retries and
   * fallback providers included; a provider that honours it gives up with a timeout error when it runs out
   * instead of starting attempts that cannot finish in time. Unset: the provider's own timeouts only.
   */
  firstTokenBudgetMs?: number;
}

/** Counts tokens as the model in use sees them (its own tokenizer and prompt format). */
export interface TokenCounter {
  /** Names the tokenizer, e.g. `llama:model.gguf` or `tiktoken:o200k_base`. */
  readonly name: string;
  countTokens(text: string): number;
  /** Tokens the prompt format adds around each message (role markers, separators). */
  readonly messageOverheadTokens: number;
  /** Tokens the prompt format adds once per request (start of prompt, the reply's opening). */
  readonly promptOverheadTokens: number;
}

export interface LLM {
  readonly name: string;
  /** Streams the reply. Aborting the signal stops generation promptly and ends the iterable. */
  chat(request: ChatRequest): AsyncIterable<LlmChunk>;
  /** The model's own tokenizer; resolves once the model is loaded. */
  tokenCounter?(): Promise<TokenCounter>;
  /**
   * A sibling on the same model with its own state (a local model's KV cache and turn lock), for side jobs such
   * as summaries that must neither wait on this instance's turns nor evict its cache. The caller closes it.
   */
  sibling?(): LLM;
  /** Loads weights or opens connections ahead of the first turn. */
  prewarm?(): Promise<void>;
  close?(): Promise<void>;
}
