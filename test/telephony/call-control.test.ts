import { afterEach, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/providers/llm/contract.ts';
import type { RunningServer } from '../../src/server/server.ts';
import {
  callWebhook,
  clipAt,
  FakeCall,
  type Provider,
  postWebhook,
  streamOf,
} from '../../src/transport/telephony/testing/fake-provider.ts';
import { dial, startPhoneServer, waitFor } from './harness.ts';

const QUESTION = 'sense_and_sensibility_01_austen_64kb-0880.wav';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The LLM calls `tool` on the first turn, then says `after` once the tool's result is in. */
const toolReply =
  (tool: string, args: Record<string, unknown>, after = 'Goodbye!') =>
  (messages: readonly ChatMessage[]) =>
    messages.some((m) => m.role === 'tool')
      ? after
      : { text: 'One moment.', toolCalls: [{ id: 'call-1', name: tool, arguments: JSON.stringify(args) }] };

/** Goertzel power of `frequency` in `samples`, normalised by length. */
function tonePower(samples: Int16Array, frequency: number, rate: number): number {
  const k = 2 * Math.cos((2 * Math.PI * frequency) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / samples.length;
}

describe('phone call control and webhook security', () => {
  it.each(['twilio', 'telnyx', 'vonage'] as const)(
    '%s: a forged webhook signature is refused; a stream without our token is ended',
    async (provider: Provider) => {
      const { running, logs, calls } = await startPhoneServer();
      server = running;
      const forged = await callWebhook(running.url, provider, 'CA-forged', { forge: true });
      expect(forged.status).toBe(403);
      expect(logs.some((l) => /invalid signature/.test(l.message))).toBe(true);
      // A genuine answer, but the stream presents another token.
      const answer = await callWebhook(running.url, provider, 'CA-real');
      expect(answer.status).toBe(200);
      const { url } = streamOf(provider, answer.body, running.url);
      const intruder = new FakeCall({
        provider,
        url: url.replace(/token=[^&]+/, 'token=forged'),
        token: 'forged',
        callId: 'CA-real',
      });
      await intruder.open();
      await waitFor('the intruder to be closed', () => intruder.closed !== undefined, 10_000);
      expect(intruder.closed?.code).toBe(1008);
      expect(logs.some((l) => /refused: no valid stream token/.test(l.message))).toBe(true);
      expect(calls).toHaveLength(0); // no session was made for it
    },
    60_000,
  );

  it('DTMF from the caller reaches the agent as one keypad entry', async () => {
    const { running, llm } = await startPhoneServer({ reply: () => 'Noted.' });
    server = running;
    const call = await dial(running, 'twilio', 'CA-dtmf');
    const silence = call.silence(() => false, 30_000).catch(() => undefined);
    for (const digit of ['4', '2', '#']) call.dtmf(digit);
    await waitFor('the entry to reach the LLM', () =>
      llm.requests.some((r) => r.messages.some((m) => m.content.includes('pressed 4 2 #'))),
    );
    call.hangUp();
    call.stopSending();
    await silence;
  }, 90_000);

  it('the caller hanging up mid-reply ends the session, its LLM and its TTS at once', async () => {
    // A slow LLM (3 tokens/s): the reply is still being generated, and synthesized, when the caller hangs up.
    const { running, calls, llm, ends } = await startPhoneServer({ llmTokensPerSecond: 3 });
    server = running;
    const call = await dial(running, 'twilio', 'CA-hangup');
    await call.speak(await clipAt(QUESTION, call.rate));
    await call.silence(() => call.heardMs() > 300, 90_000);
    const [phone] = calls;
    expect(llm.requests.at(-1)?.aborted).toBe(false);
    call.hangUp();
    await waitFor('the session to close', () => phone.closed);
    await waitFor('the stream to close', () => call.closed !== undefined, 10_000);
    expect(llm.requests.every((r) => r.aborted || r.messages.length === 0)).toBe(true);
    expect(llm.requests.at(-1)?.aborted).toBe(true);
    expect(phone.ttsSignals.length).toBeGreaterThan(0);
    expect(phone.ttsSignals.every((s) => s.aborted)).toBe(true);
    expect(ends[0]).toMatchObject({ by: 'caller' });
    await waitFor('no live session', () => running.sessions() === 0);
  }, 240_000);

  it('end_call: the agent says goodbye, then the line is cut and Twilio is told to hang up', async () => {
    const { running, ends, calls } = await startPhoneServer({
      reply: toolReply('end_call', { reason: 'done' }),
    });
    server = running;
    const call = await dial(running, 'twilio', 'CA-end');
    await call.speak(await clipAt(QUESTION, call.rate));
    await call.silence(() => call.closed !== undefined, 90_000).catch(() => undefined);
    expect(call.closed?.code).toBe(1000);
    expect(ends[0]).toMatchObject({ by: 'agent' });
    expect(calls[0].closed).toBe(true);
    expect(call.heardMs()).toBeGreaterThan(200); // the goodbye was played before the cut
    const next = await postWebhook(running.url, 'twilio', '/telephony/twilio/next', 'CA-end');
    expect(next.body).toContain('<Hangup/>');
  }, 240_000);

  it.each(['twilio', 'telnyx'] as const)(
    '%s transfer_call: the stream ends and the next webhook dials the number',
    async (provider) => {
      const { running, ends } = await startPhoneServer({
        reply: toolReply('transfer_call', { to: '+14155550100' }, 'Transferring you now.'),
      });
      server = running;
      const call = await dial(running, provider, `CA-transfer-${provider}`);
      await call.speak(await clipAt(QUESTION, call.rate));
      await call.silence(() => call.closed !== undefined, 90_000).catch(() => undefined);
      expect(ends[0]).toMatchObject({ by: 'agent', transferTo: '+14155550100' });
      const next = await postWebhook(
        running.url,
        provider,
        `/telephony/${provider}/next`,
        `CA-transfer-${provider}`,
      );
      expect(next.status).toBe(200);
      expect(next.body).toContain('<Dial>+14155550100</Dial>');
      // Read once: a replayed request hangs up instead of dialling again.
      const again = await postWebhook(
        running.url,
        provider,
        `/telephony/${provider}/next`,
        `CA-transfer-${provider}`,
      );
      expect(again.body).toContain('<Hangup/>');
    },
    120_000,
  );

  it('send_dtmf: the agent presses keys as in-band tones the far end hears', async () => {
    const { running } = await startPhoneServer({ reply: toolReply('send_dtmf', { digits: '1' }, 'Done.') });
    server = running;
    const call = await dial(running, 'twilio', 'CA-keys');
    await call.speak(await clipAt(QUESTION, call.rate));
    const heardTone = () =>
      call.played.some(
        (p) => tonePower(p.samples, 697, 8000) > 1e6 && tonePower(p.samples, 1209, 8000) > 1e6,
      );
    await call.silence(heardTone, 90_000);
    expect(heardTone()).toBe(true);
    call.hangUp();
  }, 240_000);

  it('silence: "Are you still there?", then goodbye and the call ends', async () => {
    const { running, ends, calls } = await startPhoneServer({ call: { silence: { timeoutMs: 1500 } } });
    server = running;
    const call = await dial(running, 'vonage', 'CA-silent');
    const spoken: string[] = [];
    await waitFor('the session', () => calls.length === 1);
    calls[0].session.on('agentText', ({ text }) => spoken.push(text));
    await call.silence(() => call.closed !== undefined, 90_000).catch(() => undefined);
    expect(spoken.join(' ')).toContain('Are you still there?');
    expect(spoken.join(' ')).toContain('Goodbye');
    expect(ends[0]).toMatchObject({ by: 'agent' });
  }, 240_000);
});
