import type { RawData, WebSocket } from 'ws';
import type { AgentSession } from '../../agent/session.ts';
import { AudioFormatError, int16FromBytes, MAX_FRAME_MS, PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';
import { definedOnly } from '../../util/defined.ts';
import { ProtocolBridge } from '../bridge.ts';
import { DEFAULT_HEARTBEAT, Heartbeat } from '../heartbeat.ts';
import { InputBudget, type InputBudgetOptions } from '../input-budget.ts';
import { StreamingAudioOutput } from '../playout.ts';
import type { AuthorizationLinks, ServerMessage } from '../protocol.ts';
import { PlaybackReceipts } from '../receipts.ts';
import { ArrivalTimeline } from '../timeline.ts';
import { WebSocketAudioSink } from './output.ts';

export interface WebSocketClientOptions extends InputBudgetOptions {
  /** Tool servers waiting for the user to authorise them (OAuth): the page is sent their links. */
  authorizations?: AuthorizationLinks;
  /** Rate of the agent's speech sent to the client. */
  outputSampleRate?: number;
  /** How long to wait for a `started` or `stopped` receipt before falling back to the send-side estimate. */
  receiptTimeoutMs?: number;
  /** The server pings (WebSocket ping frames; every client answers them by itself) this often. Default 1000 ms. */
  pingIntervalMs?: number;
  /**
   * A client heard from neither by pong nor by any message this long (about two missed pongs) is gone: its
   * socket and session end. Default 2500 ms.
   */
  pongTimeoutMs?: number;
  /** A client that leaves this much of the agent's audio unread (it stopped reading) is dropped. Default 5000 ms. */
  maxUnsentAudioMs?: number;
  /** A dropped client that does not complete the closing handshake within this is cut off. Default 1000 ms. */
  closeGraceMs?: number;
  /** A client was dropped by the server (flooding, not reading, not answering pings): log it here. */
  onDropped?(drop: ClientDrop): void;
}

/** Why the server ended a client's connection. */
export interface ClientDrop {
  sessionId: string;
  /** The WebSocket close code sent (1008 policy violation), or 1006 when the peer was cut off silently. */
  code: number;
  reason: string;
}

const DEFAULTS = {
  pingIntervalMs: DEFAULT_HEARTBEAT.intervalMs,
  pongTimeoutMs: DEFAULT_HEARTBEAT.timeoutMs,
  maxUnsentAudioMs: 5000,
  closeGraceMs: 1000,
};
/** A WebSocket close reason is at most 123 bytes. */
const MAX_CLOSE_REASON = 120;

/**
 * Adapts one WebSocket client to one AgentSession. Binary messages are PCM16 little-endian mono at the
 * declared rate; JSON messages control the session and carry its events back (docs/protocol.md). A bad
 * message gets an `error` message and is dropped; the conversation carries on. A client that floods, stops
 * reading or stops answering pings is dropped with a reason, and its session ends at once.
 */
export async function attachWebSocketClient(
  socket: WebSocket,
  session: AgentSession,
  options: WebSocketClientOptions = {},
): Promise<void> {
  const { pingIntervalMs, pongTimeoutMs, maxUnsentAudioMs, closeGraceMs } = options;
  const config = {
    ...DEFAULTS,
    ...definedOnly({ pingIntervalMs, pongTimeoutMs, maxUnsentAudioMs, closeGraceMs }),
  };
  const send = (message: ServerMessage) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const receipts = new PlaybackReceipts(session.clock);
  let inputRate = PIPELINE_SAMPLE_RATE;
  const bridge = new ProtocolBridge({
    session,
    transport: 'websocket',
    send,
    receipts,
    authorizations: options.authorizations,
    onInputRate: (rate) => {
      inputRate = rate;
    },
  });
  const sink = new WebSocketAudioSink(
    socket,
    options.outputSampleRate ?? PIPELINE_SAMPLE_RATE,
    config.maxUnsentAudioMs,
    (unsentMs) => drop(1008, `not reading: ${(unsentMs / 1000).toFixed(1)} s of audio unread`),
  );
  const output = new StreamingAudioOutput({
    clock: session.clock,
    sink,
    send,
    receipts,
    receiptTimeoutMs: options.receiptTimeoutMs,
  });
  const timeline = new ArrivalTimeline();
  const budget = new InputBudget(() => session.clock.now(), options);

  let ended = false;
  let warnedDiscard = false;
  let cancelGrace: (() => void) | undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    heartbeat.stop();
    bridge.detach();
    output.destroy();
    void session.close();
  };
  /** Ends this client for a reason it is told (when it still listens) and the server logs. */
  const drop = (code: number, reason: string) => {
    if (ended) return;
    try {
      options.onDropped?.({ sessionId: session.id, code, reason });
    } catch {
      // A failing logger must not keep a misbehaving client connected.
    }
    if (code === 1006) socket.terminate();
    else if (socket.readyState === socket.OPEN) {
      send({ type: 'error', message: `disconnected by the server: ${reason}` });
      socket.close(code, reason.slice(0, MAX_CLOSE_REASON));
      // A client that does not read will not answer the close either.
      cancelGrace = session.clock.schedule(config.closeGraceMs, () => socket.terminate());
    }
    end();
  };
  const heartbeat = new Heartbeat({
    clock: session.clock,
    intervalMs: config.pingIntervalMs,
    timeoutMs: config.pongTimeoutMs,
    sendPing: () => {
      if (socket.readyState === socket.OPEN) socket.ping();
    },
    onTimeout: (silentMs) => drop(1006, `no pong for ${Math.round(silentMs)} ms`),
    // A client that keeps sending (so is never silent) but answers no ping is not reading: on loopback the
    // kernel's buffers absorb megabytes of audio before bufferedAmount grows, so maxUnsentAudioMs alone misses
    // it. Every WebSocket client answers pings as it reads; one that reads, even slowly behind the allowed
    // backlog, gets its ping after at most that backlog.
    answerTimeoutMs: config.maxUnsentAudioMs + config.pongTimeoutMs,
    onUnanswered: (unansweredMs) =>
      drop(1008, `not reading: no pong for ${(unansweredMs / 1000).toFixed(1)} s while it kept sending`),
  });
  socket.on('pong', () => heartbeat.pong());

  const onAudio = (bytes: Buffer) => {
    const samples = int16FromBytes(bytes);
    if (samples.length === 0) throw new AudioFormatError('empty audio frame');
    const durationMs = (samples.length * 1000) / inputRate;
    if (durationMs > MAX_FRAME_MS) {
      throw new AudioFormatError(
        `audio frame of ${durationMs.toFixed(0)} ms at ${inputRate} Hz exceeds the ${MAX_FRAME_MS} ms limit; send 20 ms frames`,
      );
    }
    const verdict = budget.audio(durationMs);
    if (verdict.kind === 'drop') return drop(1008, verdict.reason);
    if (verdict.kind === 'discard') {
      // Faster than real time: not worth the pipeline's work. Said once; the client is dropped if it keeps on.
      if (!warnedDiscard) bridge.sendError('audio arriving faster than real time: the excess is discarded');
      warnedDiscard = true;
      return;
    }
    const timestampMs = timeline.stamp(session.clock.now(), durationMs);
    session.pushAudio({ samples, sampleRate: inputRate, timestampMs });
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (ended) return;
    // A peer whose data keeps arriving is alive even if its pong is stuck behind that data (a fast sender):
    // the input budget judges it, not the heartbeat. A peer that stops reading is bounded by maxUnsentAudioMs
    // and by the pongs it owes (answerTimeoutMs).
    heartbeat.heard();
    const over = budget.message();
    if (over) return drop(1008, over);
    try {
      if (isBinary) onAudio(data instanceof Buffer ? data : Buffer.concat(data as Buffer[]));
      else bridge.handleText(data.toString());
    } catch (error) {
      bridge.sendError(error instanceof Error ? error.message : String(error));
    }
  });
  socket.on('close', () => {
    cancelGrace?.();
    end();
  });
  if (socket.readyState !== socket.OPEN) end();
  if (ended) return;
  await session.start(output);
  if (ended) return;
  budget.endStartup(); // what the server held while the session started has been replayed by now
  bridge.ready(inputRate, output.sampleRate);
}
