/**
 * One bench conversation over the WebSocket protocol: it streams a microphone (a clip, then quiet room noise)
 * in 20 ms frames on the client's shared frame timer, plays the agent's speech with receipts, and follows a
 * script of turns or barge-ins, recording the server's turn records and its own observations.
 */
import WebSocket from 'ws';
import type { FramedClip, FrameSource } from './frames.ts';
import { ReceiptPlayer } from './player.ts';
import { ServerMessage, type TurnRecord } from './protocol.ts';

/** What the client saw of one turn, on its own clock (performance.now()). */
export interface ClientTurn {
  clip: string;
  kind: 'turn' | 'bargeIn';
  /** Client time the clip's first sample was spoken, as a microphone would have captured it. */
  clipStartAt: number;
  clipEndAt?: number;
  /**
   * Voice-to-voice on the client's clock: the clip's last voiced sample sent (energy reference) → the first
   * reply audio that arrived after the clip ended. A cross-check of the server's figure, which places the end of
   * speech with its VAD.
   */
  clientVoiceToVoiceMs?: number;
  /** Barge-ins: the clip's first voiced sample sent (energy reference) → the server's `clear` arrived. */
  clientStopMs?: number;
  timedOut?: boolean;
}

export interface SessionScript {
  mode: 'turns' | 'bargeIn';
  /** Turns to play; in barge-in mode, every turn after the first interrupts the reply to the one before. */
  turns: number;
  /** Leading turns whose records are not counted (model warm-up). */
  warmupTurns: number;
  /** First clip (index into the clip list); later turns take the next ones in order. */
  clipOffset: number;
  startDelayMs: number;
  /** Pause between the end of a reply and the next clip. */
  thinkMs: number;
  /** Barge-ins: agent audio heard before the user talks over it. */
  bargeInAfterMs: number;
  turnTimeoutMs: number;
  /** Keep taking turns until this client time (a soak), instead of stopping after `turns`. */
  untilMs?: number;
}

interface ClipPlayback {
  frames: readonly Buffer[];
  position: number;
  /** Client time the clip's first sample was spoken (its frame's due time minus one frame). */
  onStart(spokenAt: number): void;
  done(endedAt: number): void;
}

export class BenchSession {
  readonly records: TurnRecord[] = [];
  readonly turns: ClientTurn[] = [];
  readonly errors = new Map<string, number>();
  warmupRecords = 0;
  private socket: WebSocket | undefined;
  private readonly player: ReceiptPlayer;
  private clip: ClipPlayback | undefined;
  private noiseIndex = 0;
  /** The client time the next frame is due; the shared timer sends every frame that has come due. */
  nextFrameAt = Number.POSITIVE_INFINITY;
  private readonly waiters = new Set<() => void>();
  private lastClipEndAt = 0;
  private recordsSeen = 0;
  private closed = false;

  constructor(
    readonly index: number,
    private readonly source: FrameSource,
  ) {
    this.player = new ReceiptPlayer({
      now: () => performance.now(),
      send: (receipt) => this.sendJson(receipt),
    });
  }

  /** Opens the connection and waits for `ready`. */
  connect(url: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      this.socket = socket;
      const timer = setTimeout(() => fail(new Error(`no ready within ${timeoutMs} ms`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.terminate();
        reject(error);
      };
      socket.on('error', (error) => fail(error));
      socket.on('close', () => this.close());
      socket.on('open', () => {
        this.sendJson({ type: 'config', sampleRate: 16_000, receipts: true });
      });
      socket.on('message', (data, isBinary) => {
        if (isBinary) {
          this.player.audio((data as Buffer).byteLength);
          this.wake();
          return;
        }
        const message = this.parse(data.toString());
        if (message?.type === 'ready') {
          clearTimeout(timer);
          this.player.outputSampleRate = message.outputSampleRate;
          this.nextFrameAt = performance.now();
          resolve();
        }
      });
    });
  }

  /** Sends every frame that has come due; called by the client's one frame timer. */
  pump(now: number): void {
    if (this.closed || !this.socket) return;
    this.player.tick(now);
    if (this.waiters.size > 0) this.wake();
    while (this.nextFrameAt <= now) {
      // A frame is due when a microphone would have finished capturing it.
      this.socket.send(this.nextFrame(this.nextFrameAt));
      this.nextFrameAt += this.source.frameMs;
    }
  }

