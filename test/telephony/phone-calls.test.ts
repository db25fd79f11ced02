import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.ts';
import { clipAt, onsetMs } from '../../src/transport/telephony/testing/fake-provider.ts';
import { dial, startPhoneServer, waitFor } from './harness.ts';

const QUESTION = 'sense_and_sensibility_01_austen_64kb-0880.wav'; // "he was not an ill disposed young man"
const BARGE_IN = 'sense_and_sensibility_01_austen_64kb-0930.wav'; // "he might even have been made amiable himself"

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe.each(['twilio', 'telnyx', 'vonage'] as const)(
  '%s phone call (fake provider, real LibriVox speech)',
  (provider) => {
    it('answers the webhook, hears the caller, replies in speech; barge-in clears the reply at the provider', async () => {
      // Pocketsphinx hears the Twilio call; the other two (same session code) use the stub STT to keep the load down.
      const { running, calls } = await startPhoneServer({ stt: provider === 'twilio' ? 'local' : 'stub' });
      server = running;
      const call = await dial(running, provider, `CA-${provider}-1`);
      const question = await clipAt(QUESTION, call.rate);
      await call.speak(question);
      // The reply is heard at the fake's ear (its audio played out of the modelled buffer).
      await call.silence(() => call.heardMs() > 1500, 90_000);
      const [phone] = calls;
      console.log(`${provider}: heard "${phone.transcripts.join(' ')}"`);
      expect(phone.transcripts.join(' ')).toMatch(/\w/);
      expect(call.firstAudibleAt()).toBeDefined();
      expect(call.marksEchoed.length).toBeGreaterThan(3);
      // The caller speaks over the reply.
      const bargeIn = await clipAt(BARGE_IN, call.rate);
      const clearsBefore = call.clears.length;
      const sentAt = performance.now();
      const speaking = call.speak(bargeIn);
      const onsetAt = sentAt + onsetMs(bargeIn, call.rate);
      await waitFor('the clear', () => call.clears.length > clearsBefore, 30_000);
      const clearMs = call.clears[clearsBefore] - onsetAt;
      console.log(
        `${provider}: barge-in cleared ${Math.round(clearMs)} ms after the caller's speech onset (fake's side)`,
      );
      expect(call.clears[clearsBefore]).toBeGreaterThan(onsetAt);
      await speaking;
      await call.silence(() => phone.metrics.length >= 1, 90_000);
      // voiceToVoiceMs is timed by the returned marks: the ear of the caller.
      const first = phone.metrics[0];
      expect(first.voiceToVoiceMs).toBeGreaterThan(0);
      call.hangUp();
      await waitFor('the session to close', () => phone.closed);
    }, 300_000);
  },
);
