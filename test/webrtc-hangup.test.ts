import { afterEach, describe, expect, it } from 'vitest';
import { type RTCDataChannel, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { AgentSession } from '../src/agent/session.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import { ScriptedStt } from '../src/providers/stt/scripted.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import { EnergyVad } from '../src/providers/vad/energy.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Connects as the web page does: audio transceiver + `control` channel in one complete offer. */
async function connect(running: RunningServer) {
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
    },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  pc.addTransceiver('audio', { direction: 'sendrecv' });
  const channel: RTCDataChannel = pc.createDataChannel('control');
  let ready = false;
  channel.onMessage.subscribe((data) => {
    if (JSON.parse(data.toString()).type === 'ready') ready = true;
  });
  await pc.setLocalDescription(await pc.createOffer());
  await until(() => pc.iceGatheringState === 'complete', 10_000, 'ICE gathering');
  const response = await fetch(`${running.url}/rtc/offer`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp' },
    body: pc.localDescription!.sdp,
  });
  const answer = await response.text();
  expect(response.status, answer).toBe(201);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await until(() => ready, 15_000, 'ready on the control channel');
  return { pc, channel, location: response.headers.get('location')! };
}

describe('WebRTC hang-up', () => {
  it('a DELETE after the peer connection already closed the session is 204; an id never given out is 404', async () => {
    const clock = new MonotonicClock();
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      webRoot: false,
      createSession: async () =>
        new AgentSession({
          clock,
          vad: new EnergyVad(),
          stt: new ScriptedStt({ clock, words: [] }),
          llm: new ScriptedLlm({ clock, reply: () => 'Hi.' }),
          tts: new ScriptedTts({ clock, ttfbMs: 5, msPerCharacter: 20 }),
        }),
    });
    const client = await connect(server);
    expect(server.sessions()).toBe(1);
    // The page's order: the peer connection (its control channel with it, as a browser closes it) goes first,
    // the DELETE follows.
    client.channel.close();
    await until(() => server!.sessions() === 0, 15_000, 'the server to end the closed peer');
    await client.pc.close();
    await until(() => server!.sessions() === 0, 15_000, 'the server to end the closed peer');
    expect((await fetch(`${server.url}${client.location}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.url}/rtc/sessions/never-issued`, { method: 'DELETE' })).status).toBe(404);
  }, 60_000);
});
