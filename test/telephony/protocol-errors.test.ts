import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/server.ts';
import {
  callWebhook,
  clipAt,
  FakeCall,
  type Provider,
  streamOf,
} from '../../src/transport/telephony/testing/fake-provider.ts';
import { dial, startPhoneServer, waitFor } from './harness.ts';

const QUESTION = 'sense_and_sensibility_01_austen_64kb-0880.wav';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface BadCase {
  name: string;
  provider: Provider;
  /** What the misbehaving stream does once open (after its start, unless `noStart`). */
  act?(call: FakeCall): void;
  startOverride?: Record<string, unknown>;
  noStart?: boolean;
  log: RegExp;
}

const frame = (rate: number) => new Int16Array(rate / 50);

const CASES: BadCase[] = [
  {
    name: 'twilio: not JSON',
    provider: 'twilio',
    act: (c) => c.ws.send('{"event": media'),
    log: /malformed message, not JSON/,
  },
  {
    name: 'twilio: media payload not base64',
    provider: 'twilio',
    act: (c) =>
      c.sendJson({
        event: 'media',
        sequenceNumber: '2',
        streamSid: 'MZ0001',
        media: { payload: '!!notbase64!!' },
      }),
    log: /malformed media.payload: not base64/,
  },
  {
    name: 'twilio: wrong codec',
    provider: 'twilio',
    startOverride: { mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000, channels: 1 } },
    log: /unsupported media format/,
  },
  {
    name: 'twilio: out-of-order sequence number',
    provider: 'twilio',
    act: (c) => {
      c.sendFrame(frame(8000));
      c.skipSequence();
      c.sendFrame(frame(8000));
    },
    log: /out-of-order sequence number 4 after 2/,
  },
  {
    name: 'twilio: never sends start',
    provider: 'twilio',
    noStart: true,
    log: /no start message within 3000 ms/,
  },
  {
    name: 'telnyx: wrong codec',
    provider: 'telnyx',
    startOverride: { media_format: { encoding: 'OPUS', sample_rate: 16000, channels: 1 } },
    log: /unsupported media format/,
  },
  {
    name: 'telnyx: out-of-order sequence number',
    provider: 'telnyx',
    act: (c) => {
      c.skipSequence();
      c.sendFrame(frame(8000));
    },
    log: /out-of-order sequence number 3 after 1/,
  },
  {
    name: 'vonage: wrong content type',
    provider: 'vonage',
    startOverride: { 'content-type': 'audio/l16;rate=44100' },
    log: /unsupported content-type/,
  },
  {
    name: 'vonage: audio of odd length',
    provider: 'vonage',
    act: (c) => c.ws.send(Buffer.alloc(641)),
    log: /odd length 641/,
  },
  {
    name: 'vonage: never sends websocket:connected',
    provider: 'vonage',
    noStart: true,
    log: /no start message within 3000 ms/,
  },
];

describe('malformed phone streams end only that call, with a clear log line', () => {
  it('ten kinds of bad stream are each ended and logged; a call in progress is answered all the while', async () => {
    const { running, logs, calls } = await startPhoneServer({
      reply: () => 'Yes, I can hear you.',
      call: { startTimeoutMs: 3000 },
    });
    server = running;
    const good = await dial(running, 'twilio', 'CA-good');
    const goodDone = (async () => {
      await good.speak(await clipAt(QUESTION, good.rate));
      await good.silence(() => good.heardMs() > 500, 90_000);
    })();
    for (const [i, bad] of CASES.entries()) {
      const callId = `CA-bad-${i}`;
      const seen = logs.length;
      const answer = await callWebhook(running.url, bad.provider, callId);
      const stream = streamOf(bad.provider, answer.body, running.url);
      const call = new FakeCall({
        provider: bad.provider,
        callId,
        ...stream,
        startOverride: bad.startOverride,
        noStart: bad.noStart,
      });
      await call.open();
      bad.act?.(call);
      await waitFor(`${bad.name}: the call to end`, () => call.closed !== undefined, 10_000);
      expect(call.closed?.code, bad.name).toBe(1008);
      const line = logs.slice(seen).find((l) => bad.log.test(l.message));
      expect(line, `${bad.name}: ${JSON.stringify(logs.slice(-3))}`).toBeDefined();
      expect(line?.provider).toBe(bad.provider);
      expect(line?.level).toBe('warn');
      expect(good.closed, `${bad.name} ended the good call`).toBeUndefined();
    }
    await goodDone;
    expect(good.closed).toBeUndefined();
    expect(calls.find((c) => c.info.callId === 'CA-good')?.closed).toBe(false);
    good.hangUp();
  }, 300_000);
});
