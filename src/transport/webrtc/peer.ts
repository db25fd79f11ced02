import { type RTCDataChannel, RTCPeerConnection, RTCRtpCodecParameters, type RtpPacket } from 'werift';
import type { AgentSession } from '../../agent/session.ts';
import { OPUS_SAMPLE_RATE } from '../../audio/opus.ts';
import { definedOnly } from '../../util/defined.ts';
import { ProtocolBridge } from '../bridge.ts';
import { DEFAULT_HEARTBEAT, Heartbeat } from '../heartbeat.ts';
import { InputBudget, type InputBudgetOptions } from '../input-budget.ts';
import { StreamingAudioOutput } from '../playout.ts';
import type { AuthorizationLinks, ServerMessage } from '../protocol.ts';
import { PlaybackReceipts } from '../receipts.ts';
import { RtpAudioInput } from './rtp-input.ts';
import { OpusRtpSink } from './rtp-sink.ts';

export interface WebRtcOptions extends InputBudgetOptions {
  /** Tool servers waiting for the user to authorise them (OAuth): the page is sent their links. */
  authorizations?: AuthorizationLinks;
  /** Host addresses offered as ICE candidates besides the machine's interfaces; loopback for a local browser. */
  iceAdditionalHostAddresses?: string[];
  /** STUN/TURN servers (e.g. coturn) for peers behind NAT: `{ urls: 'turn:host:3478', username, credential }`. */
  iceServers?: { urls: string; username?: string; credential?: string }[];
  /** The UDP ports ICE binds, [min, max] (min < max), to open in a firewall; undefined: any free port. */
  icePortRange?: [number, number];
  /** A peer whose control channel is not open this long after the answer is given up. */
  connectTimeoutMs?: number;
  /** A peer that stays `disconnected` this long is closed (`failed` or `closed` close it at once). */
  disconnectGraceMs?: number;
  /** ICE gathering is complete long before this on one host; past it the answer goes with what it has. */
  gatheringTimeoutMs?: number;
  /** Audio is sent this far ahead of real time into the browser's jitter buffer. */
  sendAheadMs?: number;
  /** How long to wait for a `started` or `stopped` receipt before falling back to the send-side estimate. */
  receiptTimeoutMs?: number;
  /** The server sends a `ping` on the control channel this often. */
  heartbeatIntervalMs?: number;
  /**
   * A client that has answered a `ping` and then is silent this long on the control channel is gone: its
   * session ends. A client that never answers (older than the heartbeat) is judged by ICE alone.
   */
  heartbeatTimeoutMs?: number;
  /** The server ended a peer (heartbeat lost, flooding, a session that could not start): log it here. */
  onDropped?(drop: { sessionId: string; reason: string }): void;
}

type WebRtcSettings = Required<
  Omit<
    WebRtcOptions,
    'onDropped' | 'iceServers' | 'icePortRange' | 'authorizations' | keyof InputBudgetOptions
  >
> &
  Pick<WebRtcOptions, 'iceServers' | 'icePortRange' | 'authorizations'>;

export const DEFAULT_WEBRTC_OPTIONS: WebRtcSettings = {
  iceAdditionalHostAddresses: ['127.0.0.1'],
  connectTimeoutMs: 15_000,
  disconnectGraceMs: 5_000,
  gatheringTimeoutMs: 5_000,
  sendAheadMs: 40,
  receiptTimeoutMs: 1_000,
  heartbeatIntervalMs: DEFAULT_HEARTBEAT.intervalMs,
  heartbeatTimeoutMs: DEFAULT_HEARTBEAT.timeoutMs,
};

export const CONTROL_CHANNEL_LABEL = 'control';

/** The offer cannot be answered: the client gets a 400 with the message. */
export class OfferError extends Error {
  override readonly name = 'OfferError';
}

const MAX_OFFER_BYTES = 64 * 1024;

/** Cheap checks before werift parses the SDP: a clear reason for the common mistakes. */
export function checkOffer(sdp: string): void {
  if (sdp.length === 0) throw new OfferError('empty body: POST the SDP offer as application/sdp');
  if (sdp.length > MAX_OFFER_BYTES) throw new OfferError(`offer larger than ${MAX_OFFER_BYTES} bytes`);
  if (!sdp.startsWith('v=0')) throw new OfferError('not an SDP offer: it must start with "v=0"');
  if (!/^m=audio /m.test(sdp)) throw new OfferError('the offer has no audio section (m=audio)');
  if (!/^m=application .*webrtc-datachannel/m.test(sdp)) {
    throw new OfferError(
      `the offer has no data channel: create the "${CONTROL_CHANNEL_LABEL}" channel before the offer`,
    );
  }
  if (!/^a=rtpmap:\d+ opus\/48000/im.test(sdp)) throw new OfferError('the offer does not include Opus audio');
  if (!/^a=fingerprint:/m.test(sdp)) throw new OfferError('the offer has no DTLS fingerprint');
}

