import type { Clock } from '../metrics/clock.ts';
import type { ToolCall, ToolSchema } from '../providers/llm/contract.ts';
import {
  isReplyEnding,
  isToolSource,
  type Tool,
  type ToolEntry,
  type ToolProgress,
  toolSchema,
} from '../tools/tool.ts';

export interface ToolResult {
  content: string;
  isError: boolean;
  /** The tool ended the reply (a handoff): no further LLM round. */
  endsReply?: boolean;
}

export interface SupervisionOptions {
  clock: Clock;
  /** Hard limit: the tool is cancelled and its call ends with an error result. */
  timeoutMs: number;
  /** `onSlow` runs once when the tool is still running after this long. */
  slowAfterMs: number;
  onSlow(): void;
  onProgress?(progress: ToolProgress): void;
  /** Lets the tool speak a status line while it runs. */
  say?(text: string): void;
}

/** `done`: the tool answered (possibly with an error); `timeout`: the hard limit ended it; `cancelled`: the caller's signal did. */
export interface SupervisedResult {
  status: 'done' | 'timeout' | 'cancelled';
  result: ToolResult;
}

/**
 * Longest tool result handed back to the LLM, in characters (~4,000 tokens of English): the follow-up request
 * carries it verbatim, and a tool such as `docs_read` can return a megabyte, far more than a local model's context.
 */
export const DEFAULT_MAX_TOOL_RESULT_CHARS = 16_000;

export interface ToolRunnerOptions {
  /** Tool results longer than this many characters are cut, with a marker saying so. Default 16,000. */
  maxResultChars?: number;
  /**
   * The user's next answer (their next committed turn), for a tool that asks a question aloud (`context.ask`);
   * see voice-questions.ts. Without it tools cannot ask.
   */
  nextAnswer?(signal: AbortSignal): Promise<string>;
}

/** `content` cut to `maxChars` characters, with a marker that says how much there was. */
export function capToolResult(content: string, maxChars: number): string {
  if (content.length <= maxChars) return content;
  let end = maxChars;
  // Never split a surrogate pair (an emoji, a rare CJK character).
  const last = content.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return `${content.slice(0, end)}\n…[truncated: ${content.length} characters, showing the first ${end}]`;
}

/**
 * Runs the tools an LLM asks for. Unknown tools, unparsable or invalid arguments and throwing tools become
 * error results the LLM can read: a bad tool call never ends the session. Every result is capped at
 * `maxResultChars`.
 */
export class ToolRunner {
  private readonly entries: readonly ToolEntry[];
  readonly maxResultChars: number;
  private readonly nextAnswer: ToolRunnerOptions['nextAnswer'];

  constructor(entries: readonly ToolEntry[] = [], options: ToolRunnerOptions = {}) {
    this.entries = entries;
    this.nextAnswer = options.nextAnswer;
    const max = options.maxResultChars ?? DEFAULT_MAX_TOOL_RESULT_CHARS;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxResultChars must be a positive integer, got ${max}`);
    this.maxResultChars = max;
  }

  /** The tools available now (a tool source such as an MCP server may have changed its list). */
  get tools(): Tool[] {
    const byName = new Map<string, Tool>();
    for (const entry of this.entries) {
      for (const tool of isToolSource(entry) ? entry.tools() : [entry]) {
        if (!byName.has(tool.name)) byName.set(tool.name, tool);
      }
    }
    return [...byName.values()];
  }

  get schemas(): ToolSchema[] {
    return this.tools.map(toolSchema);
  }

  get size(): number {
    return this.tools.length;
  }

  async run(
    call: ToolCall,
    signal: AbortSignal,
    onProgress?: (progress: ToolProgress) => void,
    say?: (text: string) => void,
  ): Promise<ToolResult> {
    const result = await this.runUncapped(call, signal, onProgress, say);
    return { ...result, content: capToolResult(result.content, this.maxResultChars) };
  }

  private async runUncapped(
    call: ToolCall,
    signal: AbortSignal,
    onProgress?: (progress: ToolProgress) => void,
    say?: (text: string) => void,
  ): Promise<ToolResult> {
    const tool = this.tools.find((t) => t.name === call.name);
    if (!tool) return { content: `Error: no tool named "${call.name}"`, isError: true };
    let raw: unknown;
    try {
      raw = call.arguments.trim() ? JSON.parse(call.arguments) : {};
    } catch {
      return { content: `Error: arguments of ${call.name} are not valid JSON`, isError: true };
    }
    const parsed = tool.parameters.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      return { content: `Error: invalid arguments for ${call.name}: ${issues}`, isError: true };
    }
    try {
      const nextAnswer = this.nextAnswer;
      // A question is spoken like a status line, then the user's next turn is its answer.
      const ask =
        nextAnswer && say
          ? (question: string) => {
              if (signal.aborted) return Promise.reject(signal.reason);
              const answer = nextAnswer(signal);
              say(question);
              return answer;
            }
          : undefined;
      const value = await tool.execute(parsed.data, { signal, onProgress, say, ask });
      if (isReplyEnding(value)) return { content: value.content, isError: false, endsReply: true };
      return { content: typeof value === 'string' ? value : JSON.stringify(value ?? null), isError: false };
    } catch (error) {
      if (signal.aborted) throw error;
      return {
        content: `Error: ${call.name} failed: ${(error as Error).message ?? String(error)}`,
        isError: true,
      };
    }
  }

  /**
   * Runs a call under a hard timeout and a "slow" threshold. The limit holds even for a tool that ignores its
   * signal: the call is abandoned (and its signal aborted) at the deadline, never awaited past it.
   */
  async supervise(
    call: ToolCall,
    signal: AbortSignal,
    options: SupervisionOptions,
  ): Promise<SupervisedResult> {
    const { clock, timeoutMs } = options;
    const timeout = new AbortController();
    const cancelTimeout = clock.schedule(timeoutMs, () =>
      timeout.abort(new Error(`${call.name} timed out after ${timeoutMs} ms`)),
    );
    const combined = AbortSignal.any([signal, timeout.signal]);
    const cancelSlow = clock.schedule(options.slowAfterMs, () => {
      if (!combined.aborted) options.onSlow();
    });
    let stopWaiting = () => {};
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(combined.reason);
      if (combined.aborted) onAbort();
      combined.addEventListener('abort', onAbort, { once: true });
      stopWaiting = () => combined.removeEventListener('abort', onAbort);
    });
    aborted.catch(() => undefined);
    try {
      const result = await Promise.race([this.run(call, combined, options.onProgress, options.say), aborted]);
      return { status: 'done', result };
    } catch (error) {
      if (signal.aborted) {
        return {
          status: 'cancelled',
          result: { content: `Cancelled: ${call.name} was stopped before it finished`, isError: true },
        };
      }
      if (timeout.signal.aborted) {
        return {
          status: 'timeout',
          result: {
            content: `Error: ${call.name} did not finish within ${timeoutMs} ms and was cancelled`,
            isError: true,
          },
        };
      }
      return {
        status: 'done',
        result: {
          content: capToolResult(`Error: ${call.name} failed: ${asMessage(error)}`, this.maxResultChars),
          isError: true,
        },
      };
    } finally {
      stopWaiting();
      cancelTimeout();
      cancelSlow();
    }
  }
}

const normalize = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9'\s-]/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');

/** Whether an utterance is a request to stop what the agent is doing ("cancel", "stop that"). */
export function isCancelRequest(text: string, phrases: readonly string[]): boolean {
  const said = normalize(text);
  return said.length > 0 && phrases.some((phrase) => normalize(phrase) === said);
}

function asMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
