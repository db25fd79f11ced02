import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { AgentSession } from '../agent/session.ts';
import {
  attachPhoneCall,
  type CallLogEntry,
  type PhoneCallInfo,
  type PhoneCallOptions,
} from '../transport/telephony/call.ts';
import type { CallControl } from '../transport/telephony/control.ts';
import {
  createTelnyxWire,
  telnyxAfterStreamTexml,
  telnyxBusyTexml,
  telnyxStreamTexml,
  validTelnyxSignature,
} from '../transport/telephony/telnyx.ts';
import {
  createTwilioWire,
  twilioAfterStreamTwiml,
  twilioBusyTwiml,
  twilioStreamTwiml,
  validTwilioSignature,
} from '../transport/telephony/twilio.ts';
import {
  createVonageWire,
  validVonageSignature,
  vonageBusyNcco,
  vonageStreamNcco,
} from '../transport/telephony/vonage.ts';
import type { PhoneProvider, PhoneWire, StreamStart } from '../transport/telephony/wire.ts';

export interface TelephonyOptions {
  /** The public https:// base URL the providers reach this server at (signatures are computed over it). */
  publicUrl: string;
  /** Twilio: the account's auth token (X-Twilio-Signature). */
  twilio?: { authToken: string };
  /** Telnyx: the account's public key, base64 (Telnyx-Signature-Ed25519). */
  telnyx?: { publicKey: string };
  /** Vonage: the application's signature secret (signed webhooks, JWT HS256). */
  vonage?: { signatureSecret: string };
  /** A session for one call; give it `control.tools()` so the agent can hang up, transfer and press keys. */
  createCallSession(call: PhoneCallInfo, control: CallControl): Promise<AgentSession>;
  /** Timeouts, the silence prompt, input budget of each call. */
  call?: Omit<PhoneCallOptions, 'wire' | 'createSession' | 'authorize' | 'log'>;
  /**
   * Said by the provider's own voice to a call that comes when the process takes no more sessions (at its cap, or
   * draining), before it hangs up: a caller hears why instead of a dead line.
   */
  busyMessage?: string;
  log?(entry: CallLogEntry): void;
}

export const DEFAULT_BUSY_MESSAGE = 'All our lines are busy right now. Please call again in a few minutes.';

/** A webhook's stream token is good for this long (the provider connects the stream within a second or two). */
const TOKEN_TTL_MS = 60_000;
const MAX_BODY_BYTES = 64 * 1024;

interface Pending {
  provider: PhoneProvider;
  callId: string | undefined;
  /** The caller's number as the provider's webhook gave it (`From`, `from`). */
  caller: string | undefined;
  expiresAt: number;
}

/**
 * The phone webhooks and media streams under `/telephony/<provider>/`: `voice` (Twilio, Telnyx TeXML) or
 * `answer` (Vonage) answers an incoming call with the stream instruction once the provider's signature checks
 * out; `stream` is the media WebSocket, accepted only with the one-time token that answer handed out;
 * `next` tells Twilio/Telnyx what to do when the stream has ended (transfer or hang up).
 */
export class TelephonyRoutes {
  private readonly pending = new Map<string, Pending>();
  /** The caller of each authorized stream, by call id, until its session is made. */
  private readonly callers = new Map<string, string>();
  /** Call id → where the agent transferred it, read once by the `next` webhook. */
  private readonly transfers = new Map<string, { to: string; expiresAt: number }>();
  private readonly base: URL;

  /** `isFull`: the process takes no new session now (at its cap, or draining). */
  constructor(
    private readonly options: TelephonyOptions,
    private readonly track: (session: AgentSession, closed: Promise<void>) => void,
    private readonly isFull: () => boolean = () => false,
  ) {
    this.base = new URL(options.publicUrl);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:')
      throw new TypeError(`telephony.publicUrl must be an http(s) URL, got ${options.publicUrl}`);
  }

  /** The host providers name in their requests: it is one of ours. */
  get publicHost(): string {
    return this.base.host;
  }

