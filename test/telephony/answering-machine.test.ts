import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.ts';
import type { MachineDetection } from '../../src/transport/telephony/machine.ts';
import { clipAt } from '../../src/transport/telephony/testing/fake-provider.ts';
import { dial, startPhoneServer, waitFor } from './harness.ts';

/** 7.1 s of continuous reading: a machine's greeting. */
const GREETING = 'sense_and_sensibility_01_austen_64kb-0870.wav';
const HELLO = 'sense_and_sensibility_01_austen_64kb-0880.wav';
const MESSAGE = 'Hello, this is the Repartee test line calling back. Please call us when you can.';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const beep = (rate: number, ms = 500) =>
  Int16Array.from({ length: (rate * ms) / 1000 }, (_, i) => 8000 * Math.sin((2 * Math.PI * 1000 * i) / rate));

describe('answering-machine detection on a phone call', () => {
  it.each(['twilio', 'vonage'] as const)(
    '%s: a machine greeting then a beep: the message is left after the beep and the call ends',
    async (provider) => {
      const verdicts: MachineDetection[] = [];
      const { running, calls, logs, ends, llm } = await startPhoneServer({
        call: {
          answeringMachine: { detect: true, onMachine: 'leaveMessage', message: MESSAGE },
          onAnsweringMachine: (detection) => verdicts.push(detection),
        },
      });
      server = running;
      const call = await dial(running, provider, `CA-machine-${provider}`);
      await waitFor('the session', () => calls.length === 1);
      const spoken: string[] = [];
      calls[0].session.on('agentText', ({ text }) => spoken.push(text));
      await call.speak(await clipAt(GREETING, call.rate));
      await call.speak(new Int16Array(call.rate / 2)); // the machine's pause before its beep
      expect(call.heardMs()).toBe(0); // nothing was said over the greeting
      await call.speak(beep(call.rate));
      const beepEnded = performance.now();
      await call.silence(() => call.closed !== undefined, 90_000).catch(() => undefined);
      expect(verdicts).toHaveLength(1);
      expect(verdicts[0]).toMatchObject({ verdict: 'machine' });
      expect(logs.some((l) => /answering-machine detection: machine/.test(l.message))).toBe(true);
      expect(spoken.join(' ')).toContain('Repartee test line calling back');
      // Heard by the fake's ear only after its beep (20 ms of slack for the last frame's pacing).
      expect(call.firstAudibleAt()).toBeGreaterThan(beepEnded - 20);
      expect(call.heardMs()).toBeGreaterThan(2000);
      expect(ends[0]).toMatchObject({ by: 'agent', reason: expect.stringContaining('left a message') });
      expect(llm.requests).toHaveLength(0); // the greeting was never answered as a turn
    },
    240_000,
  );

  it('onMachine hangUp: the call ends once the greeting reads as a machine', async () => {
    const { running, ends, llm } = await startPhoneServer({
      call: { answeringMachine: { detect: true, onMachine: 'hangUp' } },
    });
    server = running;
    const call = await dial(running, 'telnyx', 'CA-machine-hangup');
    const greeting = await clipAt(GREETING, call.rate);
    void call.speak(greeting);
    await waitFor('the call to end', () => call.closed !== undefined, 60_000);
    call.stopSending();
    expect(ends[0]).toMatchObject({ by: 'agent', reason: expect.stringContaining('answering machine') });
    expect(call.heardMs()).toBe(0);
    expect(llm.requests).toHaveLength(0);
  }, 120_000);

  it('a person: a short "hello?" then silence goes on as a normal conversation', async () => {
    const verdicts: MachineDetection[] = [];
    const { running, ends, llm } = await startPhoneServer({
      reply: () => 'Hi! Thanks for picking up.',
      call: {
        answeringMachine: { detect: true, onMachine: 'leaveMessage', message: MESSAGE },
        onAnsweringMachine: (detection) => verdicts.push(detection),
      },
    });
    server = running;
    const call = await dial(running, 'twilio', 'CA-person');
    const clip = await clipAt(HELLO, call.rate);
    await call.speak(clip.subarray(0, call.rate)); // the first second: "hello?"
    await call.silence(() => call.heardMs() > 500, 90_000);
    expect(verdicts[0]).toMatchObject({ verdict: 'human' });
    expect(llm.requests.length).toBeGreaterThan(0); // the held "hello?" reached the session as a turn
    expect(ends).toHaveLength(0);
    call.hangUp();
  }, 240_000);
});
