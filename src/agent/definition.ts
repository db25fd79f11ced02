import type { z } from 'zod';
import type { TTS } from '../providers/tts/contract.ts';
import { McpConfigSchema, type McpServerConfigInput } from '../tools/mcp/config.ts';
import type { Tool, ToolContext, ToolProgress } from '../tools/tool.ts';
import type { AgentSession } from './agent-api.ts';
import type { ToolResult } from './tool-runner.ts';

/**
 * What a tool's `execute` gets besides its arguments: the session it runs in, the agent that called it, a signal
 * that aborts when the user interrupts or the tool times out, and a way to speak a status line while it works.
 */
export interface AgentToolContext<Session = AgentSession> {
  /** The session (an `AgentSession` from `repartee`): `session.say`, `session.history`, `session.on`… */
  session: Session;
  /** The agent whose tool this is. */
  agent: Agent;
  /** The agent that handed over to this one, if any (a task hands back to it). */
  previousAgent?: Agent;
  /** Aborted when the reply is interrupted, the user says "cancel", or the tool hits `toolTimeoutMs`. */
  signal: AbortSignal;
  /** Speaks a short status line now ("Let me check the calendar."), without ending the reply; not in the history. */
  say(text: string): void;
  /** Reports progress (the `toolProgress` event). */
  onProgress?(progress: ToolProgress): void;
}

/** A tool as an agent file defines it: a zod schema for its arguments and a function that runs it. */
// biome-ignore lint/suspicious/noExplicitAny: tools of every argument type share one list
export interface AgentTool<Args = any> extends Tool<Args> {
  execute(args: Args, context: ToolContext & Partial<AgentToolContext>): Promise<unknown>;
}

/** Passed to every hook. */
export interface HookContext<Session = AgentSession> {
  session: Session;
  agent: Agent;
  /** In `onEnter`: the agent that handed over (undefined at session start). */
  from?: Agent;
}

export interface UserTurnInfo {
  turnId: number;
  transcript: string;
}

export interface ToolResultInfo {
  name: string;
  /** The arguments as the LLM wrote them (JSON text). */
  arguments: string;
  result: ToolResult;
  durationMs: number;
}

/** The fields of `defineAgent`. Only `instructions` is required. */
export interface AgentDefinition<Session = AgentSession> {
  /** Names the agent in errors, events and handoffs. Default: `agent`. */
  name?: string;
  /** The system prompt while this agent is active. */
  instructions: string;
  /** Function tools (`defineTool`). A tool may return another agent (or `handoff(agent)`) to hand over. */
  tools?: readonly AgentTool[];
  /** MCP servers whose tools this agent may use (stdio or Streamable HTTP), connected once per process. */
  mcpServers?: readonly McpServerConfigInput[];
  /** The agent's own voice: a TTS used while it is active. Default: the session's TTS. */
  tts?: TTS;
  /**
   * Runs when the agent becomes active: at session start for the first agent, and after a handoff. Without it a
   * handed-over agent answers at once (`session.generateReply()`); the first agent waits for the user.
   */
  onEnter?(context: HookContext<Session>): void | Promise<void>;
  /** Runs when a user turn is committed, as the reply to it starts. */
  onUserTurn?(context: HookContext<Session>, turn: UserTurnInfo): void | Promise<void>;
  /** Runs after each of this agent's tool calls finished. */
  onToolResult?(context: HookContext<Session>, info: ToolResultInfo): void | Promise<void>;
  /** Runs when another agent takes over. */
  onExit?(context: HookContext<Session>): void | Promise<void>;
}

const AGENT: unique symbol = Symbol.for('repartee.agent');

/** A checked agent definition (`defineAgent`'s result). Immutable; one agent serves many sessions. */
export interface Agent<Session = AgentSession> extends Readonly<Required<Pick<AgentDefinition, 'name'>>> {
  readonly [AGENT]: true;
  readonly instructions: string;
  readonly tools: readonly AgentTool[];
  readonly mcpServers: readonly McpServerConfigInput[];
  readonly tts?: TTS;
  readonly hooks: Readonly<
    Pick<AgentDefinition<Session>, 'onEnter' | 'onUserTurn' | 'onToolResult' | 'onExit'>
  >;
}

/** A definition that cannot work: names the agent and the field. */
export class AgentDefinitionError extends Error {
  constructor(
    readonly agent: string,
    readonly field: string,
    problem: string,
  ) {
    super(`agent "${agent}": ${field} ${problem}`);
    this.name = 'AgentDefinitionError';
  }
}

const KNOWN_FIELDS = new Set([
  'name',
  'instructions',
  'tools',
  'mcpServers',
  'tts',
  'onEnter',
  'onUserTurn',
  'onToolResult',
  'onExit',
]);
const HOOKS = ['onEnter', 'onUserTurn', 'onToolResult', 'onExit'] as const;

export function isAgent(value: unknown): value is Agent {
  return typeof value === 'object' && value !== null && (value as Agent)[AGENT] === true;
}

