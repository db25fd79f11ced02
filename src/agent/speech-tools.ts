import type { Clock } from '../metrics/clock.ts';
import type { ToolCall } from '../providers/llm/contract.ts';
import type { Notifier } from '../util/emitter.ts';
import type { LongToolOptions } from './options.ts';
import type { SpeechHooks } from './speech.ts';
import type { SupervisedResult, ToolResult, ToolRunner } from './tool-runner.ts';

export interface SpeechToolsDeps {
  clock: Clock;
  tools: ToolRunner;
  timeoutMs: number;
  longTools: LongToolOptions;
  /** The speech's signal: aborting it (an interruption, a spoken "cancel") cancels the running tool. */
  signal: AbortSignal;
  /** Shared with the speech; notified when it is authorized or aborted. */
  changed: Notifier;
  usage: { toolMs: number | null };
  hooks: Pick<SpeechHooks, 'onToolCall' | 'onToolResult' | 'onToolProgress' | 'onChange'>;
  isAuthorized(): boolean;
  /** Speaks a line that belongs to no LLM step, so it never enters the history. */
  sayFiller(text: string): void;
  /** Speaks a line recorded in the history as a step of its own. */
  sayStep(text: string): void;
}

/**
 * The tool calls of one speech, run one at a time under the tool runner's supervision: they wait for the
 * confirmed turn, report progress, say one status line if a tool runs long, add up the time spent in tools,
 * and end the reply with an apology when a tool hits the hard timeout.
 */
export class SpeechTools {
  private running = false;
  private statusSpoken = false;

  constructor(private readonly deps: SpeechToolsDeps) {}

  /** A tool is running now (the session keeps listening for "cancel" meanwhile). */
  get isRunning(): boolean {
    return this.running;
  }

  /** Runs one call; undefined when the speech ended before it could start. */
  async run(call: ToolCall): Promise<SupervisedResult | undefined> {
    const { clock, tools, timeoutMs, hooks, longTools, signal } = this.deps;
    // A preemptive reply may be thrown away: tools (which may have side effects) wait for the confirmed turn.
    while (!this.deps.isAuthorized() && !signal.aborted) await this.deps.changed.wait();
    if (signal.aborted) return undefined;
    hooks.onToolCall(call);
    const started = clock.now();
    this.running = true;
    hooks.onChange();
    try {
      const outcome = await tools.supervise(call, signal, {
        clock,
        timeoutMs,
        slowAfterMs: longTools.statusAfterMs,
        onSlow: () => this.sayStatus(),
        onProgress: (progress) => {
          if (!signal.aborted) hooks.onToolProgress(call, progress);
        },
        say: (text) => {
          if (!signal.aborted && text.trim()) this.deps.sayFiller(text.trim());
        },
      });
      this.record(call, outcome.result, started);
      return outcome;
    } finally {
      this.running = false;
      hooks.onChange();
    }
  }

  /** A tool hit the hard timeout: the reply ends with an apology, recorded as its own step. */
  apologize(): void {
    const text = this.deps.longTools.timeoutApology.trim();
    if (!text || this.deps.signal.aborted) return;
    this.deps.sayStep(text);
  }

  /** One short status line per reply while a tool runs long, through the normal TTS path. */
  private sayStatus(): void {
    const text = this.deps.longTools.statusText.trim();
    if (this.statusSpoken || !text || this.deps.signal.aborted) return;
    this.statusSpoken = true;
    this.deps.sayFiller(text);
  }

  private record(call: ToolCall, result: ToolResult, started: number): void {
    const durationMs = this.deps.clock.now() - started;
    this.deps.usage.toolMs = (this.deps.usage.toolMs ?? 0) + durationMs;
    this.deps.hooks.onToolResult(call, result, durationMs);
  }
}
