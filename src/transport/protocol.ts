import { z } from 'zod';
import type { AgentState } from '../agent/events.ts';
import type { SpeechOutcome } from '../agent/speech.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import type { ChatRole, ToolCall } from '../providers/llm/contract.ts';

/** The client protocol shared by the WebSocket and the WebRTC data channel (docs/protocol.md). */

export const CLIENT_INPUT_RATES = [8000, 16000, 24000, 44100, 48000] as const;

const PlaybackMessage = z.object({
  type: z.literal('playback'),
  speechId: z.number().int().min(1),
  event: z.enum(['started', 'stopped', 'finished']),
  playedMs: z.number().min(0).max(3_600_000).optional(),
});

export const ClientMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('config'),
    sampleRate: z.number().int().optional(),
    receipts: z.boolean().optional(),
    /** The user this session is for (memory across conversations, docs/memory.md); like `?user=` on /ws. */
    user: z.string().min(1).max(200).optional(),
  }),
  z.object({ type: z.literal('text'), text: z.string().min(1).max(10_000) }),
  z.object({ type: z.literal('interrupt') }),
  // Liveness (docs/protocol.md): the server answers a `ping` with a `pong`; a client answers the server's `ping`.
  z.object({ type: z.literal('ping'), t: z.number().optional() }),
  z.object({ type: z.literal('pong'), t: z.number().optional() }),
  PlaybackMessage,
]);

export type ClientMessage = z.infer<typeof ClientMessage>;
export type PlaybackMessage = z.infer<typeof PlaybackMessage>;
export type PlaybackEvent = PlaybackMessage['event'];

export type TransportKind = 'websocket' | 'webrtc';

export type ServerMessage =
  | {
      type: 'ready';
      sessionId: string;
      inputSampleRate: number;
      outputSampleRate: number;
      transport: TransportKind;
    }
  | { type: 'state'; state: AgentState }
  | { type: 'transcript'; text: string; final: boolean }
  | { type: 'agentText'; speechId: number; text: string }
  | {
      type: 'conversationItem';
      id: number;
      role: ChatRole;
      content: string;
      interrupted: boolean;
      toolCalls?: ToolCall[];
      toolCallId?: string;
    }
  | { type: 'speech'; speechId: number }
  | { type: 'clear'; speechId: number }
  | { type: 'speechEnded'; speechId: number; outcome: SpeechOutcome; text: string }
  | { type: 'metrics'; metrics: TurnMetrics }
  | { type: 'error'; message: string; source?: string }
  | { type: 'ping'; t: number }
  | { type: 'pong'; t?: number }
  /** A tool server (MCP) needs the user to authorise it: the page shows the link to open (OAuth hand-off). */
  | { type: 'authorization'; server: string; url: string };

/** Authorisation links waiting for a person (the MCP toolset's OAuth hand-offs), for transports to show. */
export interface AuthorizationLinks {
  /** The links still waiting now. */
  pending(): { server: string; url: string }[];
  /** Called with each new link; returns the unsubscribe function. */
  subscribe(listener: (link: { server: string; url: string }) => void): () => void;
}

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: string };

/** Parses one JSON text message from a client; never throws. */
export function parseClientMessage(text: string): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: `malformed message: not JSON (${truncate(text, 60)})` };
  }
  const parsed = ClientMessage.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
  const type = typeof json === 'object' && json && 'type' in json ? String(json.type) : undefined;
  return {
    ok: false,
    error: `unknown or malformed message${type ? ` "${truncate(type, 40)}"` : ''}: ${issue?.message ?? 'invalid'}${where}`,
  };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
