import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.ts';
import { dial, startPhoneServer, waitFor } from './harness.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

// The caller's number reaches the session's creation: it is the user id for memory across conversations.
describe.each([
  ['twilio', '+15005550006'],
  ['telnyx', '+15005550006'],
  ['vonage', '15005550006'],
] as const)('%s: the caller number from the webhook', (provider, number) => {
  it('is given to createCallSession with the call', async () => {
    const { running, calls } = await startPhoneServer({ stt: 'stub' });
    server = running;
    const call = await dial(running, provider, `CA-${provider}-caller`);
    await waitFor('the call session', () => calls.length === 1, 30_000);
    expect(calls[0].info.caller).toBe(number);
    call.hangUp();
    await waitFor('the session to close', () => calls[0].closed, 30_000);
  }, 60_000);
});
