/**
 * `repartee/testing`: run an agent against scripted user turns, on a virtual clock with fake providers (or on
 * real ones), and assert on what it said, which tools it called with which arguments, handoffs and metrics.
 *
 * ```ts
 * const test = await startAgentTest(agent, { llm: [{ tool: 'book', args: { time: '19:00' } }, 'Booked for 7.'] });
 * const turn = await test.user('A table at seven, please');
 * expect(turn.toolCalls[0]).toMatchObject({ name: 'book', args: { time: '19:00' } });
 * ```
 * @module
 */
import { AgentSession, type AgentSessionOptions } from '../agent/agent-api.ts';
import type { Agent } from '../agent/definition.ts';
import { PacedAudioOutput } from '../agent/paced-output.ts';
import { type Clock, MonotonicClock, VirtualClock } from '../metrics/clock.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { ChatMessage, LLM, ToolCall } from '../providers/llm/contract.ts';
import { ScriptedLlm, type ScriptedReply } from '../providers/llm/scripted.ts';
import type { STT } from '../providers/stt/contract.ts';
import { ScriptedStt } from '../providers/stt/scripted.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { ScriptedTts } from '../providers/tts/scripted.ts';
import type { VAD } from '../providers/vad/contract.ts';
import { ScriptedVad } from '../providers/vad/scripted.ts';

import { feedUtterance, synthesizeUtterance } from './speech.ts';

export { type JudgeOptions, judge, type Verdict } from './judge.ts';
export { feedUtterance, synthesizeUtterance } from './speech.ts';

/** One scripted LLM answer: text to say, tools to call, or both (the text comes first). */
export type ScriptStep =
  | string
  | {
      say?: string;
      /** One tool call, or several in order. */
      tool?: string;
      args?: Record<string, unknown>;
      calls?: { tool: string; args?: Record<string, unknown> }[];
    }
  | ((messages: readonly ChatMessage[]) => ScriptedReply | string);

/** The error a scripted LLM raises when asked more often than its script has answers. */
export class ScriptExhaustedError extends Error {
  override readonly name = 'ScriptExhaustedError';
}

/**
 * A fake LLM that answers each request with the next step of `script` (a tool call's follow-up round is a
 * request too). It records every request (`requests`) and fails loudly when the script runs out.
 */
export function scriptedLlm(script: readonly ScriptStep[], options: { clock?: Clock; ttftMs?: number } = {}) {
  let next = 0;
  let callId = 0;
  const llm = new ScriptedLlm({
    clock: options.clock ?? new MonotonicClock(),
    ttftMs: options.ttftMs ?? 50,
    reply: (messages) => {
      const step = script[next++];
      if (step === undefined)
        throw new ScriptExhaustedError(
          `scripted LLM: request ${next} but the script has ${script.length} steps`,
        );
      if (typeof step === 'function') return step(messages);
      if (typeof step === 'string') return { text: step };
      const calls = step.calls ?? (step.tool ? [{ tool: step.tool, args: step.args }] : []);
      const toolCalls: ToolCall[] = calls.map((c) => ({
        id: `call_${++callId}`,
        name: c.tool,
        arguments: JSON.stringify(c.args ?? {}),
      }));
      return { text: step.say, toolCalls };
    },
  });
  return Object.assign(llm, {
    get stepsUsed() {
      return next;
    },
  });
}

export interface AgentTestOptions {
  /** The LLM: a script of answers (fake, virtual clock) or any LLM (a real model: real clock). */
  llm: readonly ScriptStep[] | LLM;
  tts?: TTS;
  stt?: STT;
  vad?: VAD;
  /** `virtual` (default with a script): time only moves when the kit moves it. `real` otherwise. */
  clock?: 'virtual' | 'real';
  /** Longest wait for one turn's replies (virtual ms on the virtual clock). Default 120 s. */
  turnTimeoutMs?: number;
  /** Anything else for the session (`maxToolSteps`, `toolTimeoutMs`, …). */
  session?: Partial<Omit<AgentSessionOptions, 'agent' | 'llm' | 'tts' | 'stt' | 'vad' | 'clock'>>;
}

export interface RecordedToolCall {
  name: string;
  /** Parsed arguments (the raw JSON text when it did not parse). */
  args: unknown;
  result: string;
  isError: boolean;
  /** The agent whose turn it was. */
  agent: string;
}

export interface TurnResult {
  /** Everything the agent said after this user turn, in order, as heard. */
  said: string;
  /** One entry per speech (a reply, a handed-over agent's greeting…). */
  replies: string[];
  /** Every sentence as it started playing, status lines said by tools included. */
  spoken: string[];
  toolCalls: RecordedToolCall[];
  handoffs: { from: string; to: string }[];
  metrics: TurnMetrics[];
  /** Session and agent errors during the turn (a hook that threw, a script that ran out). */
  errors: Error[];
  /** The agent active once the turn settled. */
  agent: string | undefined;
}

/** A running test conversation. */
export class AgentTest {
  readonly replies: string[] = [];
  readonly spoken: string[] = [];
  readonly toolCalls: RecordedToolCall[] = [];
  readonly handoffs: { from: string; to: string }[] = [];
  readonly metrics: TurnMetrics[] = [];
  readonly errors: Error[] = [];
  private speaking = 0;