  /** Handles a webhook; false when the path is not one of ours. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    const [, , provider, action] = url.pathname.split('/');
    if (!isProvider(provider) || !['voice', 'answer', 'next'].includes(action ?? '')) return false;
    const config = this.options[provider];
    if (!config) return false;
    const body = await readBody(request);
    if (body === undefined) return reply(response, 413, 'text/plain', 'body too large\n');
    const publicUrl = new URL(url.pathname + url.search, this.base).toString();
    if (!(await this.verify(provider, request, publicUrl, body, url))) {
      this.log({ provider, level: 'warn', message: `webhook ${url.pathname} refused: invalid signature` });
      return reply(response, 403, 'text/plain', 'invalid signature\n');
    }
    const params = parseParams(request, body, url);
    const callId = params.CallSid ?? params.call_control_id ?? params.uuid;
    if (action === 'next') {
      const transfer = callId ? this.takeTransfer(callId) : undefined;
      const xml =
        provider === 'telnyx'
          ? telnyxAfterStreamTexml({ transferTo: transfer })
          : twilioAfterStreamTwiml({ transferTo: transfer });
      return reply(response, 200, 'text/xml', xml);
    }
    if (this.isFull()) {
      this.log({ provider, callId, level: 'warn', message: 'incoming call refused: every line is busy' });
      return this.replyBusy(response, provider);
    }
    const token = this.issue(provider, callId, params.From ?? params.from);
    const streamUrl = new URL(`/telephony/${provider}/stream`, this.base);
    streamUrl.protocol = this.base.protocol === 'https:' ? 'wss:' : 'ws:';
    const nextUrl = new URL(`/telephony/${provider}/next`, this.base).toString();
    this.log({
      provider,
      callId,
      level: 'info',
      message: `incoming call from ${params.From ?? params.from ?? 'unknown'}`,
    });
    if (provider === 'twilio')
      return reply(response, 200, 'text/xml', twilioStreamTwiml(streamUrl.toString(), { token }, nextUrl));
    if (provider === 'telnyx') {
      streamUrl.searchParams.set('token', token);
      return reply(response, 200, 'text/xml', telnyxStreamTexml(streamUrl.toString(), nextUrl));
    }
    const headers: Record<string, string> = { token, ...(callId ? { call: callId } : {}) };
    return reply(
      response,
      200,
      'application/json',
      JSON.stringify(vonageStreamNcco(streamUrl.toString(), headers)),
    );
  }

  private replyBusy(response: ServerResponse, provider: PhoneProvider): true {
    const message = this.options.busyMessage ?? DEFAULT_BUSY_MESSAGE;
    if (provider === 'twilio') return reply(response, 200, 'text/xml', twilioBusyTwiml(message));
    if (provider === 'telnyx') return reply(response, 200, 'text/xml', telnyxBusyTexml(message));
    return reply(response, 200, 'application/json', JSON.stringify(vonageBusyNcco(message)));
  }

  /** Whether an upgrade to `url` is a media stream of ours. */
  isStream(url: URL): boolean {
    const [, , provider, action] = url.pathname.split('/');
    return isProvider(provider) && action === 'stream' && this.options[provider] !== undefined;
  }

  /** Accepts a media stream; the call ends in the log with its reason however it goes. */
  upgrade(wss: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const provider = url.pathname.split('/')[2] as PhoneProvider;
    const query = Object.fromEntries(url.searchParams);
    const wire: PhoneWire =
      provider === 'twilio'
        ? createTwilioWire()
        : provider === 'telnyx'
          ? createTelnyxWire(query)
          : createVonageWire();
    wss.handleUpgrade(request, socket, head, (ws) => {
      let closed!: () => void;
      const whenClosed = new Promise<void>((resolve) => {
        closed = resolve;
      });
      void attachPhoneCall(ws, {
        ...this.options.call,
        wire,
        authorize: (start) => this.authorize(provider, start),
        log: (entry) => this.log(entry),
        createSession: async (call, control) => {
          const caller = this.callers.get(call.callId);
          this.callers.delete(call.callId);
          const session = await this.options.createCallSession(caller ? { ...call, caller } : call, control);
          this.track(session, whenClosed);
          return session;
        },
        onEnded: (end, call) => {
          if (end.transferTo && call)
            this.transfers.set(call.callId, { to: end.transferTo, expiresAt: Date.now() + TOKEN_TTL_MS });
          this.options.call?.onEnded?.(end, call);
        },
      }).finally(() => closed());
    });
  }

