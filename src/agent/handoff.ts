import type { ChatMessage, LLM } from '../providers/llm/contract.ts';
import type { TTS, TtsStream, TtsStreamOptions } from '../providers/tts/contract.ts';
import { connectMcpTools, type McpToolset } from '../tools/mcp/toolset.ts';
import { endsReply, type Tool, type ToolContext, type ToolSource } from '../tools/tool.ts';
import { asError } from '../util/errors.ts';
import type { AgentSession } from './agent-api.ts';
import { type Agent, AgentDefinitionError, type AgentTool, type HookContext, isAgent } from './definition.ts';

export interface HandoffOptions {
  /**
   * Give the next agent a summary of the conversation so far (written by the session's LLM), added to its
   * instructions. The turns themselves stay in the history either way.
   */
  summarize?: boolean;
  /** Said (in the current agent's voice) before the next agent takes over, e.g. "Let me put you through." */
  say?: string;
  /** The tool call's result, which the next agent reads in the history (default: "Handed the conversation over to …"). */
  result?: string;
}

const HANDOFF: unique symbol = Symbol.for('repartee.handoff');

export interface Handoff extends HandoffOptions {
  readonly [HANDOFF]: true;
  readonly agent: Agent;
}

/** A tool's return value that hands the conversation to `agent` (returning the agent itself does the same). */
export function handoff(agent: Agent, options: HandoffOptions = {}): Handoff {
  if (!isAgent(agent)) {
    const got = agent === null ? 'null' : typeof agent;
    throw new AgentDefinitionError(
      nameOf(agent),
      'handoff target',
      `is not an agent (got ${got}; use defineAgent)`,
    );
  }
  return { [HANDOFF]: true, agent, ...options };
}

export function isHandoff(value: unknown): value is Handoff {
  return typeof value === 'object' && value !== null && (value as Handoff)[HANDOFF] === true;
}

/** Looks like an attempt to hand over, but to something that is not an agent (a plain object with instructions). */
function looksLikeBadHandoff(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || isAgent(value)) return false;
  return 'instructions' in value && ('tools' in value || 'name' in value);
}

