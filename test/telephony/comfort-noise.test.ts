import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.ts';
import { clipAt } from '../../src/transport/telephony/testing/fake-provider.ts';
import { dial, startPhoneServer } from './harness.ts';

const QUESTION = 'sense_and_sensibility_01_austen_64kb-0880.wav';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const dbfs = (frames: readonly { samples: Int16Array }[]) => {
  let sum = 0;
  let n = 0;
  for (const { samples } of frames)
    for (const x of samples) {
      sum += x * x;
      n++;
    }
  return 20 * Math.log10(Math.sqrt(sum / n) / 32768);
};

describe('comfort noise on the phone', () => {
  it('on: -60 dBFS noise fills the line while the agent is quiet, and its reply still plays', async () => {
    const { running } = await startPhoneServer({ call: { comfortNoise: true } });
    server = running;
    const call = await dial(running, 'twilio', 'CA-noise');
    await call.silence(() => call.played.length >= 25, 30_000);
    const level = dbfs(call.played);
    expect(level).toBeGreaterThan(-63);
    expect(level).toBeLessThan(-57);
    await call.speak(await clipAt(QUESTION, call.rate));
    await call.silence(() => call.firstAudibleAt() !== undefined, 90_000);
    expect(call.heardMs()).toBeGreaterThan(0);
    call.hangUp();
  }, 240_000);

  it('off (the default): nothing is sent while the agent is quiet', async () => {
    const { running } = await startPhoneServer();
    server = running;
    const call = await dial(running, 'vonage', 'CA-quiet');
    const until = performance.now() + 1500;
    await call.silence(() => performance.now() > until, 30_000);
    expect(call.played).toHaveLength(0);
    call.hangUp();
  }, 60_000);
});
