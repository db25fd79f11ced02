import { randomUUID } from 'node:crypto';
import type { AudioFrame } from '../audio/frame.ts';
import { ChatHistory, type HistoryItem } from '../context/history.ts';
import { ContextManager } from '../context/manager.ts';
import { type Clock, MonotonicClock } from '../metrics/clock.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import { HeuristicTurnDetector } from '../providers/turn/heuristic.ts';
import { TypedEmitter } from '../util/emitter.ts';
import { asError } from '../util/errors.ts';
import { type ActiveSpeech, agentStateOf } from './active-speech.ts';
import { SessionClosedError, SessionNotStartedError } from './errors.ts';
import type { AgentSessionEvents, AgentState } from './events.ts';
import { InputConditioner } from './input.ts';
import { InterruptionArbiter } from './interruption.ts';
import type { AudioOutput } from './io.ts';
import { SessionLanguages } from './language-switch.ts';
import {
  type AgentSessionOptions,
  DEFAULT_ENDPOINTING,
  DEFAULT_INTERRUPTION,
  DEFAULT_LONG_TOOLS,
  type EndpointingOptions,
  type InterruptionOptions,
  type LongToolOptions,
  type ProviderFailureOptions,
  resolveProviderFailureOptions,
} from './options.ts';
import { PreemptiveGeneration } from './preemptive.ts';
import { prewarmProviders } from './prewarm.ts';
import { ProviderFallbacks } from './provider-fallbacks.ts';
import { sessionSpeechHooks } from './session-speech-hooks.ts';
import { Speech, type SpeechResult, type SpeechSource } from './speech.ts';
import { heardTextOf, historyEntriesOf, turnMetricsOf } from './speech-record.ts';
import { ToolRunner } from './tool-runner.ts';
import { TurnCommits } from './turn-commits.ts';
import { TurnTracker } from './turn-tracker.ts';
import { UserStreams } from './user-streams.ts';
import { VoiceQuestions } from './voice-questions.ts';

/**
 * One conversation: audio in → VAD and STT in parallel → end of turn → LLM → sentences → TTS → audio out,
 * with interruptions, false-interruption resume and preemptive generation. Everything is timed on one clock.
 */
export class AgentSession {
  readonly id: string;
  readonly clock: Clock;
  readonly history: ChatHistory;
  /** Keeps the prompt within budget; reads the history, never writes it. */
  readonly context: ContextManager;

  private readonly options: AgentSessionOptions;
  private readonly endpointing: EndpointingOptions;
  private readonly interruption: InterruptionOptions;
  private readonly longTools: LongToolOptions;
  private readonly providerFailure: ProviderFailureOptions;
  /** The language and all that follows it: voice, apology (ahead of need, per voice), phrases, instruction. */
  private readonly languages: SessionLanguages;
  private readonly events: TypedEmitter<AgentSessionEvents>;
  private readonly tools: ToolRunner;
  private readonly questions = new VoiceQuestions();
  private readonly tracker: TurnTracker;
  private readonly userStreams: UserStreams;
  private readonly preemptive: PreemptiveGeneration;
  private readonly fallbacks: ProviderFallbacks;
  private output: AudioOutput | undefined;
  private readonly input: InputConditioner;
  private currentState: AgentState = 'idle';
  private closed = false;
  private nextSpeechId = 1;
  private active: ActiveSpeech | undefined;
  private readonly interruptions: InterruptionArbiter;
  /** Committed turns become replies, one at a time (turn-commits.ts). */
  private readonly commits: TurnCommits;