  async run(script: SessionScript): Promise<void> {
    await this.sleep(script.startDelayMs);
    const clips = this.source.clips;
    const until = script.untilMs;
    for (let t = 0; until !== undefined ? performance.now() < until : t < script.turns; t++) {
      if (this.closed) return;
      const clip = clips[(script.clipOffset + t) % clips.length];
      const bargeIn = script.mode === 'bargeIn' && t > 0;
      if (bargeIn) await this.waitForReplyAudio(script.bargeInAfterMs, script.turnTimeoutMs);
      const turn: ClientTurn = { clip: clip.id, kind: bargeIn ? 'bargeIn' : 'turn', clipStartAt: Number.NaN };
      this.turns.push(turn);
      const speechBefore = this.player.currentSpeechId;
      const offClear = bargeIn ? this.onClear(turn, clip, speechBefore) : undefined;
      const offReply = this.onFirstReplyAudio(turn, clip);
      if (t === script.warmupTurns) this.warmupRecords = this.recordsSeen;
      turn.clipEndAt = await this.play(clip.frames, (startAt) => {
        turn.clipStartAt = startAt;
      });
      this.lastClipEndAt = turn.clipEndAt;
      offClear?.();
      const last = until !== undefined ? false : t === script.turns - 1;
      if (script.mode === 'turns' || last) {
        turn.timedOut = !(await this.waitForReplyEnd(turn.clipEndAt, script.turnTimeoutMs));
        offReply();
        await this.sleep(script.thinkMs);
      } else {
        // The next turn talks over this one's reply; its first audio still counts for this turn's gap.
        void this.waitFor(() => turn.clientVoiceToVoiceMs !== undefined, script.turnTimeoutMs).then(offReply);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
    const clip = this.clip;
    this.clip = undefined;
    clip?.done(performance.now());
    this.wake();
  }

  get droppedAfterClearMs(): number {
    return this.player.droppedAfterClearMs;
  }

  /** Records after the warm-up turns. */
  countedRecords(): TurnRecord[] {
    return this.records.slice(this.warmupRecords);
  }

  private nextFrame(dueAt: number): Buffer {
    const clip = this.clip;
    if (clip) {
      if (clip.position === 0) clip.onStart(dueAt - this.source.frameMs);
      const frame = clip.frames[clip.position++];
      if (clip.position >= clip.frames.length) {
        this.clip = undefined;
        clip.done(dueAt);
      }
      return frame;
    }
    const noise = this.source.noise;
    return noise[this.noiseIndex++ % noise.length];
  }

  /** Plays a clip into the microphone; resolves with the client time its last sample was spoken. */
  private play(frames: readonly Buffer[], onStart: (spokenAt: number) => void): Promise<number> {
    if (this.closed) return Promise.resolve(performance.now());
    return new Promise((done) => {
      this.clip = { frames, position: 0, onStart, done };
    });
  }

  private onClear(turn: ClientTurn, clip: FramedClip, speechId: number | undefined): () => void {
    return this.player.onEvent((event) => {
      if (event.type === 'stopped' && event.speechId === speechId && turn.clientStopMs === undefined) {
        turn.clientStopMs = event.atMs - (turn.clipStartAt + clip.speechStartMs);
      }
    });
  }

  private onFirstReplyAudio(turn: ClientTurn, clip: FramedClip): () => void {
    return this.player.onEvent((event) => {
      if (event.type !== 'started' || turn.clipEndAt === undefined || turn.clientVoiceToVoiceMs !== undefined)
        return;
      turn.clientVoiceToVoiceMs = event.atMs - (turn.clipStartAt + clip.speechEndMs);
    });
  }

  /** The reply to the last clip has played `heardMs`, or it ended first, or the time ran out. */
  private waitForReplyAudio(heardMs: number, timeoutMs: number): Promise<boolean> {
    const since = this.lastClipEndAt;
    let speech: number | undefined;
    const off = this.player.onEvent((event) => {
      if (event.type === 'started' && event.atMs >= since) speech ??= event.speechId;
    });
    return this.waitFor(
      () =>
        (speech !== undefined &&
          this.player.currentSpeechId === speech &&
          this.player.playedMs() >= heardMs) ||
        this.replyEndedSince(since),
      timeoutMs,
    ).finally(off);
  }

  /** A record of a reply that was not cut short arrived after the clip ended. */
  private waitForReplyEnd(clipEndAt: number, timeoutMs: number): Promise<boolean> {
    return this.waitFor(() => this.replyEndedSince(clipEndAt), timeoutMs);
  }

  private replyEndedSince(at: number): boolean {
    for (let i = this.records.length - 1; i >= 0; i--) {
      const record = this.records[i] as TurnRecord & { receivedAt: number };
      if (record.receivedAt < at) return false;
      if (record.outcome !== 'interrupted') return true;
    }
    return false;
  }

  private waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (predicate() || this.closed) finish(!this.closed || predicate());
      };
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => finish(predicate()), timeoutMs);
      this.waiters.add(check);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }

  private parse(text: string): ServerMessage | undefined {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.count('server sent malformed JSON');
      return undefined;
    }
    const parsed = ServerMessage.safeParse(json);
    if (!parsed.success) {
      const type = (json as { type?: unknown })?.type;
      this.count(`unexpected server message ${typeof type === 'string' ? type : '?'}`);
      return undefined;
    }
    const message = parsed.data;
    switch (message.type) {
      case 'speech':
        this.player.speech(message.speechId);
        break;
      case 'clear':
        this.player.clear(message.speechId);
        break;
      case 'metrics':
        this.recordsSeen++;
        this.records.push(Object.assign(message.metrics, { receivedAt: performance.now() }));
        break;
      case 'error':
        this.count(`server error: ${message.source ? `${message.source}: ` : ''}${message.message}`);
        break;
    }
    this.wake();
    return message;
  }

  private count(key: string): void {
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  private sendJson(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