  constructor(
    readonly session: AgentSession,
    readonly clock: Clock,
    readonly llm: LLM,
    private readonly timeoutMs: number,
  ) {
    session.on('speechStarted', () => this.speaking++);
    session.on('speechEnded', (e) => {
      this.speaking--;
      if (e.heardText) this.replies.push(e.heardText);
    });
    session.on('toolResult', ({ call, result }) =>
      this.toolCalls.push({
        name: call.name,
        args: parseArgs(call.arguments),
        result: result.content,
        isError: result.isError,
        agent: session.agent?.name ?? '',
      }),
    );
    session.on('agentText', ({ text }) => this.spoken.push(text));
    session.on('handoff', ({ from, to }) => this.handoffs.push({ from, to }));
    session.on('metrics', (m) => this.metrics.push(m));
    session.on('error', ({ error }) => this.errors.push(error));
    session.on('agentError', ({ error }) => this.errors.push(error));
  }

  /** The history as the LLM sees it. */
  get history(): ChatMessage[] {
    return this.session.history.toMessages();
  }

  /** Lets time pass until the agent is quiet (greetings from `onEnter`, a `say` from agent code). */
  async settle(): Promise<TurnResult> {
    return this.collect(() => true);
  }

  /** The user types (or says, as text) one turn; resolves once every reply to it has been played. */
  async user(text: string): Promise<TurnResult> {
    let committed = false;
    const off = this.session.on('turnCommitted', () => {
      committed = true;
    });
    try {
      this.session.sendText(text);
      return await this.collect(() => committed);
    } finally {
      off();
    }
  }

  /**
   * The user says `text` out loud: `tts` synthesizes it and the audio goes through the session's VAD and STT in
   * real time (give the test a real VAD and STT, e.g. Silero and pocketsphinx, and `clock: 'real'`). Resolves
   * once every reply to the turn has played; `transcript` is what the STT heard.
   */
  async userSpeech(text: string, options: { tts: TTS }): Promise<TurnResult & { transcript: string }> {
    if (this.clock instanceof VirtualClock)
      throw new Error("userSpeech needs clock: 'real' (the STT and VAD run in real time)");
    const audio = await synthesizeUtterance(options.tts, text);
    let transcript = '';
    const off = this.session.on('turnCommitted', (turn) => {
      transcript = transcript ? `${transcript} ${turn.transcript}` : turn.transcript;
    });
    try {
      // The reply may start while the trailing silence is still being fed: everything from here is this turn's.
      const from = this.mark();
      await feedUtterance((frame) => this.session.pushAudio(frame), this.clock, audio);
      const result = await this.collect(() => transcript !== '', from);
      return { ...result, transcript };
    } finally {
      off();
    }
  }

  async close(): Promise<void> {
    await this.session.close();
    await this.llm.close?.();
  }

  private mark() {
    return {
      replies: this.replies.length,
      spoken: this.spoken.length,
      tools: this.toolCalls.length,
      handoffs: this.handoffs.length,
      metrics: this.metrics.length,
      errors: this.errors.length,
    };
  }

  private async collect(started: () => boolean, from = this.mark()): Promise<TurnResult> {
    let handoffsSettled = false;
    let quiet = 0;
    const virtual = this.clock instanceof VirtualClock ? this.clock : undefined;
    const deadline = this.clock.now() + this.timeoutMs;
    const wallDeadline = Date.now() + Math.max(this.timeoutMs, 60_000);
    while (quiet < 3) {
      if (this.clock.now() > deadline || Date.now() > wallDeadline)
        throw new Error(`the agent did not finish answering within ${this.timeoutMs} ms`);
      if (virtual) await virtual.advance(20);
      else await new Promise((resolve) => setTimeout(resolve, 20));
      handoffsSettled = false;
      void this.session.settled().then(() => {
        handoffsSettled = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      const idle = this.speaking === 0 && handoffsSettled && started();
      quiet = idle ? quiet + 1 : 0;
    }
    const replies = this.replies.slice(from.replies);
    return {
      said: replies.join(' '),
      replies,
      spoken: this.spoken.slice(from.spoken),
      toolCalls: this.toolCalls.slice(from.tools),
      handoffs: this.handoffs.slice(from.handoffs),
      metrics: this.metrics.slice(from.metrics),
      errors: this.errors.slice(from.errors),
      agent: this.session.agent?.name,
    };
  }
}

/**
 * Starts `agent` in a test session: scripted VAD, STT and TTS (a tone per sentence) unless given, the LLM you
 * pass, and an output that plays on the session clock. Runs the agent's `onEnter` and waits for it to settle.
 */
export async function startAgentTest(agent: Agent, options: AgentTestOptions): Promise<AgentTest> {
  const scripted = Array.isArray(options.llm);
  const clock: Clock =
    (options.clock ?? (scripted ? 'virtual' : 'real')) === 'virtual'
      ? new VirtualClock()
      : new MonotonicClock();
  const llm: LLM = scripted ? scriptedLlm(options.llm as ScriptStep[], { clock }) : (options.llm as LLM);
  const session = new AgentSession({
    agent,
    llm,
    clock,
    tts: options.tts ?? new ScriptedTts({ clock, ttfbMs: 40, realTimeFactor: 0.1 }),
    stt: options.stt ?? new ScriptedStt({ clock, words: [] }),
    vad: options.vad ?? new ScriptedVad({ speech: [] }),
    sessionId: 'agent-test',
    ...options.session,
    providerFailure: { presynthesizeApology: false, ...options.session?.providerFailure },
  });
  const test = new AgentTest(session, clock, llm, options.turnTimeoutMs ?? 120_000);
  const output = new PacedAudioOutput({ clock });
  const starting = session.start(output);
  if (clock instanceof VirtualClock) {
    let done = false;
    void starting.finally(() => {
      done = true;
    });
    for (let i = 0; i < 10_000 && !done; i++) await clock.advance(20);
  }
  await starting;
  await test.settle();
  return test;
}

function parseArgs(text: string): unknown {
  try {
    return text.trim() ? JSON.parse(text) : {};
  } catch {
    return text;
  }
}
