// The talk page: one click opens the microphone and a conversation over WebRTC (default) or WebSocket.

import { createAudioEngine, openMicrophone } from './audio.js';
import { createDebugState, exposeDebug } from './debug.js';
import { showSetupNotice } from './setup-notice.js';
import {
  agentStateView,
  conversationView,
  errorsView,
  micMeterView,
  transcriptView,
  turnsView,
} from './views.js';
import { connectWebRtc } from './webrtc-transport.js';
import { connectWebSocket } from './websocket-transport.js';

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
const token = params.get('token');

const debug = createDebugState();
exposeDebug(debug);
const views = {
  state: agentStateView($('#agent-state')),
  mic: micMeterView($('#mic-level')),
  transcript: transcriptView($('#transcript')),
  conversation: conversationView($('#conversation')),
  errors: errorsView($('#errors')),
  turns: turnsView($('#turns'), $('#no-turns')),
};
const talkButton = $('#talk');
const talkLabel = talkButton.querySelector('.talk-label');
const connectionLabel = $('#connection');
const textInput = $('#text-input');
const textSend = $('#text-send');
const transportInputs = [...document.querySelectorAll('input[name="transport"]')];

const requested = params.get('transport');
for (const input of transportInputs) if (input.value === requested) input.checked = true;

/** The live conversation: { engine, stream, link, transport }, or null. */
let live = null;
let starting = false;
/**
 * The conversation's id, sent on every (re)connection: a page whose server (worker) dies reconnects with it and
 * resumes the conversation, history included, on another worker. A new one per "Start talking".
 */
let conversationId = null;
/** Reconnection after the server was lost: a few tries with growing pauses, then the page gives up. */
const RECONNECT_DELAYS_MS = [0, 500, 1000, 2000, 4000, 8000];
let reconnects = 0;

talkButton.addEventListener('click', () => {
  if (starting) return;
  if (live) stop(null);
  else void start();
});

$('#text-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  if (!text || !live) return;
  live.link.send({ type: 'text', text });
  textInput.value = '';
});

window.addEventListener('pagehide', () => live && stop(null));

// Without a model the server says so once, here (and the agent speaks it), instead of an error per turn.
void showSetupNotice($('#setup-notice'), (path) => endpoint(path, 'http')).then((status) =>
  debug.set({ setup: status ? { llm: status.llm, online: status.online ?? null } : null }),
);

async function start() {
  starting = true;
  const transport = transportInputs.find((input) => input.checked)?.value ?? 'webrtc';
  setUi('connecting', transport);
  views.errors.clear();
  let engine;
  let stream;
  let link;
  conversationId = crypto.randomUUID();
  try {
    engine = await createAudioEngine();
    link = await connectLink(transport, engine);
    stream = await openMicrophone();
    await link.attachMicrophone(stream);
    live = { engine, stream, link, transport };
    debug.set({ transport, connected: true });
    setUi('connected', transport);
  } catch (error) {
    link?.close();
    for (const track of stream?.getTracks() ?? []) track.stop();
    engine?.close();
    views.errors.show(error.message);
    debug.error(error.message);
    setUi('idle');
  } finally {
    starting = false;
  }
}

/** One connection of the conversation; a lost server (not a refusal, not our hang-up) starts a reconnect. */
function connectLink(transport, engine) {
  const common = {
    engine,
    debug,
    onMessage,
    onLevel: (rms) => views.mic.set(rms),
    onClose: (reason, { lost = false } = {}) => (lost && live ? void reconnect(reason) : stop(reason)),
  };
  return transport === 'webrtc'
    ? connectWebRtc({ ...common, offerUrl: endpoint('/rtc/offer', 'http') })
    : connectWebSocket({ ...common, url: endpoint('/ws', 'ws') });
}