  constructor(options: AgentSessionOptions) {
    this.options = options;
    this.id = options.sessionId ?? randomUUID();
    this.clock = options.clock ?? new MonotonicClock();
    this.endpointing = { ...DEFAULT_ENDPOINTING, ...options.endpointing };
    this.interruption = { ...DEFAULT_INTERRUPTION, ...options.interruption };
    this.longTools = { ...DEFAULT_LONG_TOOLS, ...options.longTools };
    this.providerFailure = resolveProviderFailureOptions(options.providerFailure);
    this.history = new ChatHistory(options.instructions);
    this.context = new ContextManager({
      llm: options.llm,
      summarizer: options.summarizer,
      retrieval: options.retrieval,
      policy: options.context,
      clock: this.clock,
      onSummary: (event) => this.events.emit('summary', event),
      onError: (error) => this.reportError('context', error),
    });
    this.events = new TypedEmitter((error) =>
      this.events.emit('error', { source: 'listener', error: asError(error) }),
    );
    this.tools = new ToolRunner(options.tools, { nextAnswer: (signal) => this.questions.nextAnswer(signal) });
    this.languages = new SessionLanguages({
      ...options,
      clock: this.clock,
      longTools: this.longTools,
      providerFailure: this.providerFailure,
      onError: (error) => this.reportError('tts', error),
    });
    this.interruptions = new InterruptionArbiter(this.clock, this.interruption, {
      onEvent: (speechId, kind) =>
        this.events.emit('interruption', { speechId, kind, atMs: this.clock.now() }),
      onBackchannel: () => this.tracker.reset(),
      isUserSpeaking: () => this.tracker.isUserSpeaking,
      onChange: () => this.updateState(),
    });
    this.input = new InputConditioner(
      (frame) => this.userStreams.push(frame),
      (error) => this.reportError('session', error),
    );
    this.tracker = new TurnTracker(
      this.clock,
      this.endpointing,
      options.turnDetector ?? new HeuristicTurnDetector(),
      () => this.history.toMessages(),
      {
        onCandidate: (transcript) => this.prepareReply(transcript),
        onCommit: (turn) => {
          if (this.questions.offer(turn.transcript)) return; // the answer to a tool's question
          this.languageHeard(turn.transcript);
          this.commits.enqueueVoice(turn);
        },
        onNoise: () => this.updateState(),
        onInterimPromoted: (text) =>
          this.events.emit('transcript', { text, final: true, atMs: this.clock.now() }),
        onDetectorError: (error) => this.reportError('turn', error),
        onResumeAfterCommit: (turn, onsetMs) => this.commits.takeBack(turn, onsetMs),
      },
      {
        currentLanguage: () => this.languages.current,
        audioProgress: () => this.userStreams.audioProgress(),
        sttBusy: () => this.userStreams.sttBusy(),
      },
    );
    this.preemptive = new PreemptiveGeneration({
      context: this.context,
      history: this.history,
      createSpeech: (source) => this.createSpeech(source),
    });
    this.fallbacks = new ProviderFallbacks(options);
    this.userStreams = new UserStreams({
      options,
      clock: this.clock,
      tracker: this.tracker,
      interruptions: this.interruptions,
      cancelPhrases: this.longTools.cancelPhrases,
      isClosed: () => this.closed,
      // A speech that holds the floor, or whose tool awaits the user's answer, is not the user's to pause or stop.
      activeSpeech: () =>
        this.active?.holdsFloor || this.questions.isWaiting ? undefined : this.active?.speech,
      discardPreparedReply: () => this.preemptive.discard(),
      onTranscript: (event) => this.events.emit('transcript', event),
      onSttFallback: () => this.fallbacks.sttSwitched(),
      sttLanguage: () => this.languages.sttLanguage(),
      onFinalTranscript: (transcript) => {
        this.languages.sttReported(transcript.language);
        this.context.anticipate(transcript.text); // its embedding, ahead of the prompt (src/context/relevance-embeddings.ts)
      },
      onError: (source, error) => this.reportError(source, error),
      onChange: () => this.updateState(),
    });
    this.commits = new TurnCommits({
      clock: this.clock,
      context: this.context,
      history: this.history,
      preemptive: this.preemptive,
      interruptionEnabled: this.interruption.enabled,
      resumeMergeMaxHeardMs: this.endpointing.resumeMergeMaxHeardMs,
      llmUnavailableNotice: options.llmUnavailableNotice,
      responseCache: options.responseCache,
      isClosed: () => this.closed,
      active: () => this.active,
      interruptActive: () => this.interruptActive(),
      takeSttAudioMs: () => this.userStreams.takeSttAudioMs(),
      appendHistory: (message) => this.appendHistory(message),
      createSpeech: (source) => this.createSpeech(source),
      activate: (entry) => this.activate(entry),
      onCommitted: (event) => this.events.emit('turnCommitted', event),
      onMerged: (event) => this.events.emit('turnMerged', event),
      onChange: () => this.updateState(),
    });
  }

