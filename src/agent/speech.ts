import type { Clock } from '../metrics/clock.ts';
import type { TurnMarks } from '../metrics/turn.ts';
import type { ChatMessage, LLM, ToolCall } from '../providers/llm/contract.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { trimLeadingSilence } from '../providers/tts/leading-silence.ts';
import type { ToolProgress } from '../tools/tool.ts';
import { Notifier } from '../util/emitter.ts';
import type { ApologyVia, ApologyVoice } from './apology.ts';
import { BufferedPlayout } from './buffered-playout.ts';
import { SentenceChunker, type SentenceChunkerOptions } from './chunker.ts';
import { withFirstTokenBudget } from './first-token-budget.ts';
import type { AudioOutput, PlayoutReceipt } from './io.ts';
import type { LongToolOptions } from './options.ts';
import {
  type ApologyRecord,
  type FailureSource,
  SpeechFailure,
  type SpeechFailureInfo,
} from './speech-failure.ts';
import { SpeechTools } from './speech-tools.ts';
import type { SupervisedResult, ToolResult, ToolRunner } from './tool-runner.ts';
import { watchedTts } from './tts-watchdog.ts';

export type SpeechSource = { kind: 'llm'; messages: ChatMessage[] } | { kind: 'text'; text: string };

export interface SpeechHooks {
  onFirstPlayed(atMs: number): void;
  /** A sentence of the reply started to be sent for playout (its text, as it is heard). */
  onSentencePlaying?(text: string): void;
  onPlayoutStopped(receipt: PlayoutReceipt): void;
  onToolCall(call: ToolCall): void;
  onToolResult(call: ToolCall, result: ToolResult, durationMs: number): void;
  onToolProgress(call: ToolCall, progress: ToolProgress): void;
  onError(error: Error, source: FailureSource): void;
  /** The apology after a failure started to be heard. */
  onApologyPlayed(atMs: number, via: ApologyVia): void;
  onChange(): void;
}

export interface SpeechDeps {
  id: number;
  clock: Clock;
  llm: LLM;
  tts: TTS;
  output: AudioOutput;
  tools: ToolRunner;
  source: SpeechSource;
  hooks: SpeechHooks;
  chunker?: SentenceChunkerOptions;
  /** At this many sentences the reply ends (the LLM is stopped); 0 or absent: no budget. */
  maxSentences?: number;
  maxToolSteps: number;
  toolTimeoutMs: number;
  longTools: LongToolOptions;
  /** The whole wait for each LLM request's first token, retries and fallbacks included. */
  firstTokenBudgetMs: number;
  /** A sentence without audio for this long fails the TTS. */
  ttsStallTimeoutMs: number;
  /** Said after a failure (absent: nothing is said, the error is still reported). */
  apology?: ApologyVoice;
}

export interface SpeechStep {
  /** Everything the LLM wrote in this step. */
  text: string;
  toolCalls: ToolCall[];
  results: { call: ToolCall; result: ToolResult }[];
}

export type SpeechOutcome = 'completed' | 'interrupted' | 'discarded' | 'noReply' | 'error';

export interface SpeechResult {
  outcome: SpeechOutcome;
  steps: SpeechStep[];
  /** What the user heard of each step's text. */
  heard: string[];
  playedMs: number;
  droppedStaleFrames: number;
  /** Why the speech failed (outcome `error`). */
  failure?: SpeechFailureInfo;
  /** The apology played after the failure, and what of it was heard. */
  apology?: ApologyRecord;
}

