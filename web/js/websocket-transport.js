// WebSocket transport (docs/protocol.md): microphone PCM16 out at the context rate, the agent's PCM16 in,
// played by the `repartee-player` worklet, with playback receipts.

import { captureRate, tapMicrophone } from './audio.js';
import { createReceipts } from './receipts.js';

/** The page pings the server this often (browsers cannot send WebSocket pings; the server answers `pong`)… */
const PING_INTERVAL_MS = 2000;
/** …and gives up on a server it has heard nothing from for this long. */
const SERVER_SILENCE_MS = 6000;

/**
 * Opens the socket and announces the capture rate; `attachMicrophone(stream)` then starts sending. The page
 * connects first and opens the microphone after, so nothing said while connecting is lost.
 */
export async function connectWebSocket({ url, engine, debug, onMessage, onLevel, onClose }) {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const send = (message) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    debug.logMessage('out', message);
    socket.send(JSON.stringify(message));
  };
  const receipts = createReceipts({ engine, debug, send });
  const { context } = engine;

  const player = new AudioWorkletNode(engine.context, 'repartee-player', {
    numberOfInputs: 0,
    numberOfOutputs: 1,
    outputChannelCount: [1],
  });
  player.connect(context.destination);
  /** The speech the incoming audio belongs to; null after a `clear` until the next `speech`. */
  let currentSpeechId = null;
  const framesToMs = (frames) => (frames / context.sampleRate) * 1000;
  player.port.onmessage = ({ data }) => {
    if (data.stats) debug.rendered(data.stats, context.sampleRate);
    if (data.type === 'started') receipts.started(data.speechId);
    else if (data.type === 'cleared') receipts.stopped(data.speechId, framesToMs(data.playedFrames));
    // Played all it received so far. If more of the speech comes (the buffer ran dry mid-speech), it plays on
    // and another `finished` follows; the server only takes one that covers everything it sent.
    else if (data.type === 'drained') receipts.finished(data.speechId, framesToMs(data.playedFrames));
  };

  let mic;
  let lastHeardAt = performance.now();
  let pingTimer;
  socket.onmessage = ({ data }) => {
    lastHeardAt = performance.now();
    if (data instanceof ArrayBuffer) {
      const samples = new Int16Array(data);
      debug.received(samples);
      if (currentSpeechId === null) return; // audio of a speech already cleared
      player.port.postMessage({ type: 'audio', speechId: currentSpeechId, samples }, [samples.buffer]);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      onMessage({ type: 'error', message: 'the server sent a message that is not JSON' });
      return;
    }
    if (message.type === 'pong') return; // liveness only (docs/protocol.md)
    debug.logMessage('in', message);
    if (message.type === 'ready') {
      player.port.postMessage({ type: 'format', sampleRate: message.outputSampleRate });
    } else if (message.type === 'speech') {
      currentSpeechId = message.speechId;
      debug.announced();
    } else if (message.type === 'clear') {
      const speechId = message.speechId ?? currentSpeechId;
      currentSpeechId = null;
      debug.cleared(speechId, performance.now());
      player.port.postMessage({ type: 'clear', speechId });
    }
    onMessage(message);
  };

  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    const failed = () =>
      reject(
        new Error('The WebSocket connection failed: is the server running, and is the page’s ?token= right?'),
      );
    socket.onerror = failed;
    socket.onclose = failed;
  });
  socket.onerror = null;
  // Closing from this side unhooks this first, so any close that gets here came from the server or network.
  socket.onclose = (event) => {
    teardown();
    // The worker died or went away (no close handshake, going away, restarting): worth reconnecting.
    onClose(closeReason(event), { lost: [1001, 1006, 1012, 1013].includes(event.code) });
  };
  send({ type: 'config', sampleRate: captureRate(engine), receipts: true });
  // The page comes from the server it talks to, so the server always knows `ping`; any message counts as heard.
  pingTimer = setInterval(() => {
    if (performance.now() - lastHeardAt > SERVER_SILENCE_MS) {
      socket.onclose = null;
      teardown();
      socket.close(4000, 'server silent');
      onClose('The server stopped answering.', { lost: true });
      return;
    }
    if (socket.readyState === WebSocket.OPEN)
      socket.send(JSON.stringify({ type: 'ping', t: performance.now() }));
  }, PING_INTERVAL_MS);

  function teardown() {
    clearInterval(pingTimer);
    mic?.stop();
    player.disconnect();
  }

  return {
    transport: 'websocket',
    send,
    attachMicrophone(stream) {
      mic = tapMicrophone(engine, stream, {
        onLevel: (rms, peak) => {
          debug.micLevel(rms, peak);
          onLevel(rms);
        },
        onFrame: (samples) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          socket.send(samples.buffer);
          debug.micFrameSent();
        },
      });
      mic.startSending();
    },
    close() {
      socket.onclose = null;
      teardown();
      socket.close(1000, 'conversation ended');
    },
  };
}

function closeReason(event) {
  if (event.code === 1000 || event.code === 1001) return 'The server ended the conversation.';
  if (event.reason) return `The connection closed: ${event.reason} (code ${event.code}).`;
  return `The connection closed (code ${event.code}).`;
}