function nameOf(value: unknown): string {
  const name = (value as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : '(not an agent)';
}

/** The session's voice: the active agent's TTS, or the session's own. A speech keeps the voice it started with. */
export class AgentVoice implements TTS {
  current: TTS;
  constructor(readonly base: TTS) {
    this.current = base;
  }
  get name(): string {
    return this.current.name;
  }
  get sampleRate(): number {
    return this.current.sampleRate;
  }
  get streamingInput(): boolean | undefined {
    return this.current.streamingInput;
  }
  stream(options: TtsStreamOptions): TtsStream {
    return this.current.stream(options);
  }
  prewarm(): Promise<void> {
    return this.current.prewarm?.() ?? Promise.resolve();
  }
}

export interface AgentRuntimeDeps<Session> {
  session: Session;
  llm: LLM;
  voice: AgentVoice;
  /** What the session currently holds (its history as messages), for summaries. */
  messages(): ChatMessage[];
  setInstructions(text: string): void;
  /** Makes the handed-over agent speak (its default `onEnter`). */
  generateReply(): Promise<unknown>;
  say(text: string): Promise<unknown>;
  onHandoff(event: { from: string; to: string; summarized: boolean }): void;
  onHookError(event: { agent: string; hook: string; error: Error }): void;
  /** Connects an agent's MCP servers (shared per process by default). */
  connectMcp?(agent: Agent): Promise<McpToolset | undefined>;
}

/**
 * The agent side of a session: which agent is active, its tools (wrapped to get the agent context and to hand
 * over), its hooks (each guarded: a throwing hook is reported, never fatal), and handoffs between agents.
 */
export class AgentRuntime<Session> implements ToolSource {
  private active: Agent;
  private previous: Agent | undefined;
  private readonly mcp = new Map<Agent, McpToolset | undefined>();
  private readonly wrapped = new Map<Agent, Tool[]>();
  /** A handoff a tool asked for; applied when that reply ends. */
  private pending: Handoff | undefined;
  private entering: Promise<void> = Promise.resolve();

  constructor(
    agent: Agent,
    private readonly deps: AgentRuntimeDeps<Session>,
  ) {
    this.active = agent;
    this.applyVoice(agent);
  }

  get agent(): Agent {
    return this.active;
  }

  /** The active agent's tools and its MCP servers' tools, read on every LLM round. */
  tools(): readonly Tool[] {
    const own = this.toolsOf(this.active);
    const mcp = this.mcp.get(this.active)?.tools() ?? [];
    return [...own, ...mcp];
  }

  /** Connects the first agent's MCP servers and runs its `onEnter`. */
  async start(): Promise<void> {
    await this.prepare(this.active);
    await this.runHook(this.active, 'onEnter');
  }

  /** A speech ended: a handoff its tool asked for happens now. */
  speechEnded(): void {
    const next = this.pending;
    if (!next) return;
    this.pending = undefined;
    this.entering = this.entering.then(() => this.switchTo(next)).catch(() => undefined);
  }

  /** Hands over at once (from agent code, outside a tool); resolves once the next agent has entered. */
  async handoffNow(target: Agent | Handoff): Promise<void> {
    const next = isHandoff(target) ? target : handoff(target);
    await this.switchTo(next);
  }

  userTurn(turnId: number, transcript: string): void {
    void this.runHook(this.active, 'onUserTurn', { turnId, transcript });
  }

  toolResult(info: Parameters<NonNullable<Agent['hooks']['onToolResult']>>[1], agent = this.active): void {
    void this.runHook(agent, 'onToolResult', info);
  }

  /** Waits for handoffs in progress (tests, shutdown). */
  settled(): Promise<void> {
    return this.entering;
  }

  async close(): Promise<void> {
    this.pending = undefined;
  }

  private async switchTo(next: Handoff): Promise<void> {
    const from = this.active;
    await this.runHook(from, 'onExit');
    if (next.say) await this.deps.say(next.say).catch(() => undefined);
    let instructions = next.agent.instructions;
    let summarized = false;
    if (next.summarize) {
      const summary = await this.summarize().catch((error) => {
        this.deps.onHookError({ agent: next.agent.name, hook: 'handoff summary', error: asError(error) });
        return '';
      });
      if (summary) {
        instructions = `${instructions}\n\nThe conversation so far, in short (you take over from ${from.name}): ${summary}`;
        summarized = true;
      }
    }
    await this.prepare(next.agent);
    this.previous = from;
    this.active = next.agent;
    this.applyVoice(next.agent);
    this.deps.setInstructions(instructions);
    this.deps.onHandoff({ from: from.name, to: next.agent.name, summarized });
    if (next.agent.hooks.onEnter) await this.runHook(next.agent, 'onEnter', undefined, from);
    else await this.deps.generateReply().catch(() => undefined);
  }

  private applyVoice(agent: Agent): void {
    this.deps.voice.current = agent.tts ?? this.deps.voice.base;
  }

  private async prepare(agent: Agent): Promise<void> {
    if (this.mcp.has(agent) || agent.mcpServers.length === 0) return;
    try {
      const toolset = this.deps.connectMcp
        ? await this.deps.connectMcp(agent)
        : await connectMcpTools(agent.mcpServers, {
            onError: (error, server) =>
              this.deps.onHookError({ agent: agent.name, hook: `mcpServers (${server})`, error }),
          });
      this.mcp.set(agent, toolset);
    } catch (error) {
      this.mcp.set(agent, undefined);
      this.deps.onHookError({ agent: agent.name, hook: 'mcpServers', error: asError(error) });
    }
  }

  /** The MCP toolsets this session connected itself (closed with it). */
  ownToolsets(): McpToolset[] {
    return this.deps.connectMcp ? [] : [...this.mcp.values()].filter((t): t is McpToolset => !!t);
  }

  private toolsOf(agent: Agent): Tool[] {
    let tools = this.wrapped.get(agent);
    if (!tools) {
      tools = agent.tools.map((tool) => this.wrap(agent, tool));
      this.wrapped.set(agent, tools);
    }
    return tools;
  }

  /** The tool with the agent context; a returned agent (or `handoff(...)`) becomes a handoff and ends the reply. */
  private wrap(agent: Agent, tool: AgentTool): Tool {
    return {
      ...tool,
      execute: async (args: unknown, context: ToolContext) => {
        const value = await tool.execute(args, {
          ...context,
          session: this.deps.session as AgentSession,
          agent,
          previousAgent: this.previous,
          say: (text: string) => context.say?.(text),
        });
        if (isAgent(value) || isHandoff(value)) {
          const next = isHandoff(value) ? value : handoff(value);
          this.pending = next;
          return endsReply(next.result ?? `Handed the conversation over to ${next.agent.name}.`);
        }
        if (looksLikeBadHandoff(value)) {
          const error = new AgentDefinitionError(
            agent.name,
            `tools ("${tool.name}") return value`,
            'looks like an agent but was not made with defineAgent: no handoff happened',
          );
          this.deps.onHookError({ agent: agent.name, hook: tool.name, error });
          throw error;
        }
        return value;
      },
    };
  }

  /** Runs a hook; a throw (sync or async) is reported with the agent and hook names, and the session goes on. */
  private async runHook(
    agent: Agent,
    hook: 'onEnter' | 'onUserTurn' | 'onToolResult' | 'onExit',
    arg?: unknown,
    from?: Agent,
  ): Promise<void> {
    const fn = agent.hooks[hook] as ((ctx: HookContext, arg?: unknown) => unknown) | undefined;
    if (!fn) return;
    try {
      await fn({ session: this.deps.session as AgentSession, agent, ...(from ? { from } : {}) }, arg);
    } catch (error) {
      const cause = asError(error);
      const wrapped = new Error(`agent "${agent.name}": ${hook} threw: ${cause.message}`, { cause });
      this.deps.onHookError({ agent: agent.name, hook, error: wrapped });
    }
  }

  private async summarize(): Promise<string> {
    const transcript = this.deps
      .messages()
      .filter((m) => (m.role === 'user' || m.role === 'assistant') && m.content.trim())
      .map((m) => `${m.role === 'user' ? 'User' : 'Agent'}: ${m.content}`)
      .join('\n');
    if (!transcript) return '';
    const controller = new AbortController();
    let text = '';
    for await (const chunk of this.deps.llm.chat({
      messages: [
        {
          role: 'system',
          content:
            'Summarise this phone conversation for the colleague who takes it over, in two or three sentences: ' +
            'who the caller is, what they want, and what has been agreed or found out.',
        },
        { role: 'user', content: transcript },
      ],
      signal: controller.signal,
      maxTokens: 160,
    })) {
      if (chunk.type === 'text') text += chunk.delta;
    }
    return text.trim();
  }
}
