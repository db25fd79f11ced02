// The page's one AudioContext, its worklets, and the microphone.

/** Input rates the server accepts (`config.sampleRate`, docs/protocol.md). */
export const SERVER_INPUT_RATES = [8000, 16000, 24000, 44100, 48000];

const WORKLETS = ['capture', 'player', 'meter'];

/** Created inside the click that starts a conversation, so autoplay policies let it run. */
export async function createAudioEngine() {
  const AudioContextClass = window.AudioContext ?? window.webkitAudioContext;
  if (!AudioContextClass) throw new Error('This browser has no Web Audio support.');
  const context = new AudioContextClass({ latencyHint: 'interactive' });
  if (!context.audioWorklet)
    throw new Error('This browser has no AudioWorklet support (a secure context is needed).');
  const base = new URL('../worklets/', import.meta.url);
  await Promise.all(WORKLETS.map((name) => context.audioWorklet.addModule(new URL(`${name}.js`, base))));
  if (context.state !== 'running') await context.resume();
  return {
    context,
    /** From the moment a sample is rendered to when it reaches the speakers, in ms (0 where unknown). */
    earDelayMs() {
      const seconds = (context.baseLatency ?? 0) + (context.outputLatency ?? 0);
      return Math.min(200, Math.max(0, seconds * 1000));
    },
    close: () => context.close().catch(() => {}),
  };
}

/** Asks for the microphone with the processing a conversation wants (echo cancellation above all). */
export async function openMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('No microphone access here: open the page over http://127.0.0.1 or https.');
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    });
  } catch (error) {
    const reason =
      error?.name === 'NotAllowedError' ? 'permission was denied' : (error?.message ?? String(error));
    throw new Error(`Cannot open the microphone: ${reason}.`);
  }
}

/** The rate microphone audio is sent at over the WebSocket: the context's own where the server takes it. */
export function captureRate(engine) {
  const { sampleRate } = engine.context;
  return SERVER_INPUT_RATES.includes(sampleRate) ? sampleRate : 16000;
}

/**
 * Taps the microphone on the audio thread: `onLevel(rms, peak)` every 50 ms and, once `startSending()` is
 * called, `onFrame(Int16Array)` with 20 ms PCM16 frames at `rate`.
 */
export function tapMicrophone(engine, stream, { onLevel, onFrame }) {
  const { context } = engine;
  const rate = captureRate(engine);
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, 'repartee-capture', {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    processorOptions: { targetRate: rate },
  });
  node.port.onmessage = ({ data }) => {
    if (data.type === 'level') onLevel?.(data.rms, data.peak);
    else if (data.type === 'frame') onFrame?.(data.samples);
  };
  source.connect(node);
  // The node writes nothing to its output; connecting it keeps the graph pulling it in every browser.
  node.connect(context.destination);
  return {
    rate,
    startSending: () => node.port.postMessage({ type: 'send', enabled: true }),
    stop() {
      node.port.postMessage({ type: 'send', enabled: false });
      source.disconnect();
      node.disconnect();
    },
  };
}
