import {
  type ChatHistoryItem,
  type ChatWrapper,
  GeneralChatWrapper,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  LlamaText,
  type LlamaTextValue,
  resolveChatWrapper,
  type Token,
} from 'node-llama-cpp';
import type { ChatMessage } from '../llm/contract.ts';
import type { TurnDetector, TurnDetectorInput } from './contract.ts';

export interface LlmEndOfTurnOptions {
  /** A loaded llama.cpp model (the session LLM's weights: no second copy in memory). */
  model: LlamaModel;
  /** CPU threads of this signal's own context. Default 1 (see LlamaLlmOptions.threads for why). */
  threads: number;
  /** Tokens of this signal's context: the last few messages and the transcript. Default 1024. */
  contextSize: number;
  /** Past this, the other signals decide alone and this answer is dropped (real time, ms). Default 250. */
  budgetMs: number;
  /** History messages rendered before the transcript (older ones say little about this turn). Default 4. */
  historyMessages: number;
}

/** Marks the end of the transcript in the rendered prompt so the template's end-of-message tokens can be found. */
const SENTINEL = '\u241e';

/**
 * The LLM signal: the loaded model's own probability that the user's message ends here, read as the
 * probability of the chat template's end-of-user-message token right after the transcript (what LiveKit's text
 * turn detectors compute with a fine-tuned small LM). Runs on a sibling context of the shared model with one
 * sequence whose KV cache keeps the common prefix between calls, so a growing transcript only evaluates its
 * new tokens. One evaluation at a time: a call while one runs gets no answer rather than queue behind it.
 */
export class LlmEndOfTurn {
  private readonly options: LlmEndOfTurnOptions;
  private readonly wrapper: ChatWrapper;
  private opened: Promise<{ context: LlamaContext; sequence: LlamaContextSequence }> | undefined;
  private busy = false;
  private closed = false;

  constructor(options: Partial<LlmEndOfTurnOptions> & { model: LlamaModel }) {
    this.options = { threads: 1, contextSize: 1024, budgetMs: 250, historyMessages: 4, ...options };
    const template = (options.model.fileInfo.metadata?.tokenizer as { chat_template?: unknown })
      ?.chat_template;
    // A base model without a chat template gets the plain general format rather than a guessed one.
    this.wrapper =
      typeof template === 'string' ? resolveChatWrapper(options.model) : new GeneralChatWrapper();
  }

  /** P(end of the user's message), or undefined when over budget, busy, aborted, closed or failed. */
  async probability(input: TurnDetectorInput): Promise<number | undefined> {
    if (this.closed || this.busy || input.signal?.aborted || !input.transcript.trim()) return undefined;
    this.busy = true;
    const work = this.evaluate(input).finally(() => {
      this.busy = false;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const budget = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.options.budgetMs);
    });
    const aborted = new Promise<undefined>((resolve) =>
      input.signal?.addEventListener('abort', () => resolve(undefined), { once: true }),
    );
    try {
      return await Promise.race([work.catch(() => undefined), budget, aborted]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Prompt tokens and the token that would end the user's message there. */
  tokensFor(transcript: string, history: readonly ChatMessage[]): { prefix: Token[]; end: Token } {
    const chatHistory: ChatHistoryItem[] = [
      ...toChatHistory(history.slice(-this.options.historyMessages)),
      { type: 'user', text: `${transcript.trim()}${SENTINEL}` },
      { type: 'model', response: [] },
    ];
    const { contextText } = this.wrapper.generateContextState({ chatHistory });
    const values = contextText.values;
    const at = values.findLastIndex((v) => typeof v === 'string' && v.includes(SENTINEL));
    if (at < 0) throw new Error('the chat template dropped the transcript');
    const [before, after] = (values[at] as string).split(SENTINEL);
    const prefixValues: LlamaTextValue[] = [...values.slice(0, at), before];
    const suffixValues: LlamaTextValue[] = [after, ...values.slice(at + 1)];
    const tokenizer = this.options.model.tokenizer;
    const prefix = LlamaText(prefixValues).tokenize(tokenizer);
    const end = LlamaText(suffixValues).tokenize(tokenizer, 'trimLeadingSpace')[0];
    if (prefix.length === 0 || end === undefined) throw new Error('empty prompt or no end-of-message token');
    return { prefix, end };
  }

  private async evaluate(input: TurnDetectorInput): Promise<number> {
    const { sequence } = await this.open();
    const { prefix, end } = this.tokensFor(input.transcript, input.history);
    const tokens = prefix.slice(-(this.options.contextSize - 8));
    // Keep the KV cache of the prefix shared with the previous call; always re-evaluate the last token.
    const cached = sequence.contextTokens;
    let common = 0;
    while (common < cached.length && common < tokens.length - 1 && cached[common] === tokens[common])
      common++;
    if (common < sequence.nextTokenIndex) {
      await sequence.eraseContextTokenRanges([{ start: common, end: sequence.nextTokenIndex }]);
    }
    const fresh = tokens.slice(common);
    const items = fresh.map((token, i) =>
      i === fresh.length - 1
        ? ([token, { generateNext: { probabilities: true } }] as [Token, object])
        : token,
    );
    const output = await sequence.controlledEvaluate(
      items as Parameters<LlamaContextSequence['controlledEvaluate']>[0],
    );
    const probabilities = output.at(-1)?.next?.probabilities;
    if (!probabilities) throw new Error('llama.cpp returned no probabilities');
    return probabilities.get(end) ?? 0;
  }

  private open() {
    this.opened ??= (async () => {
      const context = await this.options.model.createContext({
        contextSize: Math.min(this.options.contextSize, this.options.model.trainContextSize),
        threads: this.options.threads,
        sequences: 1,
      });
      return { context, sequence: context.getSequence() };
    })();
    this.opened.catch(() => {
      this.opened = undefined;
    });
    return this.opened;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opened = await this.opened?.catch(() => undefined);
    if (!opened) return;
    await opened.sequence.dispose();
    await opened.context.dispose();
  }
}

function toChatHistory(history: readonly ChatMessage[]): ChatHistoryItem[] {
  const items: ChatHistoryItem[] = [];
  for (const message of history) {
    if (!message.content) continue;
    if (message.role === 'system') items.push({ type: 'system', text: message.content });
    else if (message.role === 'user') items.push({ type: 'user', text: message.content });
    else if (message.role === 'assistant') items.push({ type: 'model', response: [message.content] });
  }
  return items;
}

/** The LLM signal alone, for the benchmark: even odds when it does not answer in time. */
export class LlmTurnDetector implements TurnDetector {
  readonly name = 'llm';

  constructor(private readonly llm: LlmEndOfTurn) {}

  async endOfTurnProbability(input: TurnDetectorInput): Promise<number> {
    return (await this.llm.probability(input)) ?? 0.5;
  }

  close(): Promise<void> {
    return this.llm.close();
  }
}
