import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.ts';
import { DEFAULT_BUSY_MESSAGE } from '../../src/server/telephony.ts';
import { callWebhook } from '../../src/transport/telephony/testing/fake-webhook.ts';
import { dial, startPhoneServer, waitFor } from './harness.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** What each provider's answer to a call looks like when every line is busy: its own voice says why, then ends. */
const BUSY_ANSWER = {
  twilio: (body: string) => {
    expect(body).toContain(`<Say>${DEFAULT_BUSY_MESSAGE}</Say><Hangup/>`);
    expect(body).not.toContain('<Stream');
  },
  telnyx: (body: string) => {
    expect(body).toContain(`<Say>${DEFAULT_BUSY_MESSAGE}</Say><Hangup/>`);
    expect(body).not.toContain('<Stream');
  },
  vonage: (body: string) => {
    expect(JSON.parse(body)).toEqual([{ action: 'talk', text: DEFAULT_BUSY_MESSAGE }]);
  },
} as const;

describe('a call that comes when every line is busy (the session cap)', () => {
  it('is told so in the provider’s voice and hung up, for each provider; the call in progress goes on; a line that frees up answers again', async () => {
    const { running, calls, logs } = await startPhoneServer({ stt: 'stub', maxSessions: 1 });
    server = running;
    const first = await dial(running, 'twilio', 'CA-busy-first');
    await waitFor('the first call’s session', () => calls.length === 1, 30_000);

    for (const provider of ['twilio', 'telnyx', 'vonage'] as const) {
      const answer = await callWebhook(running.url, provider, `CA-busy-${provider}`);
      expect(answer.status, answer.body).toBe(200);
      BUSY_ANSWER[provider](answer.body);
    }
    expect(calls).toHaveLength(1);
    expect(calls[0].closed).toBe(false);
    expect(logs.filter((l) => /every line is busy/.test(l.message))).toHaveLength(3);

    first.hangUp();
    await waitFor('the first call to end', () => calls[0].closed, 30_000);
    // The place is given back when the stream's socket closes (soon after the hang-up): then a call is streamed.
    const until = Date.now() + 30_000;
    let next = await callWebhook(running.url, 'twilio', 'CA-busy-after');
    while (!next.body.includes('<Stream') && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      next = await callWebhook(running.url, 'twilio', 'CA-busy-after');
    }
    expect(next.body).toContain('<Stream');
  }, 90_000);
});
