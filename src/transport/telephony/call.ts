import type { RawData, WebSocket } from 'ws';
import type { AgentSession } from '../../agent/session.ts';
import { InputBudget, type InputBudgetOptions } from '../input-budget.ts';
import { StreamingAudioOutput } from '../playout.ts';
import type { ServerMessage } from '../protocol.ts';
import { PlaybackReceipts } from '../receipts.ts';
import { ArrivalTimeline } from '../timeline.ts';
import { ComfortNoise } from './comfort-noise.ts';
import { type CallControl, CallController } from './control.ts';
import { DtmfCollector } from './dtmf.ts';
import type { AnsweringMachineOptions, MachineDetection } from './machine.ts';
import { AnsweringMachineGate } from './machine-gate.ts';
import { PhonePlayback } from './playback.ts';
import { type SilenceOptions, SilenceWatch } from './silence.ts';
import { type PhoneProvider, type PhoneWire, type StreamStart, TelephonyProtocolError } from './wire.ts';

export interface PhoneCallInfo extends StreamStart {
  provider: PhoneProvider;
  /** The caller's number, when the provider's webhook named it (the user id for memory across conversations). */
  caller?: string;
}

/** One line about one call, for the server log. */
export interface CallLogEntry {
  provider: PhoneProvider;
  callId?: string;
  level: 'info' | 'warn';
  message: string;
}

/** How a call ended: by whom or what. */
export type CallEnd = { by: 'caller' | 'agent' | 'server'; reason: string; transferTo?: string };

export interface PhoneCallOptions extends InputBudgetOptions {
  wire: PhoneWire;
  /** A session for this call; `control` is the call's hang-up / transfer / DTMF (its tools come from it). */
  createSession(call: PhoneCallInfo, control: CallControl): Promise<AgentSession>;
  /** Checks the stream's start (our one-time token in its parameters): a reason refuses the call. */
  authorize?(start: StreamStart): string | undefined;
  /** A stream that sends no start within this is ended. Default 5000 ms. */
  startTimeoutMs?: number;
  /** A stream silent (no message at all; providers send audio continuously) this long is dead. Default 5000 ms. */
  idleTimeoutMs?: number;
  /** Key presses are one entry once no key came for this long (or on `#`). Default 1500 ms. */
  dtmfGapMs?: number;
  silence?: Partial<SilenceOptions>;
  receiptTimeoutMs?: number;
  log?(entry: CallLogEntry): void;
  /** The caller pressed keys (the entry also reaches the agent as a typed message). */
  onDtmf?(digits: string, call: PhoneCallInfo): void;
  onEnded?(end: CallEnd, call: PhoneCallInfo | undefined): void;
  /** Answering-machine detection at the start of the call (off unless `detect`): src/transport/telephony/machine.ts. */
  answeringMachine?: Partial<AnsweringMachineOptions>;
  /** −60 dBFS noise in the gaps of the agent's speech (src/transport/telephony/comfort-noise.ts). Default off. */
  comfortNoise?: boolean;
  /** The detection's verdict (also a log line). */
  onAnsweringMachine?(detection: MachineDetection, call: PhoneCallInfo): void;
}

/** Media held while the call's session is created: 5 s of 20 ms frames. */
const MAX_HELD_FRAMES = 250;

/**
 * Adapts one provider media stream (Twilio, Telnyx, Vonage) to one AgentSession. Anything outside the
 * provider's protocol (malformed messages, a wrong codec, out-of-order sequence numbers, no `start`) ends this
 * call with a log line saying why; nothing else is touched. The caller hanging up, the stream dropping or the
 * agent ending the call closes the session at once: its LLM and TTS are aborted with it.
 */
