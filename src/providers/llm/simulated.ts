import { type Clock, MonotonicClock } from '../../metrics/clock.ts';
import { type LatencySpec, latencySampler, seededRandom } from '../simulated-latency.ts';
import type { ChatRequest, LLM, LlmChunk } from './contract.ts';

export interface SimulatedLlmOptions {
  clock?: Clock;
  /** Time from the request to the first token (a cloud model's TTFT). */
  ttft: LatencySpec;
  /** Decode speed; tokens are whitespace-delimited pieces of the reply. */
  tokensPerSecond: number;
  /** Replies to choose from, one per request, drawn with the seeded generator. */
  replies: readonly string[];
  seed?: number;
}

/**
 * An LLM that answers with canned replies on a cloud model's timing: a drawn time to first token, then tokens at
 * a steady rate. For benchmarks of everything around the model; it keeps no per-request state, so a long soak
 * measures the pipeline's memory, not this double's.
 */
export class SimulatedLlm implements LLM {
  readonly name = 'simulated';
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly nextTtft: () => number;

  constructor(private readonly options: SimulatedLlmOptions) {
    if (!(options.tokensPerSecond > 0)) {
      throw new RangeError(`tokensPerSecond must be > 0, got ${options.tokensPerSecond}`);
    }
    if (options.replies.length === 0 || options.replies.some((r) => !r.trim())) {
      throw new RangeError('replies must be a non-empty list of non-empty texts');
    }
    this.clock = options.clock ?? new MonotonicClock();
    this.random = seededRandom(options.seed ?? 1);
    this.nextTtft = latencySampler(options.ttft, this.random, 'ttft');
  }

  async *chat(request: ChatRequest): AsyncIterable<LlmChunk> {
    const { replies, tokensPerSecond } = this.options;
    const reply = replies[Math.floor(this.random() * replies.length)];
    const tokens = reply.match(/\S+\s*/g) ?? [];
    const signal = request.signal;
    try {
      await this.clock.sleep(this.nextTtft(), signal);
      for (let i = 0; i < tokens.length; i++) {
        if (i > 0) await this.clock.sleep(1000 / tokensPerSecond, signal);
        yield { type: 'text', delta: tokens[i] };
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    const promptChars = request.messages.reduce((n, m) => n + m.content.length, 0);
    // About four characters per token, as English text runs through a BPE tokenizer.
    yield { type: 'usage', promptTokens: Math.ceil(promptChars / 4), completionTokens: tokens.length };
  }
}
