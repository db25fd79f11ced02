import type { McpToolset } from '../tools/mcp/toolset.ts';
import { TypedEmitter } from '../util/emitter.ts';
import type { Agent } from './definition.ts';
import { SessionClosedError } from './errors.ts';
import type { AgentSessionEvents as CoreEvents } from './events.ts';
import { AgentRuntime, AgentVoice, type Handoff } from './handoff.ts';
import type { AudioOutput } from './io.ts';
import type { AgentSessionOptions as CoreOptions } from './options.ts';
import { AgentSession as CoreSession } from './session.ts';
import type { SpeechResult } from './speech.ts';

export interface AgentSessionOptions extends CoreOptions {
  /**
   * The agent this session runs: its instructions, tools, MCP servers, voice and hooks (`defineAgent`).
   * Without one the session uses `instructions` and `tools` as given.
   */
  agent?: Agent;
  /**
   * Connects an agent's MCP servers; the server passes one shared per process. Default: the session connects
   * them itself and closes them with it.
   */
  connectMcp?(agent: Agent): Promise<McpToolset | undefined>;
}

/** The session's events, with the agent layer's: handoffs and hooks that threw. */
export interface AgentSessionEvents extends CoreEvents {
  /** Another agent took the conversation over. */
  handoff: { from: string; to: string; summarized: boolean; atMs: number };
  /** A hook (or an agent's MCP server) failed; the session carries on. The message names the agent and hook. */
  agentError: { agent: string; hook: string; error: Error; atMs: number };
}

export interface SayOptions {
  /** false: the user cannot talk over it (it plays to its end). Default true. */
  allowInterruptions?: boolean;
  /** @deprecated the session's own name for `allowInterruptions`. */
  interruptible?: boolean;
}

export interface GenerateReplyOptions {
  /** Extra instructions for this reply only ("Greet the caller and ask for their name"). */
  instructions?: string;
  /** false: the user cannot talk over this reply. Default true. */
  allowInterruptions?: boolean;
}

/**
 * One conversation with an agent: audio in, the agent's voice out, turn-taking, interruptions, tools and
 * handoffs. `say`, `generateReply` and `interrupt` let agent code speak on its own; `on` gives typed events.
 */
export class AgentSession extends CoreSession {
  /** Set when the session was given an agent. */
  private readonly runtime: AgentRuntime<AgentSession> | undefined;
  private readonly agentEvents: TypedEmitter<Pick<AgentSessionEvents, 'handoff' | 'agentError'>>;
  private isClosedApi = false;

  constructor(options: AgentSessionOptions) {
    const agent = options.agent;
    const voice = agent ? new AgentVoice(options.tts) : undefined;
    const tools = agent ? new LateToolSource() : undefined;
    super({
      ...options,
      ...(voice ? { tts: voice } : {}),
      instructions: agent ? agent.instructions : options.instructions,
      tools: tools ? [tools, ...(options.tools ?? [])] : options.tools,
    });
    this.agentEvents = new TypedEmitter();
    if (!agent || !voice || !tools) return;
    const runtime = new AgentRuntime<AgentSession>(agent, {
      session: this,
      llm: options.llm,
      voice,
      messages: () => this.history.toMessages(),
      setInstructions: (text) => this.history.replaceInstructions(text, this.clock.now()),
      generateReply: () => this.generateReply(),
      say: (text) => this.say(text),
      onHandoff: (event) => this.agentEvents.emit('handoff', { ...event, atMs: this.clock.now() }),
      onHookError: (event) => this.agentEvents.emit('agentError', { ...event, atMs: this.clock.now() }),
      connectMcp: options.connectMcp,
    });
    this.runtime = runtime;
    tools.target = runtime;
    this.on('turnCommitted', ({ turnId, transcript }) => runtime.userTurn(turnId, transcript));
    this.on('toolResult', ({ call, result, durationMs }) =>
      runtime.toolResult({ name: call.name, arguments: call.arguments, result, durationMs }),
    );
    this.on('speechEnded', () => runtime.speechEnded());
  }

  /** The agent speaking now (changes on handoff); undefined for a session without an agent. */
  get agent(): Agent | undefined {
    return this.runtime?.agent;
  }

  override on<K extends keyof AgentSessionEvents>(
    event: K,
    listener: (payload: AgentSessionEvents[K]) => void,
  ): () => void {
    if (event === 'handoff' || event === 'agentError') {
      return this.agentEvents.on(event, listener as (payload: unknown) => void);
    }
    return super.on(event as keyof CoreEvents, listener as (payload: unknown) => void);
  }

  /** Starts the session, connects the agent's MCP servers and runs its `onEnter`. */
  override async start(output: AudioOutput): Promise<void> {
    await super.start(output);
    await this.runtime?.start();
  }

  /**
   * Speaks a fixed text and records it in the history; resolves when it has been played (or cut off).
   * Interrupts whatever the agent is saying.
   */
  override say(text: string, options: SayOptions = {}): Promise<SpeechResult> {
    const interruptible = options.allowInterruptions ?? options.interruptible ?? true;
    return super.say(text, { interruptible });
  }

  /**
   * Asks the LLM for a reply now, from the history (and `instructions` for this reply only), as if the user had
   * just finished a turn. Interrupts whatever the agent is saying; resolves when the reply has been played.
   */
  async generateReply(options: GenerateReplyOptions = {}): Promise<SpeechResult> {
    if (this.isClosedApi) throw new SessionClosedError();
    this.interrupt();
    await this.context.prepare();
    if (this.isClosedApi) throw new SessionClosedError();
    const prompt = this.context.prompt(this.history.messages);
    const messages = options.instructions
      ? withExtraInstructions(prompt.messages, options.instructions)
      : prompt.messages;
    const speech = this.createSpeech({ kind: 'llm', messages });
    this.activate({
      speech,
      turnId: null,
      preemptive: 'none',
      sttAudioMs: 0,
      context: prompt.stats,
      holdsFloor: options.allowInterruptions === false,
    });
    speech.authorize();
    return speech.finished;
  }

  /** Hands the conversation to another agent now (tools do it by returning the agent). */
  async handoff(target: Agent | Handoff): Promise<void> {
    if (!this.runtime) throw new Error('handoff needs a session started with an agent');
    await this.runtime.handoffNow(target);
  }

  /** Resolves once handoffs in progress (and the next agent's onEnter) are done. */
  settled(): Promise<void> {
    return this.runtime?.settled() ?? Promise.resolve();
  }

  override async close(): Promise<void> {
    if (this.isClosedApi) return;
    this.isClosedApi = true;
    await this.runtime?.close();
    await super.close();
    await Promise.allSettled((this.runtime?.ownToolsets() ?? []).map((toolset) => toolset.close()));
  }
}

/** The instructions of one reply, folded into the system message (some chat templates allow only one). */
function withExtraInstructions<M extends { role: string; content: string }>(
  messages: M[],
  extra: string,
): M[] {
  const index = messages.findIndex((m) => m.role === 'system');
  if (index < 0) return [{ role: 'system', content: extra } as M, ...messages];
  const copy = [...messages];
  copy[index] = { ...copy[index], content: `${copy[index].content}\n\n${extra}` };
  return copy;
}

/** A tool source whose target is set after the session exists (the runtime needs the session). */
class LateToolSource {
  target: { tools(): readonly import('../tools/tool.ts').Tool[] } | undefined;
  tools() {
    return this.target?.tools() ?? [];
  }
}
