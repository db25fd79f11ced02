import { afterEach, describe, expect, it } from 'vitest';
import { type RTCDataChannel, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { AgentSession } from '../../agent/session.ts';
import { MonotonicClock } from '../../metrics/clock.ts';
import { ScriptedLlm } from '../../providers/llm/scripted.ts';
import { ScriptedStt } from '../../providers/stt/scripted.ts';
import { ScriptedTts } from '../../providers/tts/scripted.ts';
import { ScriptedVad } from '../../providers/vad/scripted.ts';
import { WebRtcConnection } from './peer.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A werift peer talking to a WebRtcConnection as a browser would; `answering` decides whether it pongs. */
async function connect(answering: { pongs: boolean }) {
  const clock = new MonotonicClock();
  const session = new AgentSession({
    vad: new ScriptedVad({ speech: [] }),
    stt: new ScriptedStt({ clock, words: [] }),
    llm: new ScriptedLlm({ clock, reply: () => 'hi' }),
    tts: new ScriptedTts({ clock }),
    clock,
    providerFailure: { presynthesizeApology: false },
  });
  const drops: string[] = [];
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
    },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  pc.addTransceiver('audio', { direction: 'sendrecv' });
  const channel: RTCDataChannel = pc.createDataChannel('control');
  const types: string[] = [];
  let pings = 0;
  channel.onMessage.subscribe((data) => {
    const message = JSON.parse(data.toString());
    types.push(message.type);
    if (message.type !== 'ping') return;
    pings++;
    if (answering.pongs) channel.send(JSON.stringify({ type: 'pong', t: message.t }));
  });
  await pc.setLocalDescription(await pc.createOffer());
  await waitUntil('ICE gathering', () => pc.iceGatheringState === 'complete');
  const { connection, answerSdp } = await WebRtcConnection.answer(pc.localDescription?.sdp ?? '', session, {
    onDropped: ({ reason }) => drops.push(reason),
  });
  let closed = false;
  void connection.closed.then(() => {
    closed = true;
  });
  await pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
  await waitUntil('ready', () => types.includes('ready'));
  cleanups.push(async () => {
    await connection.close();
    await pc.close();
  });
  return { connection, drops, pings: () => pings, isClosed: () => closed, state: () => session.state };
}

describe('WebRTC control-channel heartbeat', () => {
  it('a peer that answered pings and then goes silent is ended within a few seconds', async () => {
    const answering = { pongs: true };
    const peer = await connect(answering);
    await waitUntil('two answered pings', () => peer.pings() >= 2);
    expect(peer.isClosed()).toBe(false);
    const silentFrom = Date.now();
    answering.pongs = false; // the page froze or the network went away; ICE has not noticed yet
    await waitUntil('the silent peer ended', () => peer.isClosed());
    const endedAfterMs = Date.now() - silentFrom;
    expect(peer.drops[0]).toMatch(/no heartbeat on the control channel for \d+ ms/);
    expect(peer.state()).toBe('idle'); // the session is closed
    console.log(`a silent WebRTC peer was ended ${endedAfterMs} ms after its last pong`);
  }, 30_000);

  it('an older client that never answers pings keeps its session', async () => {
    const peer = await connect({ pongs: false });
    await waitUntil('four unanswered pings', () => peer.pings() >= 4);
    expect(peer.isClosed()).toBe(false);
    expect(peer.drops).toEqual([]);
  }, 30_000);
});
