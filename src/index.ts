/**
 * Repartee as a library: define an agent in one file (instructions, tools, MCP servers, hooks, handoffs), run
 * it with `repartee serve ./agent.ts` or `serve(agent)`, and test it with `repartee/testing`.
 *
 * ```ts
 * import { defineAgent, defineTool } from 'repartee';
 * import { z } from 'zod';
 *
 * export default defineAgent({
 *   name: 'clock',
 *   instructions: 'You tell people the time. One short sentence.',
 *   tools: [defineTool({ name: 'now', description: 'The current time', parameters: z.object({}),
 *     execute: async () => new Date().toTimeString().slice(0, 5) })],
 * });
 * ```
 * @module
 */

/** zod, as the agent's tools use it (the same copy the tool runner validates with). */
export { z } from 'zod';
export {
  AgentSession,
  type AgentSessionEvents,
  type AgentSessionOptions,
  type GenerateReplyOptions,
  type SayOptions,
} from './agent/agent-api.ts';
export {
  type Agent,
  type AgentDefinition,
  AgentDefinitionError,
  type AgentTool,
  type AgentToolContext,
  defineAgent,
  defineTool,
  type HookContext,
  isAgent,
  type ToolResultInfo,
  type UserTurnInfo,
} from './agent/definition.ts';
export type { AgentState } from './agent/events.ts';
export { type Handoff, type HandoffOptions, handoff, isHandoff } from './agent/handoff.ts';
export type { AudioOutput, PlayOptions, PlayoutReceipt } from './agent/io.ts';
export type { SpeechOutcome, SpeechResult } from './agent/speech.ts';
export { defineTask, fields, phoneDigits, type TaskDefinition, type TaskField } from './agent/task.ts';
export type { ToolResult } from './agent/tool-runner.ts';
export type { AudioFrame } from './audio/frame.ts';
export { type RunningAgentServer, type ServeOptions, serve } from './cli/serve-api.ts';
export { loadAgentFile } from './config/agent-file.ts';
export type { TurnMetrics } from './metrics/schema.ts';
export type { ChatMessage, LLM, LlmChunk, ToolCall } from './providers/llm/contract.ts';
export type { STT } from './providers/stt/contract.ts';
export type { TTS } from './providers/tts/contract.ts';
export type { VAD } from './providers/vad/contract.ts';
export { docsServerConfig as docsServer } from './tools/config.ts';
export type { McpServerConfigInput as McpServerConfig } from './tools/mcp/config.ts';
export type { ToolProgress } from './tools/tool.ts';
