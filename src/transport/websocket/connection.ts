import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import type { AgentSession } from '../../agent/session.ts';
import {
  AudioFormatError,
  DEFAULT_FRAME_MS,
  int16FromBytes,
  PIPELINE_SAMPLE_RATE,
} from '../../audio/frame.ts';
import { WebSocketAudioOutput } from './output.ts';

const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('config'), sampleRate: z.number().int() }),
  z.object({ type: z.literal('text'), text: z.string().min(1).max(10_000) }),
  z.object({ type: z.literal('interrupt') }),
]);

/**
 * Adapts one WebSocket client to one AgentSession. Binary messages are PCM16 little-endian mono at the
 * declared rate; JSON messages control the session and carry its events back. A bad message gets an `error`
 * message and is dropped; the conversation carries on.
 */
export async function attachWebSocketClient(socket: WebSocket, session: AgentSession): Promise<void> {
  const output = new WebSocketAudioOutput(socket, session.clock, PIPELINE_SAMPLE_RATE);
  const send = (message: object) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const sendError = (message: string) => send({ type: 'error', message });
  let inputRate = PIPELINE_SAMPLE_RATE;
  let streamEndMs: number | undefined;

  session.on('state', ({ state }) => send({ type: 'state', state }));
  session.on('transcript', ({ text, final }) => send({ type: 'transcript', text, final }));
  session.on('speechEnded', ({ speechId, outcome, heardText }) =>
    send({ type: 'speechEnded', speechId, outcome, text: heardText }),
  );
  session.on('metrics', (metrics) => send({ type: 'metrics', metrics }));
  session.on('error', ({ source, error }) => send({ type: 'error', source, message: error.message }));

  socket.on('message', (data: RawData, isBinary: boolean) => {
    try {
      if (isBinary) {
        const bytes = data instanceof Buffer ? data : Buffer.concat(data as Buffer[]);
        const samples = int16FromBytes(bytes);
        const durationMs = (samples.length * 1000) / inputRate;
        // Stamped on arrival: contiguous while the stream is real time, re-anchored after a gap or a burst.
        const now = session.clock.now();
        const expected = now - durationMs;
        const timestampMs =
          streamEndMs !== undefined && Math.abs(streamEndMs - expected) <= 4 * DEFAULT_FRAME_MS
            ? streamEndMs
            : expected;
        streamEndMs = timestampMs + durationMs;
        session.pushAudio({ samples, sampleRate: inputRate, timestampMs });
        return;
      }
      const parsed = ClientMessage.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) {
        sendError(`unknown or malformed message: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
        return;
      }
      const message = parsed.data;
      if (message.type === 'config') {
        if (![8000, 16000, 24000, 44100, 48000].includes(message.sampleRate)) {
          sendError(`unsupported sampleRate ${message.sampleRate}`);
          return;
        }
        inputRate = message.sampleRate;
      } else if (message.type === 'text') session.sendText(message.text);
      else session.interrupt();
    } catch (error) {
      sendError(
        error instanceof AudioFormatError || error instanceof SyntaxError ? error.message : String(error),
      );
    }
  });
  socket.on('close', () => {
    output.destroy();
    void session.close();
  });
  await session.start(output);
  send({
    type: 'ready',
    sessionId: session.id,
    inputSampleRate: inputRate,
    outputSampleRate: output.sampleRate,
  });
}
