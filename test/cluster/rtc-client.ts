/**
 * A WebRTC client in Node, as the page is: a microphone track and the `control` channel in one offer, receipts
 * for what it plays, a conversation id on the offer, and the page's rule for a dead server: the server pings on
 * the control channel every second; this long without hearing anything, it is gone.
 */
import { type RTCDataChannel, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { waitFor } from './harness.ts';

export const SERVER_SILENCE_MS = 2_500;

export interface RtcConversation {
  messages: Record<string, unknown>[];
  worker: string;
  location: string;
  packets(): number;
  /** When the client judged the server gone (no message for SERVER_SILENCE_MS), or undefined. */
  lostAt(): number | undefined;
  say(text: string, timeoutMs?: number): Promise<{ reply: string; packets: number }>;
  close(): Promise<void>;
}

export async function connectRtc(baseUrl: string, conversationId: string): Promise<RtcConversation> {
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
    },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const channel: RTCDataChannel = pc.createDataChannel('control');
  const messages: Record<string, unknown>[] = [];
  let packets = 0;
  let speechId: number | undefined;
  let started = false;
  let lastPacketAt = 0;
  let lastHeardAt = performance.now();
  let lost: number | undefined;
  const send = (message: object) => {
    if (channel.readyState === 'open') channel.send(JSON.stringify(message));
  };
  channel.onMessage.subscribe((data) => {
    lastHeardAt = performance.now();
    const message = JSON.parse(data.toString());
    messages.push(message);
    if (message.type === 'ping') send({ type: 'pong', t: message.t });
    if (message.type === 'speech') {
      speechId = message.speechId;
      started = false;
    }
  });
  transceiver.onTrack.subscribe((track) =>
    track.onReceiveRtp.subscribe(() => {
      packets++;
      lastPacketAt = performance.now();
      if (speechId !== undefined && !started) {
        started = true;
        send({ type: 'playback', speechId, event: 'started' });
      }
    }),
  );
  const timer = setInterval(() => {
    const now = performance.now();
    if (speechId !== undefined && started && now - lastPacketAt > 150) {
      send({ type: 'playback', speechId, event: 'finished' });
      speechId = undefined;
    }
    if (
      lost === undefined &&
      messages.some((m) => m.type === 'ready') &&
      now - lastHeardAt > SERVER_SILENCE_MS
    )
      lost = now;
  }, 20);
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await waitFor('ICE gathering', () => pc.iceGatheringState === 'complete', 20_000);
    const response = await fetch(`${baseUrl}/rtc/offer?conversation=${conversationId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: pc.localDescription?.sdp,
    });
    const answer = await response.text();
    if (response.status !== 201) throw new Error(`offer refused: ${response.status} ${answer}`);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    await waitFor('ready on the control channel', () => messages.some((m) => m.type === 'ready'), 60_000);
    return {
      messages,
      worker: response.headers.get('x-repartee-worker') ?? '',
      location: response.headers.get('location') ?? '',
      packets: () => packets,
      lostAt: () => lost,
      say: async (text, timeoutMs = 120_000) => {
        const from = messages.length;
        const before = packets;
        send({ type: 'text', text });
        await waitFor(
          `a reply to "${text}"`,
          () => messages.slice(from).some((m) => m.type === 'speechEnded'),
          timeoutMs,
        );
        const ended = messages.slice(from).find((m) => m.type === 'speechEnded');
        return { reply: String(ended?.text ?? ''), packets: packets - before };
      },
      close: async () => {
        clearInterval(timer);
        await pc.close();
      },
    };
  } catch (error) {
    clearInterval(timer);
    await pc.close();
    throw error;
  }
}