const AUDIO_SETTLE_GRACE_MS = 200;
/** A sentence's end: terminal punctuation, maybe followed by closing quotes or brackets. */
const ENDS_SENTENCE = /[.!?…]["'”’)\]]*\s*$/;
/** TTS segments that belong to no LLM step (a long tool's status line): never part of the history. */
const FILLER_STEP = -1;

/**
 * One agent reply (one epoch): LLM → sentence chunker → TTS → playout, with tool rounds in between. It buffers
 * its audio so a tentative interruption can pause playout and a false one resume it where the user stopped
 * hearing. Aborting it stops the LLM, the TTS and the playout together; a frame that arrives afterwards is
 * dropped, never played. The audio lives in a BufferedPlayout and the tool calls in SpeechTools; this class
 * runs the LLM steps and owns the speech's lifecycle (authorization, abort, outcome).
 */
export class Speech {
  readonly id: number;
  readonly marks: TurnMarks = {};
  readonly usage = {
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
    ttsCharacters: 0,
    toolMs: null as number | null,
    ttsCache: { hits: 0, misses: 0, savedMs: 0 },
  };
  readonly finished: Promise<SpeechResult>;

  private readonly controller = new AbortController();
  /** Wakes whoever waits on this speech: the playout, its frame feed, a tool waiting for authorization. */
  private readonly changed = new Notifier();
  private readonly steps: SpeechStep[] = [];
  private readonly playout: BufferedPlayout;
  private readonly toolCalls: SpeechTools;
  private readonly failure: SpeechFailure;
  /** Stops the LLM alone: a failed TTS leaves nothing to say the rest with. */
  private readonly generation = new AbortController();
  private authorized = false;
  private abortReason: 'interrupted' | 'discarded' | undefined;

  constructor(private readonly deps: SpeechDeps) {
    this.id = deps.id;
    const { hooks } = deps;
    const signal = this.controller.signal;
    const isAuthorized = () => this.authorized;
    this.failure = new SpeechFailure({
      clock: deps.clock,
      apology: deps.apology,
      output: deps.output,
      speechId: deps.id,
      signal,
      onError: (error, source) => hooks.onError(error, source),
      stopGeneration: () => this.generation.abort(new Error(`speech ${deps.id} failed`)),
      onApologyPlayed: (atMs, via) => hooks.onApologyPlayed(atMs, via),
      onPlayoutStopped: (receipt) => hooks.onPlayoutStopped(receipt),
      onChange: () => {
        this.changed.notify();
        hooks.onChange();
      },
    });
    this.playout = new BufferedPlayout({
      speechId: deps.id,
      clock: deps.clock,
      // Every stream starts with sound: the engine's quiet lead-in is cut as it streams (the watchdog inside
      // still sees every engine frame, so a trimmed lead-in never looks like a stall).
      tts: trimLeadingSilence(watchedTts(deps.tts, { clock: deps.clock, stallMs: deps.ttsStallTimeoutMs }), {
        clock: deps.clock,
      }),
      output: deps.output,
      signal,
      changed: this.changed,
      marks: this.marks,
      usage: this.usage,
      isAuthorized,
      onFirstPlayed: (atMs) => hooks.onFirstPlayed(atMs),
      onSentencePlaying: (text) => hooks.onSentencePlaying?.(text),
      onPlayoutStopped: (receipt) => hooks.onPlayoutStopped(receipt),
      onError: (error) => this.fail(error, 'tts'),
      onChange: () => hooks.onChange(),
      // "Waiting for a tool" starts when the status line (if any) has played out: the state turns to thinking.
      onOutputIdle: () => {
        if (this.toolCalls.isRunning) hooks.onChange();
      },
      // Nobody can hear this reply any more: its LLM and TTS stop now, not when the session notices.
      onOutputLost: (reason) => {
        if (reason === 'stalled')
          this.fail(new Error('the audio output kept stopping without playing anything'), 'output');
        this.abort('interrupted');
      },
    });
    this.toolCalls = new SpeechTools({
      clock: deps.clock,
      tools: deps.tools,
      timeoutMs: deps.toolTimeoutMs,
      longTools: deps.longTools,
      signal,
      changed: this.changed,
      usage: this.usage,
      hooks,
      isAuthorized,
      sayFiller: (text) => this.playout.speak(text, FILLER_STEP),
      sayStep: (text) => {
        this.steps.push({ text, toolCalls: [], results: [] });
        this.playout.speak(text, this.steps.length - 1);
      },
    });
    const generation = this.generate();
    // A failed reply ends with the apology, after the words it had already said.
    const playout = this.playout.run().then(() => this.failure.playApology());
    // The TTS stream should end promptly after an abort; a misbehaving one gets a short grace period (its late
    // frames are dropped and counted) and cannot hold the history hostage.
    const audioSettled = () =>
      Promise.race([
        this.playout.audioSettled,
        this.deps.clock.sleep(AUDIO_SETTLE_GRACE_MS).catch(() => undefined),
      ]);
    this.finished = Promise.all([generation, playout])
      .then(audioSettled)
      .then(() => this.result());
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }
  get isAuthorized(): boolean {
    return this.authorized;
  }
  get isPaused(): boolean {
    return this.playout.isPaused || this.failure.isPaused;
  }
  get hasPlayed(): boolean {
    return this.playout.hasPlayed || this.failure.hasPlayed;
  }
  get isRunningTool(): boolean {
    return this.toolCalls.isRunning;
  }
  /** A tool is running and the user hears nothing (any status line has played out). */
  get isWaitingForTool(): boolean {
    return this.toolCalls.isRunning && this.playout.isOutputIdle;
  }
  get isDone(): boolean {
    return this.controller.signal.aborted || (this.playout.isFinished && !this.failure.isBusy);
  }
  /** Lets the audio play (a preemptive speech is generated before the turn is confirmed, but held). */
  authorize(): void {
    this.authorized = true;
    this.changed.notify();
  }

  /** Stops playout at once, keeping the audio so `resume()` continues where the user stopped hearing. */
  pause(): void {
    this.playout.pause();
    this.failure.pause();
  }

  resume(): void {
    this.playout.resume();
    this.failure.resume();
  }

  /** Ends the speech: LLM, TTS and playout stop together. */
  abort(reason: 'interrupted' | 'discarded'): void {
    if (this.controller.signal.aborted) return;
    this.abortReason = reason;
    this.controller.abort(new Error(`speech ${this.id} ${reason}`));
    this.playout.stop();
    this.failure.stop();
    this.changed.notify();
  }

  private async generate(): Promise<void> {
    const { source, llm, tools, clock, maxToolSteps } = this.deps;
    // The speech's abort, or a failure that left nothing to say the rest with.
    const signal = AbortSignal.any([this.controller.signal, this.generation.signal]);
    // A TTS that takes streamed input hears the first clause (or first few words) before the sentence ends.
    const chunker = new SentenceChunker({
      streamingInput: this.deps.tts.streamingInput,
      ...this.deps.chunker,
    });
    try {
      if (source.kind === 'text') {
        const step: SpeechStep = { text: source.text, toolCalls: [], results: [] };
        this.steps.push(step);
        for (const sentence of [...chunker.push(source.text), chunker.flush()])
          if (sentence) this.playout.speak(sentence, 0);
        return;
      }
      const messages = [...source.messages];
      const budget = this.deps.maxSentences || Number.POSITIVE_INFINITY;
      let sentences = 0;
      for (let stepIndex = 0; stepIndex < maxToolSteps && !signal.aborted; stepIndex++) {
        const step: SpeechStep = { text: '', toolCalls: [], results: [] };
        this.steps.push(step);
        this.marks.llmRequestAt ??= clock.now();
        const request = { messages, tools: tools.size ? tools.schemas : undefined, signal };
        const firstToken = { clock, budgetMs: this.deps.firstTokenBudgetMs };
        // What was sent to the TTS: a reply cut by the sentence budget or the token limit ends here.
        let spoken = '';
        let cut = false;
        for await (const chunk of withFirstTokenBudget(llm, request, firstToken)) {
          if (signal.aborted) break;
          if (chunk.type === 'text') {
            if (!chunk.delta) continue;
            this.marks.llmFirstTokenAt ??= clock.now();
            this.marks.llmLastTokenAt = clock.now();
            step.text += chunk.delta;
            for (const sentence of chunker.push(chunk.delta)) {
              this.playout.speak(sentence, stepIndex);
              spoken = spoken ? `${spoken} ${sentence}` : sentence;
              // A streaming TTS gets clauses too: only a chunk that ends a sentence counts against the budget.
              if (ENDS_SENTENCE.test(sentence) && ++sentences >= budget) cut = true;
              if (cut) break;
            }
            // Leaving the loop ends the LLM's stream: generation stops here, not at the token limit.
            if (cut) break;
          } else if (chunk.type === 'toolCall') {
            this.marks.llmFirstTokenAt ??= clock.now();
            step.toolCalls.push(chunk.call);
          } else {
            this.usage.promptTokens += chunk.promptTokens;
            this.usage.completionTokens += chunk.completionTokens;
            this.usage.cachedTokens += chunk.cachedTokens ?? 0;
            // Stopped by the token limit: its last words are a fragment, never said nor kept.
            if (chunk.truncated) cut = true;
          }
        }
        const rest = chunker.flush();
        // A reply that is one unfinished sentence is still said: a fragment beats silence.
        if (cut && spoken) step.text = spoken;
        else if (rest && !signal.aborted) this.playout.speak(rest, stepIndex);
        if (cut || step.toolCalls.length === 0 || signal.aborted) break;
        messages.push({ role: 'assistant', content: step.text, toolCalls: step.toolCalls });
        let stopped: SupervisedResult['status'] | undefined;
        for (const call of step.toolCalls) {
          const outcome = await this.toolCalls.run(call);
          if (!outcome) break;
          step.results.push({ call, result: outcome.result });
          messages.push({ role: 'tool', toolCallId: call.id, content: outcome.result.content });
          if (outcome.status !== 'done') {
            stopped = outcome.status;
            break;
          }
        }
        if (stopped === 'timeout') this.toolCalls.apologize();
        // A tool that ended the reply (a handoff): the next agent speaks, not another round of this one.
        if (stopped || step.results.some((r) => r.result.endsReply)) break;
      }
    } catch (error) {
      if (!signal.aborted) this.fail(error, 'llm');
    } finally {
      this.playout.endText();
      this.changed.notify();
      this.deps.hooks.onChange();
    }
  }

  /**
   * The LLM, the TTS or the output failed: the error goes out, and the speech ends with outcome `error` after
   * an apology (an abort is no failure; only the first failure counts).
   */
  private fail(error: unknown, source: FailureSource): void {
    this.failure.fail(error, source);
  }

  private async result(): Promise<SpeechResult> {
    const failure = this.failure.info;
    // A failure outranks the user cutting in on its apology (the turn ended because of it), not a discard.
    const outcome: SpeechOutcome =
      this.abortReason === 'discarded'
        ? 'discarded'
        : failure
          ? 'error'
          : (this.abortReason ?? (!this.playout.hasAudio ? 'noReply' : 'completed'));
    const complete = outcome === 'completed';
    const apology = await this.failure.record();
    return {
      outcome,
      steps: this.steps,
      heard: this.steps.map((_, step) => this.playout.heardOf(step, complete)),
      playedMs: this.playout.playedMs,
      droppedStaleFrames: this.playout.droppedStaleFrames,
      ...(failure ? { failure } : {}),
      ...(apology ? { apology } : {}),
    };
  }
}
