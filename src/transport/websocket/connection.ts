import type { RawData, WebSocket } from 'ws';
import type { AgentSession } from '../../agent/session.ts';
import { AudioFormatError, int16FromBytes, MAX_FRAME_MS, PIPELINE_SAMPLE_RATE } from '../../audio/frame.ts';
import { ProtocolBridge } from '../bridge.ts';
import { StreamingAudioOutput } from '../playout.ts';
import type { ServerMessage } from '../protocol.ts';
import { PlaybackReceipts } from '../receipts.ts';
import { ArrivalTimeline } from '../timeline.ts';
import { WebSocketAudioSink } from './output.ts';

export interface WebSocketClientOptions {
  /** Rate of the agent's speech sent to the client. */
  outputSampleRate?: number;
  /** How long to wait for a `started` or `stopped` receipt before falling back to the send-side estimate. */
  receiptTimeoutMs?: number;
}

/**
 * Adapts one WebSocket client to one AgentSession. Binary messages are PCM16 little-endian mono at the
 * declared rate; JSON messages control the session and carry its events back (docs/protocol.md). A bad
 * message gets an `error` message and is dropped; the conversation carries on.
 */
export async function attachWebSocketClient(
  socket: WebSocket,
  session: AgentSession,
  options: WebSocketClientOptions = {},
): Promise<void> {
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
    onInputRate: (rate) => {
      inputRate = rate;
    },
  });
  const output = new StreamingAudioOutput({
    clock: session.clock,
    sink: new WebSocketAudioSink(socket, options.outputSampleRate ?? PIPELINE_SAMPLE_RATE),
    send,
    receipts,
    receiptTimeoutMs: options.receiptTimeoutMs,
  });
  const timeline = new ArrivalTimeline();

  const onAudio = (bytes: Buffer) => {
    const samples = int16FromBytes(bytes);
    if (samples.length === 0) throw new AudioFormatError('empty audio frame');
    const durationMs = (samples.length * 1000) / inputRate;
    if (durationMs > MAX_FRAME_MS) {
      throw new AudioFormatError(
        `audio frame of ${durationMs.toFixed(0)} ms at ${inputRate} Hz exceeds the ${MAX_FRAME_MS} ms limit; send 20 ms frames`,
      );
    }
    const timestampMs = timeline.stamp(session.clock.now(), durationMs);
    session.pushAudio({ samples, sampleRate: inputRate, timestampMs });
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    try {
      if (isBinary) onAudio(data instanceof Buffer ? data : Buffer.concat(data as Buffer[]));
      else bridge.handleText(data.toString());
    } catch (error) {
      bridge.sendError(error instanceof Error ? error.message : String(error));
    }
  });
  socket.on('close', () => {
    bridge.detach();
    output.destroy();
    void session.close();
  });
  await session.start(output);
  bridge.ready(inputRate, output.sampleRate);
}