/**
 * Checks and freezes an agent definition. Throws AgentDefinitionError naming the agent and the field for a
 * missing `instructions`, a tool without a zod `parameters` schema, a hook that is not a function, an unknown
 * field (a misspelling), or MCP servers that are not a list.
 */
export function defineAgent<Session = AgentSession>(definition: AgentDefinition<Session>): Agent<Session> {
  if (typeof definition !== 'object' || definition === null)
    throw new AgentDefinitionError('agent', 'definition', 'must be an object');
  const raw = definition as unknown as Record<string, unknown>;
  if (raw.name !== undefined && (typeof raw.name !== 'string' || !raw.name.trim()))
    throw new AgentDefinitionError(String(raw.name), 'name', 'must be a non-empty string');
  const name = (raw.name as string | undefined)?.trim() ?? 'agent';
  const fail = (field: string, problem: string): never => {
    throw new AgentDefinitionError(name, field, problem);
  };
  for (const key of Object.keys(raw)) {
    if (KNOWN_FIELDS.has(key)) continue;
    const near = [...KNOWN_FIELDS].find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 5)));
    fail(`"${key}"`, `is not a field of an agent${near ? ` (did you mean "${near}"?)` : ''}`);
  }
  if (typeof raw.instructions !== 'string' || !raw.instructions.trim())
    fail('instructions', 'is required: a non-empty string (the system prompt while this agent is active)');
  const tools = checkTools(raw.tools, fail);
  if (raw.mcpServers !== undefined && !Array.isArray(raw.mcpServers))
    fail('mcpServers', 'must be a list of MCP server configurations');
  const servers = McpConfigSchema.safeParse(raw.mcpServers ?? []);
  if (!servers.success) {
    const issue = servers.error.issues[0];
    fail(`mcpServers[${issue.path.join('.')}]`, `is not a valid MCP server: ${issue.message}`);
  }
  const tts = raw.tts as TTS | undefined;
  if (tts !== undefined && (typeof tts !== 'object' || typeof tts.stream !== 'function'))
    fail('tts', 'must be a TTS (an object with stream())');
  const hooks: Record<string, unknown> = {};
  for (const hook of HOOKS) {
    if (raw[hook] === undefined) continue;
    if (typeof raw[hook] !== 'function') fail(hook, 'must be a function');
    hooks[hook] = raw[hook];
  }
  return Object.freeze({
    [AGENT]: true as const,
    name,
    instructions: (raw.instructions as string).trim(),
    tools: Object.freeze(tools),
    mcpServers: Object.freeze([...((raw.mcpServers as McpServerConfigInput[]) ?? [])]),
    ...(tts ? { tts } : {}),
    hooks: Object.freeze(hooks),
  }) as Agent<Session>;
}

function checkTools(value: unknown, fail: (field: string, problem: string) => never): AgentTool[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return fail('tools', 'must be a list of tools (defineTool)');
  const names = new Set<string>();
  return value.map((tool, i) => {
    const t = tool as Partial<AgentTool> | undefined;
    const label = typeof t?.name === 'string' ? `tools[${i}] ("${t.name}")` : `tools[${i}]`;
    if (typeof t !== 'object' || t === null) fail(label, 'is not a tool (use defineTool)');
    if (typeof t?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.name))
      fail(label, 'needs a name of 1-64 letters, digits, "_" or "-"');
    if (typeof t?.description !== 'string' || !t.description.trim())
      fail(label, 'needs a description (the LLM reads it to decide when to call the tool)');
    if (!isZodSchema(t?.parameters))
      fail(
        label,
        'has no parameters schema: give a zod schema, e.g. parameters: z.object({ date: z.string() })',
      );
    if (typeof t?.execute !== 'function') fail(label, 'needs an execute(args, context) function');
    if (names.has(t?.name as string)) fail(label, 'has the same name as another tool of this agent');
    names.add(t?.name as string);
    return t as AgentTool;
  });
}

function isZodSchema(value: unknown): value is z.ZodType {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as z.ZodType).safeParse === 'function' &&
    '_zod' in (value as object)
  );
}

/**
 * Defines a function tool with typed arguments (a zod schema) and the agent context: `execute(args, { session,
 * agent, signal, say })`. Return a value (sent to the LLM as JSON or text), or an agent to hand over to.
 */
export function defineTool<Schema extends z.ZodType, Session = AgentSession>(tool: {
  name: string;
  description: string;
  parameters: Schema;
  execute(args: z.infer<Schema>, context: AgentToolContext<Session>): Promise<unknown> | unknown;
}): AgentTool<z.infer<Schema>> {
  return {
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters as z.ZodType<z.infer<Schema>>,
    // A missing execute is left missing, so defineAgent can name the tool and the field.
    execute:
      typeof tool.execute === 'function'
        ? async (args, context) => tool.execute(args, context as AgentToolContext<Session>)
        : (tool.execute as unknown as AgentTool['execute']),
  };
}