/** The server went away mid-conversation: "reconnecting", then the same conversation on whichever server answers. */
async function reconnect(reason) {
  const current = live;
  if (!current || current.reconnecting) return;
  current.reconnecting = true;
  current.link.close();
  setUi('reconnecting', current.transport);
  debug.error(`${reason} Reconnecting…`);
  for (const delay of RECONNECT_DELAYS_MS) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (live !== current) return; // the user ended it meanwhile
    try {
      const link = await connectLink(current.transport, current.engine);
      if (live !== current) return link.close();
      await link.attachMicrophone(current.stream);
      current.link = link;
      current.reconnecting = false;
      reconnects++;
      debug.set({ reconnects, conversationId });
      setUi('connected', current.transport);
      return;
    } catch (error) {
      debug.error(`reconnect: ${error.message}`);
    }
  }
  current.reconnecting = false;
  stop(`${reason} Reconnecting failed.`);
}

function stop(reason) {
  if (!live) return;
  const { engine, stream, link } = live;
  live = null;
  link.close();
  for (const track of stream.getTracks()) track.stop();
  engine.close();
  if (reason) {
    views.errors.show(reason);
    debug.error(reason);
  }
  debug.set({ connected: false });
  views.mic.set(0);
  setUi('idle');
}

function onMessage(message) {
  switch (message.type) {
    case 'ready':
      debug.set({ sessionId: message.sessionId });
      connectionLabel.textContent = `Connected over ${message.transport === 'websocket' ? 'WebSocket' : 'WebRTC'}`;
      connectionLabel.title = `session ${message.sessionId}`;
      break;
    case 'state':
      views.state.set(message.state);
      debug.set({ agentState: message.state });
      break;
    case 'transcript':
      views.transcript.update(String(message.text ?? ''), Boolean(message.final));
      break;
    case 'agentText':
      views.conversation.speak(message.speechId, String(message.text ?? ''));
      break;
    case 'conversationItem':
      views.conversation.add(message);
      if (message.role === 'user') views.transcript.commit();
      break;
    case 'metrics':
      if (message.metrics) views.turns.add(message.metrics);
      break;
    case 'error':
      views.errors.show(String(message.message ?? 'unknown error'), message.source);
      debug.error(String(message.message));
      break;
    case 'authorization':
      views.errors.authorization(String(message.server ?? 'A tool server'), String(message.url ?? ''));
      break;
    // speech, clear and speechEnded drive playout inside the transports; newer message types are ignored.
  }
}

/** An endpoint on this page's server, carrying the page's ?token= along. */
function endpoint(path, scheme) {
  const url = new URL(path, location.href);
  if (conversationId) url.searchParams.set('conversation', conversationId);
  if (scheme === 'ws') url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (token) url.searchParams.set('token', token);
  return url.href;
}

function setUi(phase, transport) {
  const connected = phase === 'connected';
  document.body.dataset.phase = phase;
  talkButton.classList.toggle('live', connected);
  talkButton.setAttribute('aria-pressed', String(connected));
  talkButton.disabled = phase === 'connecting';
  talkLabel.textContent =
    connected || phase === 'reconnecting'
      ? 'End conversation'
      : phase === 'connecting'
        ? 'Connecting…'
        : 'Start talking';
  for (const input of transportInputs) input.disabled = phase !== 'idle';
  textInput.disabled = !connected;
  textSend.disabled = !connected;
  textInput.placeholder = connected
    ? 'Type a message instead of speaking'
    : 'Start a conversation to type instead';
  if (phase === 'reconnecting') {
    connectionLabel.textContent = 'Reconnecting…';
    views.state.set('reconnecting');
  } else if (phase === 'connecting') {
    connectionLabel.textContent = `Connecting over ${transport === 'websocket' ? 'WebSocket' : 'WebRTC'}…`;
    views.state.set('connecting');
  } else if (phase === 'idle') {
    connectionLabel.textContent = 'Not connected';
    views.state.set('idle');
  } else if (connectionLabel.textContent.startsWith('Connecting')) {
    connectionLabel.textContent = `Connected over ${transport === 'websocket' ? 'WebSocket' : 'WebRTC'}`;
  }
}