  private authorize(provider: PhoneProvider, start: StreamStart): string | undefined {
    this.expire();
    const token = start.parameters.token;
    const pending = token ? this.pending.get(token) : undefined;
    if (!token || !pending) return 'no valid stream token (the stream must follow our answer to the call)';
    this.pending.delete(token);
    if (pending.provider !== provider) return 'stream token issued for another provider';
    if (pending.callId && provider !== 'vonage' && pending.callId !== start.callId)
      return `stream token issued for call ${pending.callId}, not ${start.callId}`;
    if (pending.caller) this.callers.set(start.callId, pending.caller);
    return undefined;
  }

  private issue(provider: PhoneProvider, callId: string | undefined, caller: string | undefined): string {
    this.expire();
    const token = randomBytes(18).toString('base64url');
    this.pending.set(token, { provider, callId, caller, expiresAt: Date.now() + TOKEN_TTL_MS });
    return token;
  }

  private takeTransfer(callId: string): string | undefined {
    const transfer = this.transfers.get(callId);
    this.transfers.delete(callId);
    return transfer && transfer.expiresAt > Date.now() ? transfer.to : undefined;
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(token);
    for (const [id, t] of this.transfers) if (t.expiresAt <= now) this.transfers.delete(id);
  }

  private async verify(
    provider: PhoneProvider,
    request: IncomingMessage,
    publicUrl: string,
    body: string,
    url: URL,
  ): Promise<boolean> {
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    if (provider === 'twilio') {
      const params = request.method === 'POST' ? Object.fromEntries(new URLSearchParams(body)) : {};
      return validTwilioSignature(
        this.options.twilio!.authToken,
        header('x-twilio-signature'),
        publicUrl,
        params,
      );
    }
    if (provider === 'telnyx') {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers))
        if (typeof value === 'string') headers[name] = value;
      return validTelnyxSignature(this.options.telnyx!.publicKey, body, headers);
    }
    void url;
    return validVonageSignature(this.options.vonage!.signatureSecret, header('authorization'), body);
  }

  private log(entry: CallLogEntry): void {
    try {
      (this.options.log ?? defaultLog)(entry);
    } catch {
      // logging never ends a call
    }
  }
}

function defaultLog(entry: CallLogEntry): void {
  const line = `[telephony ${entry.provider}${entry.callId ? ` ${entry.callId}` : ''}] ${entry.message}`;
  if (entry.level === 'warn') console.warn(line);
  else console.log(line);
}

function isProvider(value: string | undefined): value is PhoneProvider {
  return value === 'twilio' || value === 'telnyx' || value === 'vonage';
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseParams(request: IncomingMessage, body: string, url: URL): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(url.searchParams);
  const type = request.headers['content-type'] ?? '';
  if (body && type.includes('json')) {
    try {
      const json = JSON.parse(body) as Record<string, unknown>;
      const payload = (json.data as { payload?: Record<string, unknown> } | undefined)?.payload ?? json;
      for (const [key, value] of Object.entries(payload)) if (typeof value === 'string') out[key] = value;
    } catch {
      // signature checked already; an unparsable body just has no parameters
    }
  } else if (body) Object.assign(out, Object.fromEntries(new URLSearchParams(body)));
  return out;
}

function reply(response: ServerResponse, status: number, type: string, body: string): true {
  response.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
  response.end(body);
  return true;
}
