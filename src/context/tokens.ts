import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';
import type { ChatMessage, LLM, TokenCounter } from '../providers/llm/contract.ts';

export type TiktokenEncoding = 'o200k_base' | 'cl100k_base';

/**
 * The tiktoken encoding of an OpenAI model, from the LLM's name or spec (`openai:gpt-4o-mini`,
 * `openai-compatible:<url>#gpt-4.1`): o200k_base for the gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and o-series families,
 * cl100k_base for everything else (older OpenAI models, and the nearest common guess for other servers' models).
 * A fallback chain's name (`a > b`) counts as its first provider's.
 */
export function encodingForModel(llmName: string): TiktokenEncoding {
  const first = llmName.split(' > ')[0];
  const model = (first.includes('#') ? first.slice(first.lastIndexOf('#') + 1) : first)
    .replace(/^openai:/, '')
    .toLowerCase();
  return /^(chatgpt-4o|gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o[1-9](-|$))/.test(model)
    ? 'o200k_base'
    : 'cl100k_base';
}

// Building an encoder parses its whole rank table (~250 ms for cl100k, ~450 ms for o200k, synchronously), so each is
// built at most once per process and shared: encoders are immutable.
const encoders = new Map<TiktokenEncoding, Promise<Tiktoken>>();

async function loadRanks(encoding: TiktokenEncoding): Promise<TiktokenBPE> {
  const module =
    encoding === 'o200k_base'
      ? await import('js-tiktoken/ranks/o200k_base')
      : await import('js-tiktoken/ranks/cl100k_base');
  return module.default;
}

function encoder(encoding: TiktokenEncoding): Promise<Tiktoken> {
  let pending = encoders.get(encoding);
  if (!pending) {
    pending = loadRanks(encoding).then((ranks) => new Tiktoken(ranks));
    pending.catch(() => encoders.delete(encoding));
    encoders.set(encoding, pending);
  }
  return pending;
}

/**
 * A tiktoken counter. The overheads follow OpenAI's chat format: 3 tokens around each message and 3 that prime the
 * reply.
 */
export async function tiktokenCounter(encoding: TiktokenEncoding): Promise<TokenCounter> {
  const enc = await encoder(encoding);
  return {
    name: `tiktoken:${encoding}`,
    countTokens: (text) => (text ? enc.encode(text).length : 0),
    messageOverheadTokens: 3,
    promptOverheadTokens: 3,
  };
}

/**
 * The best counter for an LLM: its own tokenizer when it has one (a local GGUF), otherwise tiktoken chosen by the
 * model's name (exact for OpenAI models, an approximation for other models behind an OpenAI-compatible server).
 */
export async function tokenCounterFor(llm: LLM): Promise<TokenCounter> {
  if (llm.tokenCounter) return llm.tokenCounter();
  return tiktokenCounter(encodingForModel(llm.name));
}

/** Counts messages, each once: a message's count is cached on the message object (history items never change). */
export class MessageTokens {
  private readonly cache = new WeakMap<object, number>();

  constructor(readonly counter: TokenCounter) {}

  count(message: ChatMessage): number {
    const cached = this.cache.get(message);
    if (cached !== undefined) return cached;
    const tokens = this.countUncached(message);
    this.cache.set(message, tokens);
    return tokens;
  }

  text(text: string): number {
    return this.counter.countTokens(text);
  }

  private countUncached(message: ChatMessage): number {
    let tokens = this.counter.messageOverheadTokens + this.counter.countTokens(message.content);
    for (const call of message.toolCalls ?? []) {
      tokens +=
        this.counter.messageOverheadTokens +
        this.counter.countTokens(call.name) +
        this.counter.countTokens(call.arguments);
    }
    return tokens;
  }
}

/** `text` cut at a word boundary to at most `maxTokens` tokens (a summariser may overrun or count differently). */
export function clipToTokens(text: string, maxTokens: number, counter: TokenCounter): string {
  if (counter.countTokens(text) <= maxTokens) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (counter.countTokens(`${text.slice(0, mid)}…`) <= maxTokens) low = mid;
    else high = mid - 1;
  }
  const cut = text.slice(0, low);
  const space = cut.lastIndexOf(' ');
  return `${(space > 0 ? cut.slice(0, space) : cut).trimEnd()}…`;
}