/**
 * One browser (or any WebRTC peer) talking to one AgentSession: its microphone track in, the agent's speech
 * out as an Opus track, the client protocol's JSON on the `control` data channel. The session starts when
 * the control channel opens and closes when the peer disconnects, fails or is closed.
 */
export class WebRtcConnection {
  readonly closed: Promise<void>;
  private readonly pc: RTCPeerConnection;
  private readonly receipts: PlaybackReceipts;
  private readonly bridge: ProtocolBridge;
  private readonly output: StreamingAudioOutput;
  private input: RtpAudioInput | undefined;
  private channel: RTCDataChannel | undefined;
  private started = false;
  private isClosed = false;
  private resolveClosed!: () => void;
  private cancelConnectTimeout: (() => void) | undefined;
  private cancelDisconnectGrace: (() => void) | undefined;
  private inputErrors = 0;
  private heartbeat: Heartbeat | undefined;
  private readonly budget: InputBudget;

  private constructor(
    private readonly session: AgentSession,
    private readonly options: WebRtcSettings,
    private readonly given: WebRtcOptions,
  ) {
    this.budget = new InputBudget(() => session.clock.now(), given);
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.pc = new RTCPeerConnection({
      codecs: {
        audio: [
          new RTCRtpCodecParameters({
            mimeType: 'audio/opus',
            clockRate: OPUS_SAMPLE_RATE,
            channels: 2,
            parameters: 'minptime=10;useinbandfec=1',
          }),
        ],
      },
      iceAdditionalHostAddresses: options.iceAdditionalHostAddresses,
      ...(options.iceServers ? { iceServers: options.iceServers } : {}),
      ...(options.icePortRange ? { icePortRange: options.icePortRange } : {}),
    });
    this.receipts = new PlaybackReceipts(session.clock, true); // a WebRTC client always sends receipts
    this.bridge = new ProtocolBridge({
      session,
      transport: 'webrtc',
      send: (m) => this.send(m),
      receipts: this.receipts,
      authorizations: options.authorizations,
      onPong: () => this.heartbeat?.pong(),
    });
    const transceiver = this.pc.addTransceiver('audio', { direction: 'sendrecv' });
    const sink = new OpusRtpSink(
      transceiver.sender,
      // Closed only for good: during a transient `disconnected` the paced playout carries on (that audio is
      // lost, as on any live call) instead of stopping, and the disconnect grace decides whether the peer is gone.
      () => !this.isClosed && this.pc.connectionState !== 'failed' && this.pc.connectionState !== 'closed',
      (error) => this.bridge.sendError(`sending audio failed: ${error.message}`),
    );
    this.output = new StreamingAudioOutput({
      clock: session.clock,
      sink,
      send: (m) => this.send(m),
      receipts: this.receipts,
      sendAheadMs: options.sendAheadMs,
      receiptTimeoutMs: options.receiptTimeoutMs,
    });
    transceiver.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((packet) => this.onRtp(packet));
    });
    this.pc.onDataChannel.subscribe((channel) => this.onDataChannel(channel));
    this.pc.connectionStateChange.subscribe((state) => this.onConnectionState(state));
  }

  /**
   * Answers `offerSdp` (ICE gathering complete, no trickle). Throws OfferError for an offer it cannot take,
   * having closed the session: nothing is left behind.
   */
  static async answer(
    offerSdp: string,
    session: AgentSession,
    options: WebRtcOptions = {},
  ): Promise<{ connection: WebRtcConnection; answerSdp: string }> {
    const settings = { ...DEFAULT_WEBRTC_OPTIONS, ...definedOnly(options) } as WebRtcSettings;
    const connection = new WebRtcConnection(session, settings, options);
    try {
      checkOffer(offerSdp);
      const answerSdp = await connection.negotiate(offerSdp);
      connection.input = await RtpAudioInput.create((frame) => connection.pushAudio(frame));
      connection.cancelConnectTimeout = session.clock.schedule(connection.options.connectTimeoutMs, () => {
        if (!connection.started) void connection.close();
      });
      return { connection, answerSdp };
    } catch (error) {
      await connection.close();
      if (error instanceof OfferError) throw error;
      throw new OfferError(
        `cannot answer the offer: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  get sessionId(): string {
    return this.session.id;
  }

  /** Ends the conversation: the peer connection and the session. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return this.closed;
    this.isClosed = true;
    this.heartbeat?.stop();
    this.cancelConnectTimeout?.();
    this.cancelDisconnectGrace?.();
    this.bridge.detach();
    try {
      await this.session.close();
    } finally {
      this.output.destroy();
      this.input?.close();
      await this.pc.close().catch(() => {});
      this.resolveClosed();
    }
  }

  private async negotiate(offerSdp: string): Promise<string> {
    try {
      await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    } catch (error) {
      throw new OfferError(`malformed offer: ${error instanceof Error ? error.message : String(error)}`);
    }
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await this.gatheringComplete();
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp) throw new Error('no local description after gathering');
    return sdp;
  }

  private gatheringComplete(): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.gatheringTimeoutMs);
      const { unSubscribe } = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') done();
      });
      function done() {
        clearTimeout(timer);
        unSubscribe();
        resolve();
      }
    });
  }

  private onConnectionState(state: RTCPeerConnection['connectionState']): void {
    this.cancelDisconnectGrace?.();
    this.cancelDisconnectGrace = undefined;
    if (state === 'failed' || state === 'closed') void this.close();
    // A consent check lost on a busy network can come back; a peer silent past the grace is gone.
    else if (state === 'disconnected') {
      this.cancelDisconnectGrace = this.session.clock.schedule(this.options.disconnectGraceMs, () => {
        void this.close();
      });
    }
  }

  private onDataChannel(channel: RTCDataChannel): void {
    if (channel.label !== CONTROL_CHANNEL_LABEL || this.channel) return;
    this.channel = channel;
    channel.onMessage.subscribe((data) => {
      if (this.isClosed) return;
      this.heartbeat?.heard();
      const over = this.budget.message();
      if (over) return this.drop(over);
      if (typeof data === 'string') this.bridge.handleText(data);
      else this.bridge.sendError('the control channel carries JSON text messages; audio goes on the track');
    });
    channel.stateChanged.subscribe((state) => {
      if (state === 'open') void this.start();
      if (state === 'closed') void this.close();
    });
    if (channel.readyState === 'open') void this.start();
  }

  private async start(): Promise<void> {
    if (this.started || this.isClosed) return;
    this.started = true;
    this.cancelConnectTimeout?.();
    this.heartbeat = new Heartbeat({
      clock: this.session.clock,
      intervalMs: this.options.heartbeatIntervalMs,
      timeoutMs: this.options.heartbeatTimeoutMs,
      enforceAfterFirstAnswer: true,
      sendPing: (t) => this.send({ type: 'ping', t }),
      onTimeout: (silentMs) =>
        this.drop(`no heartbeat on the control channel for ${Math.round(silentMs)} ms`),
    });
    try {
      await this.session.start(this.output);
      this.budget.endStartup();
      this.bridge.ready(OPUS_SAMPLE_RATE, OPUS_SAMPLE_RATE);
    } catch (error) {
      // The cause (a provider's message, a model path) goes to the server log; the client gets our words.
      this.drop(`the session could not start: ${error instanceof Error ? error.message : String(error)}`, {
        toClient: 'the session could not start',
      });
    }
  }

  private onRtp(packet: RtpPacket): void {
    if (!this.started || this.isClosed || !this.input) return;
    try {
      this.input.push(toAudioPacket(packet), this.session.clock.now());
    } catch (error) {
      // A corrupt packet costs 20 ms of audio; say so once in a while, not fifty times a second.
      if (this.inputErrors++ % 250 === 0) {
        this.bridge.sendError(`microphone audio: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  private pushAudio(frame: Parameters<AgentSession['pushAudio']>[0]): void {
    if (this.isClosed) return;
    const verdict = this.budget.audio((frame.samples.length * 1000) / frame.sampleRate);
    if (verdict.kind === 'drop') {
      this.drop(verdict.reason);
      return;
    }
    if (verdict.kind === 'discard') return;
    this.session.pushAudio(frame);
  }

  /** Ends this peer for a reason it is told (if its channel still listens) and the server logs. */
  private drop(reason: string, { toClient = reason } = {}): void {
    if (this.isClosed) return;
    try {
      this.given.onDropped?.({ sessionId: this.session.id, reason });
    } catch {
      // A failing logger must not keep a misbehaving peer connected.
    }
    this.bridge.sendError(`disconnected by the server: ${toClient}`);
    void this.close();
  }

  private send(message: ServerMessage): void {
    if (this.channel?.readyState === 'open') this.channel.send(JSON.stringify(message));
  }
}

function toAudioPacket(packet: RtpPacket) {
  return {
    sequenceNumber: packet.header.sequenceNumber,
    timestamp: packet.header.timestamp,
    payload: packet.payload,
  };
}
