import type { AudioFrame } from '../audio/frame.ts';
import type { Clock } from '../metrics/clock.ts';
import type { TurnMarks } from '../metrics/turn.ts';
import type { ChatMessage, LLM, ToolCall } from '../providers/llm/contract.ts';
import type { TTS, TtsStream } from '../providers/tts/contract.ts';
import type { ToolProgress } from '../tools/tool.ts';
import { Notifier } from '../util/emitter.ts';
import { SentenceChunker, type SentenceChunkerOptions } from './chunker.ts';
import { heardText } from './heard.ts';
import type { AudioOutput, PlayoutReceipt } from './io.ts';
import type { LongToolOptions } from './options.ts';
import type { SupervisedResult, ToolResult, ToolRunner } from './tool-runner.ts';

export type SpeechSource = { kind: 'llm'; messages: ChatMessage[] } | { kind: 'text'; text: string };

export interface SpeechHooks {
  onFirstPlayed(atMs: number): void;
  onPlayoutStopped(receipt: PlayoutReceipt): void;
  onToolCall(call: ToolCall): void;
  onToolResult(call: ToolCall, result: ToolResult, durationMs: number): void;
  onToolProgress(call: ToolCall, progress: ToolProgress): void;
  onError(error: Error): void;
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
  maxToolSteps: number;
  toolTimeoutMs: number;
  longTools: LongToolOptions;
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
}

const AUDIO_SETTLE_GRACE_MS = 200;
/** TTS segments that belong to no LLM step (a long tool's status line): never part of the history. */
const FILLER_STEP = -1;

interface BufferedFrame {
  frame: AudioFrame;
  segment: number;
}

