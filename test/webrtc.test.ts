import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RTCDataChannel, RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import { AgentSession } from '../src/agent/session.ts';
import { concatSamples } from '../src/audio/frame.ts';
import { rmsDbfs } from '../src/audio/level.ts';
import { OPUS_FRAME_SAMPLES, OpusDecoder, OpusEncoder } from '../src/audio/opus.ts';
import { Resampler } from '../src/audio/resampler.ts';
import { readWavFile } from '../src/audio/wav.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import { PocketsphinxSTT } from '../src/providers/stt/pocketsphinx.ts';
import { createFliteTts } from '../src/providers/tts/flite.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import { EnergyVad } from '../src/providers/vad/energy.ts';
import { createSileroVad } from '../src/providers/vad/silero.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';

const CLIP = '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav';
const CLIP_WORDS = ['he', 'was', 'not', 'an', 'ill', 'disposed', 'young', 'man'];

let server: RunningServer | undefined;
let stt: PocketsphinxSTT | undefined;
beforeAll(() => {
  stt = new PocketsphinxSTT();
});
afterAll(() => stt?.dispose());
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A WebRTC client in Node, as a browser would be: microphone track + `control` channel in one offer. */
async function connectPeer(running: RunningServer, query = '') {
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
    },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const channel: RTCDataChannel = pc.createDataChannel('control');
  const messages: Record<string, unknown>[] = [];
  const decoder = new OpusDecoder();
  const received: Int16Array[] = [];
  let speechId: number | undefined;
  let started = false;
  let lastPacketAt = 0;
  const send = (message: object) => channel.send(JSON.stringify(message));
  channel.onMessage.subscribe((data) => {
    const message = JSON.parse(data.toString());
    messages.push(message);
    if (message.type === 'speech') {
      speechId = message.speechId;
      started = false;
    }
  });
  transceiver.onTrack.subscribe((track) =>
    track.onReceiveRtp.subscribe((rtp) => {
      received.push(decoder.decode(rtp.payload));
      lastPacketAt = performance.now();
      // Receipts, as a player would send them: heard on arrival (no jitter buffer here).
      if (speechId !== undefined && !started) {
        started = true;
        send({ type: 'playback', speechId, event: 'started' });
      }
    }),
  );
  const finishTimer = setInterval(() => {
    if (speechId !== undefined && started && performance.now() - lastPacketAt > 150) {
      send({ type: 'playback', speechId, event: 'finished' });
      speechId = undefined;
    }
  }, 20);

  await pc.setLocalDescription(await pc.createOffer());
  await until(() => pc.iceGatheringState === 'complete', 20_000, 'ICE gathering');
  const response = await fetch(`${running.url}/rtc/offer${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp' },
    body: pc.localDescription!.sdp,
  });
  const answer = await response.text();
  expect(response.status, answer).toBe(201);
  expect(response.headers.get('content-type')).toBe('application/sdp');
  const location = response.headers.get('location');
  expect(location).toMatch(/^\/rtc\/sessions\/[\w-]+$/);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  await until(() => messages.some((m) => m.type === 'ready'), 30_000, 'ready on the control channel');

  const encoder = new OpusEncoder();
  let sequenceNumber = 1000;
  let timestamp = 123_456;
  /** Streams 48 kHz PCM as 20 ms Opus packets in real time. */
  const speak = async (samples: Int16Array) => {
    const begin = performance.now();
    for (let offset = 0, n = 0; offset < samples.length; offset += OPUS_FRAME_SAMPLES, n++) {
      const frame = new Int16Array(OPUS_FRAME_SAMPLES);
      frame.set(samples.subarray(offset, offset + OPUS_FRAME_SAMPLES));
      const header = new RtpHeader({ payloadType: 96, sequenceNumber, timestamp, marker: n === 0 });
      sequenceNumber = (sequenceNumber + 1) & 0xffff;
      timestamp += OPUS_FRAME_SAMPLES;
      await transceiver.sender.sendRtp(new RtpPacket(header, Buffer.from(encoder.encode(frame))));
      const due = begin + (n + 1) * 20;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
    }
  };
  return {
    pc,
    channel,
    messages,
    received,
    speak,
    send,
    location: location!,
    close: async () => {
      clearInterval(finishTimer);
      await pc.close();
    },
  };
}

async function until(predicate: () => boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function clipAt48k(): Promise<Int16Array> {
  const wav = await readWavFile(CLIP);
  const speech = await Resampler.resampleClip(wav.samples, wav.sampleRate, 48_000);
  return concatSamples([new Int16Array(48_000 * 0.3), speech, new Int16Array(48_000 * 1.5)]);
}

describe('WebRTC transport', () => {
  it('hears real speech sent as Opus and answers with audible Opus speech, timed by receipts', async () => {
    const clock = new MonotonicClock();
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      webRoot: false,
      createSession: async () =>
        new AgentSession({
          clock,
          vad: createSileroVad(),
          stt: stt!,
          llm: new ScriptedLlm({ clock, reply: () => 'Hello from Repartee.' }),
          tts: createFliteTts(),
          // Long enough that the reader's pause before "ill disposed" does not end the turn.
          endpointing: { minDelayMs: 700 },
        }),
    });
    const client = await connectPeer(server);
    expect(client.messages.find((m) => m.type === 'ready')).toMatchObject({
      transport: 'webrtc',
      inputSampleRate: 48_000,
      outputSampleRate: 48_000,
    });
    await client.speak(await clipAt48k());
    const completed = () =>
      client.messages.find(
        (m) => m.type === 'metrics' && (m.metrics as { outcome: string }).outcome === 'completed',
      );
    await until(() => completed() !== undefined, 90_000, 'a completed turn');

    const finals = client.messages.filter((m) => m.type === 'transcript' && m.final).map((m) => m.text);
    const heard = finals.join(' ').toLowerCase().split(/\W+/);
    expect(CLIP_WORDS.filter((w) => heard.includes(w)).length, finals.join(' | ')).toBeGreaterThanOrEqual(4);
    expect(client.messages.some((m) => m.type === 'conversationItem' && m.role === 'user')).toBe(true);

    const reply = concatSamples(client.received);
    expect(reply.length).toBeGreaterThan(48_000 * 0.5);
    expect(rmsDbfs(reply)).toBeGreaterThan(-40);

    const metrics = (completed() as { metrics: Record<string, number> }).metrics;
    expect(metrics.voiceToVoiceMs).toBeGreaterThan(0);
    expect(metrics.transportMs).toBeGreaterThanOrEqual(0);
    const ended = client.messages.find((m) => m.type === 'speechEnded' && m.outcome === 'completed');
    expect(ended).toMatchObject({ outcome: 'completed', text: 'Hello from Repartee.' });

    expect(server.sessions()).toBe(1);
    const deleted = await fetch(`${server.url}${client.location}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    await until(() => server!.sessions() === 0, 20_000, 'the session to close');
    await client.close();
  }, 150_000);

  it('refuses malformed offers with 400 and a reason, leaves no session behind, and keeps serving', async () => {
    const clock = new MonotonicClock();
    const created: AgentSession[] = [];
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      webRoot: false,
      createSession: async () => {
        const session = new AgentSession({
          clock,
          vad: new EnergyVad(),
          stt: stt!,
          llm: new ScriptedLlm({ clock, reply: () => 'Typed and heard.' }),
          tts: new ScriptedTts({ clock, ttfbMs: 5, msPerCharacter: 20 }),
        });
        created.push(session);
        return session;
      },
    });
    const post = (body: string, type = 'application/sdp') =>
      fetch(`${server!.url}/rtc/offer`, { method: 'POST', headers: { 'content-type': type }, body });

    const garbage = await post('this is not sdp');
    expect(garbage.status).toBe(400);
    expect(garbage.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await garbage.text()).toMatch(/v=0/);

    const noChannel = await post(
      'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n',
    );
    expect(noChannel.status).toBe(400);
    expect(await noChannel.text()).toMatch(/data channel/);

    // Passes the cheap checks, then fails in the SDP parser: the session created for it is closed again.
    const broken = await post(
      'v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fingerprint:sha-256 00\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n',
    );
    expect(broken.status).toBe(400);
    expect((await broken.text()).length).toBeGreaterThan(0);

    expect((await post('v=0', 'text/plain')).status).toBe(415);
    expect((await fetch(`${server.url}/rtc/offer`)).status).toBe(405);
    expect((await fetch(`${server.url}/rtc/sessions/nope`, { method: 'DELETE' })).status).toBe(404);
    expect(server.sessions()).toBe(0);
    expect(created.length).toBe(1); // only the offer that got as far as the SDP parser
    expect(() =>
      created[0].pushAudio({ samples: new Int16Array(320), sampleRate: 16_000, timestampMs: 0 }),
    ).toThrow(/closed/);

    // A good client still gets a conversation: typed text over the control channel, audio back.
    const client = await connectPeer(server);
    client.send({ type: 'text', text: 'hello' });
    client.send({ type: 'dance' });
    await until(() => client.messages.some((m) => m.type === 'metrics'), 15_000, 'the typed turn');
    expect(client.messages.find((m) => m.type === 'error')?.message).toMatch(/unknown or malformed/);
    expect(rmsDbfs(concatSamples(client.received))).toBeGreaterThan(-40);
    await client.close();
  }, 60_000);

  it('needs the token when one is set, as the WebSocket does, and closes the session when the peer hangs up', async () => {
    const clock = new MonotonicClock();
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      token: 'sesame-4f9c2a71e8b35d06',
      webRoot: false,
      createSession: async () =>
        new AgentSession({
          clock,
          vad: new EnergyVad(),
          stt: stt!,
          llm: new ScriptedLlm({ clock, reply: () => 'ok' }),
          tts: new ScriptedTts({ clock }),
        }),
    });
    const refused = await fetch(`${server.url}/rtc/offer?token=wrong`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: 'v=0',
    });
    expect(refused.status).toBe(401);
    const client = await connectPeer(server, '?token=sesame-4f9c2a71e8b35d06');
    expect(server.sessions()).toBe(1);
    // A peer that hangs up (here: closes its control channel) ends its session.
    client.channel.close();
    await until(() => server!.sessions() === 0, 10_000, 'the session to close');
    await client.close();
  }, 30_000);
});
