import type { AgentSession } from '../agent/session.ts';
import { nameSessionUser } from '../agent/session-user.ts';
import {
  type AuthorizationLinks,
  CLIENT_INPUT_RATES,
  type ClientMessage,
  parseClientMessage,
  type ServerMessage,
  type TransportKind,
} from './protocol.ts';
import type { PlaybackReceipts } from './receipts.ts';

type ConfigMessage = Extract<ClientMessage, { type: 'config' }>;

export interface ProtocolBridgeOptions {
  session: AgentSession;
  transport: TransportKind;
  send(message: ServerMessage): void;
  receipts: PlaybackReceipts;
  /** Where the transport's client audio arrives at a rate it announces (WebSocket PCM). */
  onInputRate?(sampleRate: number): void;
  /** The client answered a heartbeat `ping` (the WebRTC control channel's liveness). */
  onPong?(): void;
  /** Tool servers waiting for the user to authorise them: their links are sent on `ready` and as they come. */
  authorizations?: AuthorizationLinks;
}

/**
 * The JSON half of the client protocol, the same on every transport: session events out as server messages,
 * client messages in, validated. A bad message gets an `error` back and is dropped; the session carries on.
 */
export class ProtocolBridge {
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly options: ProtocolBridgeOptions) {
    const { session, send } = options;
    this.unsubscribe = [
      session.on('state', ({ state }) => {
        if (state !== 'idle') send({ type: 'state', state });
      }),
      session.on('transcript', ({ text, final }) => send({ type: 'transcript', text, final })),
      session.on('agentText', ({ speechId, text }) => send({ type: 'agentText', speechId, text })),
      session.on('conversationItem', (item) =>
        send({
          type: 'conversationItem',
          id: item.id,
          role: item.role,
          content: item.content,
          interrupted: item.interrupted ?? false,
          ...(item.toolCalls ? { toolCalls: item.toolCalls } : {}),
          ...(item.toolCallId ? { toolCallId: item.toolCallId } : {}),
        }),
      ),
      session.on('speechEnded', ({ speechId, outcome, heardText }) =>
        send({ type: 'speechEnded', speechId, outcome, text: heardText }),
      ),
      session.on('metrics', (metrics) => send({ type: 'metrics', metrics })),
      session.on('error', ({ source, error }) => send({ type: 'error', source, message: error.message })),
    ];
  }

  /** One JSON text message from the client. */
  handleText(text: string): void {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.sendError(parsed.error);
      return;
    }
    const message = parsed.message;
    try {
      if (message.type === 'config') this.configure(message);
      else if (message.type === 'text') this.options.session.sendText(message.text);
      else if (message.type === 'interrupt') this.options.session.interrupt();
      else if (message.type === 'ping') this.options.send({ type: 'pong', t: message.t });
      else if (message.type === 'pong') this.options.onPong?.();
      else this.options.receipts.receive(message);
    } catch (error) {
      this.sendError(error instanceof Error ? error.message : String(error));
    }
  }

  sendError(message: string): void {
    this.options.send({ type: 'error', message });
  }

  ready(inputSampleRate: number, outputSampleRate: number): void {
    this.options.send({
      type: 'ready',
      sessionId: this.options.session.id,
      inputSampleRate,
      outputSampleRate,
      transport: this.options.transport,
    });
    const links = this.options.authorizations;
    if (!links) return;
    for (const link of links.pending()) this.options.send({ type: 'authorization', ...link });
    this.unsubscribe.push(links.subscribe((link) => this.options.send({ type: 'authorization', ...link })));
  }

  detach(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private configure(message: ConfigMessage): void {
    if (message.sampleRate !== undefined && this.options.onInputRate) {
      if (!(CLIENT_INPUT_RATES as readonly number[]).includes(message.sampleRate)) {
        this.sendError(
          `unsupported sampleRate ${message.sampleRate} (supported: ${CLIENT_INPUT_RATES.join(', ')})`,
        );
        return;
      }
      this.options.onInputRate(message.sampleRate);
    }
    // WebRTC audio is Opus at 48 kHz whatever `sampleRate` says; only `receipts` applies there.
    if (message.receipts !== undefined) this.options.receipts.enabled = message.receipts;
    if (message.user !== undefined) {
      const refusal = nameSessionUser(this.options.session, message.user);
      if (refusal) this.sendError(refusal);
    }
  }
}