  on<K extends keyof AgentSessionEvents>(
    event: K,
    listener: (payload: AgentSessionEvents[K]) => void,
  ): () => void {
    return this.events.on(event, listener);
  }

  get state(): AgentState {
    return this.currentState;
  }

  /** The user said something that is not yet a turn: its transcript or the end-of-turn wait is still to come. */
  get isTurnPending(): boolean {
    return this.tracker.hasPendingTurn;
  }

  /** Connects the session to where its speech is played and starts listening. */
  async start(output: AudioOutput): Promise<void> {
    if (this.closed) throw new SessionClosedError();
    this.output = output;
    this.userStreams.open();
    this.updateState();
    // Without an LLM the user is told so at once, in full (a failure per turn would tell them nothing new).
    const notice = this.options.llmUnavailableNotice;
    if (notice) void this.say(notice, { interruptible: false }).catch(() => undefined);
    const prewarm = prewarmProviders(this.options, this.reportError.bind(this), () => this.closed);
    await Promise.all([prewarm, this.context.prepare()]);
  }

  /**
   * Feeds user audio: mono PCM16 at any supported rate (resampled to 16 kHz). Throws AudioFormatError for
   * malformed frames and SessionClosedError after close; the session itself carries on either way.
   */
  pushAudio(frame: AudioFrame): void {
    if (this.closed) throw new SessionClosedError();
    if (!this.output) throw new SessionNotStartedError();
    this.input.push(frame);
  }

  /** A typed user message: one history for voice and text. It interrupts the agent if it is speaking. */
  sendText(text: string): void {
    if (this.closed) throw new SessionClosedError();
    if (typeof text !== 'string' || !text.trim()) throw new TypeError('sendText needs a non-empty string');
    this.tracker.reset();
    this.commits.forgetMerges();
    this.preemptive.discard();
    this.languageHeard(text.trim(), true);
    const now = this.clock.now();
    this.commits.enqueueText({
      transcript: text.trim(),
      speechStartAt: now,
      endOfSpeechAt: now,
      finalTranscriptAt: now,
      committedAt: now,
    });
  }

  /**
   * Speaks a fixed text (a greeting, a notice) and records it in the history. `interruptible: false`: user speech
   * does not pause or cut it and a turn waits for it (only `interrupt()` or another `say()` stops it).
   */
  say(text: string, options: { interruptible?: boolean } = {}): Promise<SpeechResult> {
    if (this.closed) throw new SessionClosedError();
    this.interruptActive();
    const speech = this.createSpeech({ kind: 'text', text });
    const holdsFloor = options.interruptible === false;
    const isNotice = text === this.options.llmUnavailableNotice;
    this.activate({ speech, turnId: null, preemptive: 'none', sttAudioMs: 0, holdsFloor, isNotice });
    speech.authorize();
    return speech.finished;
  }

  /** Stops the agent's current speech, as a user barge-in would. */
  interrupt(): void {
    this.interruptActive();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.interruptions.clear();
    this.preemptive.close();
    this.languages.close();
    const active = this.active;
    active?.speech.abort('interrupted');
    this.tracker.close();
    this.userStreams.close();
    this.input.close();
    this.updateState();
    await active?.speech.finished.catch(() => undefined);
    await this.context.close();
  }

  private interruptActive(): void {
    this.interruptions.clear();
    this.active?.speech.abort('interrupted');
  }

  /** A reply is prepared ahead only while the agent is silent and no interruption is being decided. */
  private prepareReply(transcript: string): void {
    if (!this.options.preemptiveGeneration || this.options.llmUnavailableNotice) return;
    if (this.closed || this.active || this.interruptions.isPending) return;
    this.preemptive.prepare(transcript);
  }

