import { AgentSession } from '../../src/agent/session.ts';
import { MonotonicClock } from '../../src/metrics/clock.ts';
import type { TurnMetrics } from '../../src/metrics/schema.ts';
import type { ChatMessage } from '../../src/providers/llm/contract.ts';
import { ScriptedLlm, type ScriptedReply } from '../../src/providers/llm/scripted.ts';
import type { STT } from '../../src/providers/stt/contract.ts';
import { createStt } from '../../src/providers/stt/spec.ts';
import type { TTS } from '../../src/providers/tts/contract.ts';
import { ScriptedTts } from '../../src/providers/tts/scripted.ts';
import { SileroVAD } from '../../src/providers/vad/silero.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';
import type { TelephonyOptions } from '../../src/server/telephony.ts';
import type { CallEnd, CallLogEntry, PhoneCallInfo } from '../../src/transport/telephony/call.ts';
import {
  callWebhook,
  FakeCall,
  type Provider,
  PUBLIC_URL,
  streamOf,
  TELNYX_PUBLIC_KEY,
  TWILIO_AUTH_TOKEN,
  VONAGE_SECRET,
} from '../../src/transport/telephony/testing/fake-provider.ts';

/** A server answering phone calls on a real VAD and STT, a scripted LLM and TTS; what each call did is kept. */
export const LONG_REPLY =
  'Thank you for calling the Repartee test line. This reply is long on purpose, so that the caller can ' +
  'interrupt it while it plays. It goes on for quite a while, sentence after sentence, until someone speaks.';

export interface Call {
  info: PhoneCallInfo;
  session: AgentSession;
  metrics: TurnMetrics[];
  transcripts: string[];
  ttsSignals: AbortSignal[];
  closed: boolean;
}

export interface PhoneServerOptions {
  llmTokensPerSecond?: number;
  reply?: (messages: readonly ChatMessage[]) => ScriptedReply | string;
  call?: TelephonyOptions['call'];
  /**
   * `local`: pocketsphinx hears the caller (the real thing, and the heaviest part of a call). `stub`: any end of
   * speech is heard as one sentence, for tests about the call rather than the words (the VAD stays real).
   */
  stt?: 'local' | 'stub';
  /** The process's session cap (admission), for tests of a full server. */
  maxSessions?: number;
}

/** Hears "hello, are you there?" at every end of speech (the VAD decides when). */
const stubStt = (): STT => ({
  name: 'stub',
  stream: (listener) => ({
    push: () => {},
    flush: () => listener.onFinal({ text: 'Hello, are you there?', startMs: 0, endMs: 0 }),
    close: () => {},
  }),
});

export async function startPhoneServer(options: PhoneServerOptions = {}) {
  const clock = new MonotonicClock();
  const calls: Call[] = [];
  const logs: CallLogEntry[] = [];
  const ends: CallEnd[] = [];
  const llm = new ScriptedLlm({
    clock,
    reply: options.reply ?? (() => LONG_REPLY),
    tokensPerSecond: options.llmTokensPerSecond ?? Number.POSITIVE_INFINITY,
  });
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    webRoot: false,
    ...(options.maxSessions !== undefined ? { admission: { maxSessions: options.maxSessions } } : {}),
    createSession: async () => {
      throw new Error('this test serves phone calls only');
    },
    telephony: {
      publicUrl: PUBLIC_URL,
      twilio: { authToken: TWILIO_AUTH_TOKEN },
      telnyx: { publicKey: TELNYX_PUBLIC_KEY },
      vonage: { signatureSecret: VONAGE_SECRET },
      log: (entry) => logs.push(entry),
      call: {
        silence: { timeoutMs: 0 },
        ...options.call,
        onEnded: (end, info) => {
          ends.push(end);
          options.call?.onEnded?.(end, info);
        },
      },
      createCallSession: async (info, control) => {
        const scripted = new ScriptedTts({ clock, ttfbMs: 30, msPerCharacter: 60, realTimeFactor: 0.5 });
        const ttsSignals: AbortSignal[] = [];
        const tts: TTS = {
          name: scripted.name,
          sampleRate: scripted.sampleRate,
          stream: (streamOptions) => {
            ttsSignals.push(streamOptions.signal);
            return scripted.stream(streamOptions);
          },
        };
        const session = new AgentSession({
          clock,
          vad: new SileroVAD(),
          stt: options.stt === 'local' ? createStt('local', { language: 'en' }) : stubStt(),
          llm,
          tts,
          tools: control.tools(),
          interruption: { minWords: 0 },
        });
        const call: Call = { info, session, metrics: [], transcripts: [], ttsSignals, closed: false };
        session.on('metrics', (m) => call.metrics.push(m));
        session.on('transcript', ({ text, final }) => {
          if (final) call.transcripts.push(text);
        });
        const close = session.close.bind(session);
        session.close = async () => {
          call.closed = true;
          await close();
        };
        calls.push(call);
        return session;
      },
    },
  });
  return { running: server, calls, logs, ends, llm };
}

export async function dial(running: RunningServer, provider: Provider, callId: string): Promise<FakeCall> {
  const answer = await callWebhook(running.url, provider, callId);
  if (answer.status !== 200) throw new Error(`webhook answered ${answer.status}: ${answer.body}`);
  const stream = streamOf(provider, answer.body, running.url);
  const call = new FakeCall({ provider, callId, ...stream });
  await call.open();
  return call;
}

export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