/**
 * One agent reply (one epoch): LLM → sentence chunker → TTS → playout, with tool rounds in between. It buffers
 * its audio so a tentative interruption can pause playout and a false one resume it where the user stopped
 * hearing. Aborting it stops the LLM, the TTS and the playout together; a frame that arrives afterwards is
 * dropped, never played.
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
  };
  readonly finished: Promise<SpeechResult>;

  private readonly controller = new AbortController();
  private playController: AbortController | undefined;
  private readonly changed = new Notifier();
  private readonly frames: BufferedFrame[] = [];
  private readonly segmentTexts: string[] = [];
  private readonly segmentSteps: number[] = [];
  private readonly segmentSamples: number[] = [];
  private readonly steps: SpeechStep[] = [];
  private tts: TtsStream | undefined;
  private audioConsumer: Promise<void> = Promise.resolve();
  private generationDone = false;
  private audioDone = false;
  private authorized = false;
  private paused = false;
  private playedSamples = 0;
  private failed = false;
  private abortReason: 'interrupted' | 'discarded' | undefined;
  private droppedStaleFrames = 0;
  private hasPlayedAudio = false;
  private playoutEnded = false;
  private toolRunning = false;
  private statusSpoken = false;
  /** Every frame produced so far has been handed to the output. */
  private outputIdle = true;

  constructor(private readonly deps: SpeechDeps) {
    this.id = deps.id;
    const generation = this.generate();
    const playout = this.playout();
    // The TTS stream should end promptly after an abort; a misbehaving one gets a short grace period (its late
    // frames are dropped and counted) and cannot hold the history hostage.
    const audioSettled = () =>
      Promise.race([this.audioConsumer, this.deps.clock.sleep(AUDIO_SETTLE_GRACE_MS).catch(() => undefined)]);
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
    return this.paused;
  }
  get hasPlayed(): boolean {
    return this.hasPlayedAudio;
  }
  get isRunningTool(): boolean {
    return this.toolRunning;
  }
  /** A tool is running and the user hears nothing (any status line has played out). */
  get isWaitingForTool(): boolean {
    return this.toolRunning && this.outputIdle;
  }
  get isDone(): boolean {
    return this.controller.signal.aborted || (this.generationDone && this.audioDone && this.playoutEnded);
  }
  /** Lets the audio play (a preemptive speech is generated before the turn is confirmed, but held). */
  authorize(): void {
    this.authorized = true;
    this.changed.notify();
  }

  /** Stops playout at once, keeping the audio so `resume()` continues where the user stopped hearing. */
  pause(): void {
    if (this.paused || this.controller.signal.aborted) return;
    this.paused = true;
    this.playController?.abort();
    this.deps.output.clear();
    this.deps.hooks.onChange();
  }

  resume(): void {
    if (!this.paused || this.controller.signal.aborted) return;
    this.paused = false;
    this.changed.notify();
    this.deps.hooks.onChange();
  }

  /** Ends the speech: LLM, TTS and playout stop together. */
  abort(reason: 'interrupted' | 'discarded'): void {
    if (this.controller.signal.aborted) return;
    this.abortReason = reason;
    this.controller.abort(new Error(`speech ${this.id} ${reason}`));
    this.playController?.abort();
    if (this.hasPlayedAudio || this.authorized) this.deps.output.clear();
    this.changed.notify();
  }

  private async generate(): Promise<void> {
    const { source, llm, tools, clock, maxToolSteps } = this.deps;
    const signal = this.controller.signal;
    const chunker = new SentenceChunker(this.deps.chunker);
    try {
      if (source.kind === 'text') {
        const step: SpeechStep = { text: source.text, toolCalls: [], results: [] };
        this.steps.push(step);
        for (const sentence of [...chunker.push(source.text), chunker.flush()])
          if (sentence) this.speak(sentence, 0);
        return;
      }
      const messages = [...source.messages];
      for (let stepIndex = 0; stepIndex < maxToolSteps && !signal.aborted; stepIndex++) {
        const step: SpeechStep = { text: '', toolCalls: [], results: [] };
        this.steps.push(step);
        this.marks.llmRequestAt ??= clock.now();
        for await (const chunk of llm.chat({
          messages,
          tools: tools.size ? tools.schemas : undefined,
          signal,
        })) {
          if (signal.aborted) break;
          if (chunk.type === 'text') {
            if (!chunk.delta) continue;
            this.marks.llmFirstTokenAt ??= clock.now();
            this.marks.llmLastTokenAt = clock.now();
            step.text += chunk.delta;
            for (const sentence of chunker.push(chunk.delta)) this.speak(sentence, stepIndex);
          } else if (chunk.type === 'toolCall') {
            this.marks.llmFirstTokenAt ??= clock.now();
            step.toolCalls.push(chunk.call);
          } else {
            this.usage.promptTokens += chunk.promptTokens;
            this.usage.completionTokens += chunk.completionTokens;
            this.usage.cachedTokens += chunk.cachedTokens ?? 0;
          }
        }
        const rest = chunker.flush();
        if (rest && !signal.aborted) this.speak(rest, stepIndex);
        if (step.toolCalls.length === 0 || signal.aborted) break;
        messages.push({ role: 'assistant', content: step.text, toolCalls: step.toolCalls });
        let stopped: SupervisedResult['status'] | undefined;
        for (const call of step.toolCalls) {
          const outcome = await this.runTool(call);
          if (!outcome) break;
          step.results.push({ call, result: outcome.result });
          messages.push({ role: 'tool', toolCallId: call.id, content: outcome.result.content });
          if (outcome.status !== 'done') {
            stopped = outcome.status;
            break;
          }
        }
        if (stopped === 'timeout') this.apologize();
        if (stopped) break;
      }
    } catch (error) {
      if (!signal.aborted) {
        this.failed = true;
        this.deps.hooks.onError(error instanceof Error ? error : new Error(String(error)));
      }
    } finally {
      this.generationDone = true;
      if (this.tts) this.tts.end();
      else this.audioDone = true;
      this.changed.notify();
      this.deps.hooks.onChange();
    }
  }

  /** Runs one call; undefined when the speech ended before it could start. */
  private async runTool(call: ToolCall): Promise<SupervisedResult | undefined> {
    const { clock, tools, toolTimeoutMs, hooks, longTools } = this.deps;
    const signal = this.controller.signal;
    // A preemptive reply may be thrown away: tools (which may have side effects) wait for the confirmed turn.
    while (!this.authorized && !signal.aborted) await this.changed.wait();
    if (signal.aborted) return undefined;
    hooks.onToolCall(call);
    const started = clock.now();
    this.toolRunning = true;
    hooks.onChange();
    try {
      const outcome = await tools.supervise(call, signal, {
        clock,
        timeoutMs: toolTimeoutMs,
        slowAfterMs: longTools.statusAfterMs,
        onSlow: () => this.sayStatus(),
        onProgress: (progress) => {
          if (!signal.aborted) hooks.onToolProgress(call, progress);
        },
      });
      this.recordTool(call, outcome.result, started);
      return outcome;
    } finally {
      this.toolRunning = false;
      hooks.onChange();
    }
  }

  /** One short status line per reply while a tool runs long, through the normal TTS path. */
  private sayStatus(): void {
    const text = this.deps.longTools.statusText.trim();
    if (this.statusSpoken || !text || this.controller.signal.aborted) return;
    this.statusSpoken = true;
    this.speak(text, FILLER_STEP);
  }

  /** A tool hit the hard timeout: the reply ends with an apology, recorded as its own step. */
  private apologize(): void {
    const text = this.deps.longTools.timeoutApology.trim();
    if (!text || this.controller.signal.aborted) return;
    this.steps.push({ text, toolCalls: [], results: [] });
    this.speak(text, this.steps.length - 1);
  }

  private recordTool(call: ToolCall, result: ToolResult, started: number): ToolResult {
    const durationMs = this.deps.clock.now() - started;
    this.usage.toolMs = (this.usage.toolMs ?? 0) + durationMs;
    this.deps.hooks.onToolResult(call, result, durationMs);
    return result;
  }

  private speak(sentence: string, step: number): void {
    const { clock, tts } = this.deps;
    if (!this.tts) {
      this.tts = tts.stream({ signal: this.controller.signal });
      this.audioConsumer = this.consumeAudio(this.tts);
    }
    const now = clock.now();
    this.marks.firstSentenceAt ??= now;
    this.marks.ttsFirstTextAt ??= now;
    this.segmentTexts.push(sentence);
    this.segmentSteps.push(step);
    this.segmentSamples.push(0);
    this.usage.ttsCharacters += sentence.length;
    this.tts.pushText(sentence);
    this.tts.flush();
  }

  private async consumeAudio(stream: TtsStream): Promise<void> {
    const signal = this.controller.signal;
    try {
      for await (const audio of stream) {
        if (signal.aborted) {
          this.droppedStaleFrames++;
          continue;
        }
        this.marks.ttsFirstAudioAt ??= this.deps.clock.now();
        this.frames.push({ frame: { ...audio.frame, speechId: this.id }, segment: audio.segment });
        if (audio.segment < this.segmentSamples.length)
          this.segmentSamples[audio.segment] += audio.frame.samples.length;
        this.changed.notify();
      }
    } catch (error) {
      if (!signal.aborted) {
        this.failed = true;
        this.deps.hooks.onError(error instanceof Error ? error : new Error(String(error)));
      }
    } finally {
      this.audioDone = true;
      this.changed.notify();
    }
  }

  private async playout(): Promise<void> {
    const { output, hooks, tts } = this.deps;
    const signal = this.controller.signal;
    try {
      for (;;) {
        while (!signal.aborted && (!this.authorized || this.paused || !this.hasUnplayedOrPending())) {
          if (this.authorized && !this.paused && this.allAudioPlayed()) return;
          await this.changed.wait();
        }
        if (signal.aborted) return;
        this.playController = new AbortController();
        const playSignal = AbortSignal.any([signal, this.playController.signal]);
        const receipt = await output.play(this.unplayedFrames(playSignal), {
          signal: playSignal,
          speechId: this.id,
          onFirstPlayed: (atMs) => {
            if (this.hasPlayedAudio) return;
            this.hasPlayedAudio = true;
            this.marks.firstPlayedAt = atMs;
            hooks.onFirstPlayed(atMs);
          },
        });
        this.playController = undefined;
        const stopped = receipt.interruptedAtMs !== undefined || playSignal.aborted;
        // A playout that ran to its end played everything it was given; only a stopped one needs the count.
        this.playedSamples = stopped
          ? Math.min(
              this.totalSamples(),
              this.playedSamples + Math.round((receipt.playedMs * tts.sampleRate) / 1000),
            )
          : this.totalSamples();
        if (receipt.interruptedAtMs !== undefined) hooks.onPlayoutStopped(receipt);
        if (signal.aborted) return;
      }
    } finally {
      this.playoutEnded = true;
      hooks.onChange();
    }
  }

  private hasUnplayedOrPending(): boolean {
    return this.playedSamples < this.totalSamples() || !this.audioDone;
  }

  private allAudioPlayed(): boolean {
    return this.audioDone && this.generationDone && this.playedSamples >= this.totalSamples();
  }

  private totalSamples(): number {
    let total = 0;
    for (const n of this.segmentSamples) total += n;
    return total;
  }

  /** Frames from the played position on, waiting for more until the audio is complete. */
  private async *unplayedFrames(signal: AbortSignal): AsyncGenerator<AudioFrame> {
    let skip = this.playedSamples;
    let index = 0;
    for (;;) {
      if (signal.aborted) return;
      if (index < this.frames.length) {
        const { frame } = this.frames[index++];
        if (frame.speechId !== this.id) continue;
        if (skip >= frame.samples.length) {
          skip -= frame.samples.length;
          continue;
        }
        const out = skip > 0 ? { ...frame, samples: frame.samples.subarray(skip) } : frame;
        skip = 0;
        this.outputIdle = false;
        this.marks.firstFrameSentAt ??= this.deps.clock.now();
        yield out;
      } else {
        this.markOutputIdle();
        if (this.audioDone) return;
        await this.changed.wait();
      }
    }
  }

  private markOutputIdle(): void {
    if (this.outputIdle) return;
    this.outputIdle = true;
    if (this.toolRunning) this.deps.hooks.onChange();
  }

  private result(): SpeechResult {
    const outcome: SpeechOutcome = this.abortReason
      ? this.abortReason
      : this.failed
        ? 'error'
        : this.frames.length === 0
          ? 'noReply'
          : 'completed';
    const complete = outcome === 'completed';
    const heard = this.steps.map((_, step) =>
      heardText({
        texts: this.segmentTexts,
        samples: this.segmentSamples,
        steps: this.segmentSteps,
        step,
        playedSamples: complete ? Number.POSITIVE_INFINITY : this.playedSamples,
      }),
    );
    return {
      outcome,
      steps: this.steps,
      heard,
      playedMs: (this.playedSamples * 1000) / this.deps.tts.sampleRate,
      droppedStaleFrames: this.droppedStaleFrames,
    };
  }
}
