// WebRTC transport (docs/protocol.md): the microphone track and a `control` data channel in one offer,
// POSTed whole (ICE gathering finished) to /rtc/offer; the agent's voice comes back as a remote track.
// Receipts come from watching that track's playout (rtc-playout.js).

import { tapMicrophone } from './audio.js';
import { createReceipts } from './receipts.js';
import { createRtcPlayout } from './rtc-playout.js';

const ICE_GATHERING_TIMEOUT_MS = 5000;
/** The server pings on the control channel every second; this long without one, it is gone. */
const SERVER_SILENCE_MS = 5000;

/**
 * Connects with an audio transceiver that has no track yet; `attachMicrophone(stream)` then puts the
 * microphone on it (no renegotiation). The page connects first and opens the microphone after, so nothing
 * said while connecting is lost.
 */
export async function connectWebRtc({ offerUrl, engine, debug, onMessage, onLevel, onClose }) {
  const { context } = engine;
  const pc = new RTCPeerConnection({ iceServers: [] });
  const channel = pc.createDataChannel('control', { ordered: true });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const send = (message) => {
    if (channel.readyState !== 'open') return;
    debug.logMessage('out', message);
    channel.send(JSON.stringify(message));
  };
  const receipts = createReceipts({ engine, debug, send });
  let mic;

  // Playout: an <audio> element plays the remote track (browsers echo-cancel against it, and Chromium only
  // feeds a remote track to Web Audio while an element plays it). The meter worklet listens to the same track
  // through a gate that mirrors the element's mute, so it measures what the speakers get. The browser's jitter
  // buffer cannot be flushed, so a `clear` mutes playout at once (the server has stopped sending; what is
  // still buffered is dropped unheard) until the next `speech`.
  const element = new Audio();
  element.autoplay = true;
  let meterSource;
  const gate = context.createGain();
  const meter = new AudioWorkletNode(context, 'repartee-meter', {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    processorOptions: { audibleDbfs: -50, silenceMs: 30 },
  });
  gate.connect(meter);
  meter.connect(context.destination);
  const setMuted = (muted) => {
    element.muted = muted;
    gate.gain.setValueAtTime(muted ? 0 : 1, context.currentTime);
  };
  pc.ontrack = ({ track, streams }) => {
    if (track.kind !== 'audio') return;
    const remote = streams[0] ?? new MediaStream([track]);
    element.srcObject = remote;
    element
      .play()
      .catch((error) =>
        onMessage({ type: 'error', message: `Cannot play the agent’s audio: ${error.message}` }),
      );
    meterSource?.disconnect();
    meterSource = context.createMediaStreamSource(remote);
    meterSource.connect(gate);
  };

  const tracker = createRtcPlayout({ receipts, debug, receiver: transceiver.receiver });
  meter.port.onmessage = ({ data }) => {
    if (data.stats) debug.rendered(data.stats, context.sampleRate);
    if (data.type === 'audible') tracker.audible();
    else if (data.type === 'silent') tracker.silent(data.quietMs);
  };

  let lastHeardAt = performance.now();
  let heardPing = false;
  channel.onmessage = ({ data }) => {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      onMessage({ type: 'error', message: 'the server sent a message that is not JSON' });
      return;
    }
    lastHeardAt = performance.now();
    // Liveness (docs/protocol.md): answered at once, and not shown in the debug log once a second.
    if (message.type === 'ping') {
      heardPing = true;
      if (channel.readyState === 'open') channel.send(JSON.stringify({ type: 'pong', t: message.t }));
      return;
    }
    debug.logMessage('in', message);
    if (message.type === 'speech') {
      setMuted(false);
      tracker.speech(message.speechId);
    } else if (message.type === 'clear') {
      setMuted(true);
      tracker.clear(message.speechId);
    }
    onMessage(message);
  };

  const opened = new Promise((resolve, reject) => {
    channel.onopen = resolve;
    channel.onerror = (event) =>
      reject(new Error(`The control channel failed: ${event.error?.message ?? 'error'}`));
  });
  let closed = false;
  // A server that stopped pinging (it died, the network went) is noticed in seconds, not when ICE gives up.
  // A server older than the heartbeat never pings and is never judged.
  const silenceCheck = setInterval(() => {
    if (!heardPing || closed || performance.now() - lastHeardAt < SERVER_SILENCE_MS) return;
    teardown();
    onClose('The server stopped answering.', { lost: true });
  }, 1000);
  const teardown = () => {
    if (closed) return;
    closed = true;
    clearInterval(silenceCheck);
    tracker.dispose();
    mic?.stop();
    meterSource?.disconnect();
    gate.disconnect();
    meter.disconnect();
    element.srcObject = null;
    pc.close();
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
      if (closed) return;
      teardown();
      onClose(`The WebRTC connection ${pc.connectionState}.`, { lost: pc.connectionState === 'failed' });
    }
  };
  channel.onclose = () => {
    if (closed) return;
    teardown();
    onClose('The server closed the conversation.');
  };

  let sessionUrl;
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc);
    const response = await fetch(offerUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    const body = await response.text();
    if (response.status !== 201 && response.status !== 200) {
      const reason =
        response.status === 401 ? 'a valid ?token= is needed' : body.trim() || response.statusText;
      throw new Error(`The server refused the WebRTC offer (${response.status}): ${reason}`);
    }
    const location = response.headers.get('location');
    if (location) sessionUrl = new URL(location, offerUrl).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    await withTimeout(opened, 10_000, 'The control channel did not open within 10 s.');
  } catch (error) {
    teardown();
    throw error;
  }

  return {
    transport: 'webrtc',
    send,
    async attachMicrophone(stream) {
      const [track] = stream.getAudioTracks();
      await transceiver.sender.replaceTrack(track);
      transceiver.sender.setStreams?.(stream);
      mic = tapMicrophone(engine, stream, {
        onLevel: (rms, peak) => {
          debug.micLevel(rms, peak);
          onLevel(rms);
        },
      });
    },
    close() {
      // The DELETE goes first, while the session is still there to end (after it the server answers 204 too).
      if (sessionUrl) fetch(sessionUrl, { method: 'DELETE', keepalive: true }).catch(() => {});
      teardown();
    },
  };
}

function iceGatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ICE_GATHERING_TIMEOUT_MS); // send what was gathered; loopback is enough
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