  protected createSpeech(source: SpeechSource): Speech {
    const id = this.nextSpeechId++;
    // Ready before this reply can fail, at no cost to a connection that never asks anything.
    if (source.kind === 'llm') this.languages.prepareApology();
    const speech: Speech = new Speech({
      id,
      clock: this.clock,
      llm: this.options.llm,
      tts: this.languages.tts(),
      output: this.requireOutput(),
      tools: this.tools,
      source: this.languages.instruct(source),
      chunker: this.languages.chunker(this.options.chunker),
      maxSentences: this.options.maxReplySentences,
      maxToolSteps: this.options.maxToolSteps ?? 5,
      toolTimeoutMs: this.options.toolTimeoutMs ?? 60_000,
      longTools: this.languages.longTools(),
      firstTokenBudgetMs: this.providerFailure.firstTokenBudgetMs,
      ttsStallTimeoutMs: this.providerFailure.ttsStallTimeoutMs,
      // A reply that fails apologises; a fixed text (a greeting, a notice) asked nothing to be repeated.
      apology: source.kind === 'llm' ? this.languages.apology() : undefined,
      hooks: sessionSpeechHooks(id, () => speech, {
        clock: this.clock,
        events: this.events,
        interruptions: this.interruptions,
        updateState: () => this.updateState(),
        reportError: (source, error) => this.reportError(source, error),
      }),
    });
    return speech;
  }

  protected activate(entry: ActiveSpeech): void {
    entry.fallbacksAtStart = this.fallbacks.count;
    entry.language = this.languages.current;
    this.active = entry;
    const { speech, turnId } = entry;
    this.events.emit('speechStarted', { speechId: speech.id, turnId, atMs: this.clock.now() });
    entry.speech.finished.then(
      (result) => this.finish(entry, result),
      (error) => {
        this.reportError('session', error);
        if (this.active === entry) this.active = undefined;
        this.updateState();
      },
    );
  }

  private finish(entry: ActiveSpeech, result: SpeechResult): void {
    // A reply taken back with its commit leaves nothing: the turn goes on and gets one reply, with one record.
    const takenBack = this.commits.wasTakenBack(entry.speech);
    if (!takenBack) for (const message of historyEntriesOf(result)) this.appendHistory(message);
    const heardText = heardTextOf(result);
    this.events.emit('speechEnded', {
      speechId: entry.speech.id,
      outcome: result.outcome,
      heardText,
      droppedStaleFrames: result.droppedStaleFrames,
      atMs: this.clock.now(),
    });
    if (entry.turnId !== null && entry.turn && !takenBack) {
      const { turnId, turn } = entry;
      const providers = this.fallbacks.providersSince(entry.fallbacksAtStart ?? 0);
      const context = { ...entry, turnId, turn, sessionId: this.id, providers };
      const record = { ...context, context: this.context.turnMetrics(entry.context) };
      this.events.emit('metrics', turnMetricsOf(record, result, heardText));
    }
    if (this.active === entry) this.active = undefined;
    this.interruptions.clear(entry.speech);
    this.updateState();
    // The LLM is idle until the next turn: the time to summarise, if the prompt has grown past its watermark.
    if (!this.closed) this.context.maybeSummarize(this.history.messages);
  }

  /** A user utterance may switch the language; the reply to it already follows (a prepared one is stale). */
  private languageHeard(text: string, typed = false): void {
    const change = this.languages.observe(text, typed);
    if (!change) return;
    this.preemptive.discard();
    if (change.reopenSttIn) this.userStreams.reopenStt(change.reopenSttIn);
    this.events.emit('languageChanged', { ...change.event, atMs: this.clock.now() });
    if (change.notice) void this.say(change.notice, { interruptible: false }).catch(() => undefined);
  }

  private appendHistory(message: ChatMessage): HistoryItem {
    const item = this.history.append(message, this.clock.now());
    this.events.emit('conversationItem', item);
    return item;
  }

  private requireOutput(): AudioOutput {
    if (!this.output) throw new SessionNotStartedError();
    return this.output;
  }

  private updateState(): void {
    const next = agentStateOf(this.closed || !this.output, this.active, this.tracker.isUserSpeaking);
    if (next === this.currentState) return;
    const previous = this.currentState;
    this.currentState = next;
    this.events.emit('state', { state: next, previous, atMs: this.clock.now() });
  }

  private reportError(source: AgentSessionEvents['error']['source'], error: unknown): void {
    this.events.emit('error', { source, error: asError(error) });
  }
}
