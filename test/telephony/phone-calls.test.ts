import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession } from '../../src/agent/session.ts';
import { MonotonicClock } from '../../src/metrics/clock.ts';
import type { TurnMetrics } from '../../src/metrics/schema.ts';
import { ScriptedLlm } from '../../src/providers/llm/scripted.ts';
import { createStt } from '../../src/providers/stt/spec.ts';
import type { TTS } from '../../src/providers/tts/contract.ts';
import { ScriptedTts } from '../../src/providers/tts/scripted.ts';
import { SileroVAD } from '../../src/providers/vad/silero.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';
import type { CallEnd, CallLogEntry, PhoneCallInfo } from '../../src/transport/telephony/call.ts';
import {
  callWebhook,
  clipAt,
  FakeCall,
  onsetMs,
  type Provider,
  PUBLIC_URL,
  streamOf,
  TELNYX_PUBLIC_KEY,
  TWILIO_AUTH_TOKEN,
  VONAGE_SECRET,
} from './fake-provider.ts';

const QUESTION = 'sense_and_sensibility_01_austen_64kb-0880.wav'; // "he was not an ill disposed young man"
const BARGE_IN = 'sense_and_sensibility_01_austen_64kb-0930.wav'; // "he might even have been made amiable himself"
const LONG_REPLY =
  'Thank you for calling the Repartee test line. This reply is long on purpose, so that the caller can ' +
  'interrupt it while it plays. It goes on for quite a while, sentence after sentence, until someone speaks.';

interface Call {
  info: PhoneCallInfo;
  session: AgentSession;
  metrics: TurnMetrics[];
  transcripts: string[];
  ttsSignals: AbortSignal[];
  closed: boolean;
}

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: { llmTokensPerSecond?: number; reply?: string } = {}) {
  const clock = new MonotonicClock();
  const calls: Call[] = [];
  const logs: CallLogEntry[] = [];
  const ends: CallEnd[] = [];
  const llm = new ScriptedLlm({
    clock,
    reply: () => options.reply ?? LONG_REPLY,
    tokensPerSecond: options.llmTokensPerSecond ?? Number.POSITIVE_INFINITY,
  });
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    webRoot: false,
    createSession: async () => {
      throw new Error('this test serves phone calls only');
    },
    telephony: {
      publicUrl: PUBLIC_URL,
      twilio: { authToken: TWILIO_AUTH_TOKEN },
      telnyx: { publicKey: TELNYX_PUBLIC_KEY },
      vonage: { signatureSecret: VONAGE_SECRET },
      log: (entry) => logs.push(entry),
      call: { onEnded: (end) => ends.push(end), silence: { timeoutMs: 0 } },
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
          stt: createStt('local', { language: 'en' }),
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

async function dial(running: RunningServer, provider: Provider, callId: string): Promise<FakeCall> {
  const answer = await callWebhook(running.url, provider, callId);
  expect(answer.status, answer.body).toBe(200);
  const stream = streamOf(provider, answer.body, running.url);
  const call = new FakeCall({ provider, callId, ...stream });
  await call.open();
  return call;
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(['twilio', 'telnyx', 'vonage'] as const)(
  '%s phone call (fake provider, real LibriVox speech)',
  (provider) => {
    it('answers the webhook, hears the caller, replies in speech; barge-in clears the reply at the provider', async () => {
      const { running, calls } = await start();
      const call = await dial(running, provider, `CA-${provider}-1`);
      const question = await clipAt(QUESTION, call.rate);
      await call.speak(question);
      // The reply is heard at the fake's ear (its audio played out of the modelled buffer).
      await call.silence(() => call.heardMs() > 1500, 40_000);
      const [phone] = calls;
      expect(phone.transcripts.join(' ')).toMatch(/\w/);
      expect(call.firstAudibleAt()).toBeDefined();
      expect(call.marksEchoed.length).toBeGreaterThan(3);
      // The caller speaks over the reply.
      const bargeIn = await clipAt(BARGE_IN, call.rate);
      const clearsBefore = call.clears.length;
      const sentAt = performance.now();
      const speaking = call.speak(bargeIn);
      const onsetAt = sentAt + onsetMs(bargeIn, call.rate);
      await waitFor('the clear', () => call.clears.length > clearsBefore, 20_000);
      const clearMs = call.clears[clearsBefore] - onsetAt;
      console.log(
        `${provider}: barge-in cleared ${Math.round(clearMs)} ms after the caller's speech onset (fake's side)`,
      );
      expect(call.clears[clearsBefore]).toBeGreaterThan(onsetAt);
      await speaking;
      await call.silence(() => phone.metrics.length >= 1, 30_000);
      // voiceToVoiceMs is timed by the returned marks: the ear of the caller.
      const first = phone.metrics[0];
      expect(first.voiceToVoiceMs).toBeGreaterThan(0);
      call.hangUp();
      await waitFor('the session to close', () => phone.closed);
    }, 180_000);
  },
);