export function attachPhoneCall(socket: WebSocket, options: PhoneCallOptions): Promise<CallEnd> {
  const { wire } = options;
  let call: PhoneCallInfo | undefined;
  let session: AgentSession | undefined;
  let output: StreamingAudioOutput | undefined;
  let playback: PhonePlayback | undefined;
  let ended: CallEnd | undefined;
  let resolveEnded!: (end: CallEnd) => void;
  const done = new Promise<CallEnd>((resolve) => {
    resolveEnded = resolve;
  });
  /** With the time each arrived (performance.now()): replayed at once, they keep their place on the timeline. */
  const held: { samples: Int16Array; arrivedAt: number }[] = [];
  const timeline = new ArrivalTimeline();
  const cleanups: (() => void)[] = [];
  const log = (level: CallLogEntry['level'], message: string) => {
    try {
      options.log?.({ provider: wire.provider, ...(call ? { callId: call.callId } : {}), level, message });
    } catch {
      // A failing logger must not keep a call alive.
    }
  };
  const now = () => session?.clock.now() ?? performance.now();
  const schedule = (ms: number, callback: () => void): (() => void) => {
    if (session) return session.clock.schedule(ms, callback);
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  };
  const budget = new InputBudget(now, options);
  const send = (data: string | Buffer) => {
    if (socket.readyState === socket.OPEN) socket.send(data);
  };

  const end = (how: CallEnd) => {
    if (ended) return;
    ended = how;
    for (const cleanup of cleanups.splice(0)) cleanup();
    output?.destroy();
    void session?.close();
    log(how.by === 'server' ? 'warn' : 'info', `call ended by the ${how.by}: ${how.reason}`);
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
      socket.close(how.by === 'server' ? 1008 : 1000, how.reason.slice(0, 120));
      const kill = setTimeout(() => socket.terminate(), 1000);
      socket.once('close', () => clearTimeout(kill));
    }
    try {
      options.onEnded?.(how, call);
    } catch {
      // the call is over whatever a listener does
    }
    resolveEnded(how);
  };
  const fail = (reason: string) => end({ by: 'server', reason });

  const control = new CallController({
    hangUp: (reason, transferTo) => end({ by: 'agent', reason, ...(transferTo ? { transferTo } : {}) }),
    sendAudio: (samples) => {
      if (!ended) sendPaced(samples);
    },
    canTransfer: wire.provider !== 'vonage',
    state: () => session?.state,
    onSpeechEnded: (listener) => session?.on('speechEnded', listener) ?? (() => {}),
    clock: () => session?.clock,
    sampleRate: () => wire.sampleRate,
  });
  /** Keypad tones play until then (no comfort noise over them). */
  let tonesUntil = 0;
  const sendPaced = (samples: Int16Array) => {
    tonesUntil = now() + (samples.length * 1000) / wire.sampleRate;
    const frame = (wire.sampleRate * wire.frameMs) / 1000;
    let offset = 0;
    const next = () => {
      if (ended || offset >= samples.length) return;
      send(wire.media(samples.subarray(offset, offset + frame)));
      offset += frame;
      cleanups.push(schedule(wire.frameMs, next));
    };
    next();
  };

  let gate: AnsweringMachineGate | undefined;
  const pushAudio = (samples: Int16Array, arrivedAt?: number) => {
    if (!session || !output) {
      if (held.length < MAX_HELD_FRAMES) held.push({ samples, arrivedAt: performance.now() });
      return;
    }
    if (gate?.push(samples, arrivedAt ?? performance.now())) return;
    const durationMs = (samples.length * 1000) / wire.sampleRate;
    const verdict = budget.audio(durationMs);
    if (verdict.kind === 'drop') return fail(verdict.reason);
    if (verdict.kind === 'discard') return;
    session.pushAudio({
      samples,
      sampleRate: wire.sampleRate,
      // A held frame is placed when it arrived (on the session clock), not when it is replayed.
      timestampMs: timeline.stamp(
        arrivedAt === undefined ? now() : now() - (performance.now() - arrivedAt),
        durationMs,
      ),
    });
  };

  const begin = async (start: StreamStart) => {
    const refusal = options.authorize?.(start);
    call = { provider: wire.provider, ...start };
    if (refusal) return fail(`refused: ${refusal}`);
    log('info', `call started (stream ${start.streamId}, ${start.sampleRate} Hz)`);
    const created = await options.createSession(call, control);
    if (ended) return void created.close();
    session = created;
    const receipts = new PlaybackReceipts(session.clock, true);
    playback = new PhonePlayback(wire, send, () => socket.readyState === socket.OPEN && !ended, receipts);
    const phone = playback;
    if (options.comfortNoise) {
      const idle = () => !ended && phone.idle() && now() >= tonesUntil;
      const noise = new ComfortNoise(session.clock, wire.sampleRate, idle, (s) => send(wire.media(s)));
      cleanups.push(() => noise.close());
    }
    output = new StreamingAudioOutput({
      clock: session.clock,
      sink: phone,
      receipts,
      receiptTimeoutMs: options.receiptTimeoutMs,
      send: (message: ServerMessage) => {
        if (message.type === 'speech') phone.begin(message.speechId);
        else if (message.type === 'clear') phone.clear(message.speechId);
      },
    });
    const dtmf = new DtmfCollector(schedule, options.dtmfGapMs ?? 1500, (digits) => {
      log('info', `caller pressed ${digits}`);
      options.onDtmf?.(digits, call!);
      if (!session || ended) return;
      try {
        session.sendText(`(The caller pressed ${[...digits].join(' ')} on the keypad.)`);
      } catch (error) {
        log('warn', `DTMF not delivered: ${(error as Error).message}`);
      }
    });
    cleanups.push(() => dtmf.close());
    const watchSilence = () => {
      if (ended || !session) return;
      const silence = new SilenceWatch(session, { ...options.silence }, () =>
        control.hangUp({ reason: 'no answer after the silence prompt' }),
      );
      cleanups.push(() => silence.close());
    };
    if (options.answeringMachine?.detect) gate = machineGate(watchSilence);
    else watchSilence();
    await session.start(output);
    if (ended) return;
    budget.endStartup();
    for (const frame of held.splice(0)) pushAudio(frame.samples, frame.arrivedAt);
    onDigit = (digit) => dtmf.push(digit);
    for (const digit of earlyDigits.splice(0)) onDigit(digit);
  };
  /** Caller audio goes through detection first; a person's call then goes on (and its silence watch starts). */
  const machineGate = (onHuman: () => void) =>
    new AnsweringMachineGate(wire.sampleRate, options.answeringMachine ?? {}, {
      verdict: (detection) => {
        log(
          'info',
          `answering-machine detection: ${detection.verdict}, ${detection.reason} (at ${detection.atMs} ms)`,
        );
        try {
          options.onAnsweringMachine?.(detection, call!);
        } catch {
          // a listener's fault is not the call's
        }
      },
      release: (frames) => {
        onHuman();
        for (const frame of frames) pushAudio(frame.samples, frame.arrivedAt);
      },
      hangUp: (reason) => end({ by: 'agent', reason }),
      leaveMessage: (reason) => {
        const message = options.answeringMachine?.message ?? '';
        log('info', `leaving a message on the answering machine ${reason}`);
        if (!session || !message)
          return void end({ by: 'agent', reason: 'answering machine, no message to leave' });
        session
          .say(message, { interruptible: false })
          .catch(() => undefined)
          .then(() => control.hangUp({ reason: `left a message on the answering machine ${reason}` }));
      },
    });
  /** Keys pressed before the session was ready are held, like early audio. */
  const earlyDigits: string[] = [];
  let onDigit: ((digit: string) => void) | undefined;

  let lastHeard = performance.now();
  const idleMs = options.idleTimeoutMs ?? 5000;
  const watchIdle = () => {
    if (ended) return;
    const silentMs = performance.now() - lastHeard;
    if (silentMs >= idleMs) return fail(`stream dead: nothing received for ${Math.round(silentMs)} ms`);
    // After the poll phase, as for the start: a stalled loop's unread messages count as heard.
    const timer = setTimeout(() => setImmediate(watchIdle), Math.max(50, idleMs - silentMs));
    cleanups.push(() => clearTimeout(timer));
  };
  watchIdle();
  let started = false;
  // Judged after the poll phase (setImmediate): after an event-loop stall the timer fires before the socket's
  // pending messages are read, and a start that did arrive in time must not be taken for a missing one.
  const startTimer = setTimeout(
    () =>
      setImmediate(() => {
        if (!started) fail(`no start message within ${options.startTimeoutMs ?? 5000} ms`);
      }),
    options.startTimeoutMs ?? 5000,
  );
  cleanups.push(() => clearTimeout(startTimer));

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (ended) return;
    lastHeard = performance.now();
    const over = budget.message();
    if (over) return fail(over);
    const bytes = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    try {
      const event = wire.parse(bytes, isBinary);
      if (event.kind === 'start') {
        started = true;
        clearTimeout(startTimer);
        begin(event.start).catch((error: Error) => fail(`the session could not start: ${error.message}`));
      } else if (event.kind === 'media') pushAudio(event.samples);
      else if (event.kind === 'mark') playback?.onMark(event.name);
      else if (event.kind === 'cleared') playback?.onCleared();
      else if (event.kind === 'dtmf') {
        if (onDigit) onDigit(event.digit);
        else if (earlyDigits.length < 32) earlyDigits.push(event.digit);
      } else if (event.kind === 'stop') end({ by: 'caller', reason: 'the stream stopped (caller hung up)' });
      else if (event.kind === 'ignored' && event.reason.startsWith('error')) log('warn', event.reason);
    } catch (error) {
      if (error instanceof TelephonyProtocolError) return fail(error.message);
      fail(`bad message: ${(error as Error).message}`);
    }
  });
  socket.on('close', () => end({ by: 'caller', reason: 'the stream closed' }));
  socket.on('error', (error) => fail(`socket error: ${error.message}`));
  if (socket.readyState !== socket.OPEN) end({ by: 'caller', reason: 'the stream closed' });
  return done;
}
