/** WebRTC deployment settings: the UDP port range reaches werift (the answer's candidates use it); bad ones are refused. */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';
import { scriptedSession } from '../../src/transport/websocket/ws.testkit.ts';
import { connectRtc } from './rtc-client.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('WebRTC deployment settings', () => {
  it('binds ICE to the configured UDP port range', async () => {
    const config = await loadConfig({
      file: '/nonexistent/repartee.config.json',
      env: {},
      overrides: {
        server: {
          webrtc: { icePortRange: [42_100, 42_199], iceServers: [{ urls: 'stun:127.0.0.1:3478' }] },
        },
      },
    });
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      webRoot: false,
      webrtc: config.server.webrtc,
      createSession: async () => scriptedSession(),
    });
    const answers: string[] = [];
    const original = globalThis.fetch;
    globalThis.fetch = async (input, init) => {
      const response = await original(input, init);
      if (String(input).includes('/rtc/offer')) answers.push(await response.clone().text());
      return response;
    };
    try {
      const peer = await connectRtc(server.url, 'deploy-test-1');
      const ports = [...answers[0].matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ/gim)].map((m) =>
        Number(m[1]),
      );
      expect(ports.length).toBeGreaterThan(0);
      for (const port of ports) {
        expect(port).toBeGreaterThanOrEqual(42_100);
        expect(port).toBeLessThanOrEqual(42_199);
      }
      await peer.close();
    } finally {
      globalThis.fetch = original;
    }
  }, 120_000);

  it('refuses a range whose minimum is not below its maximum, and a malformed ICE server', async () => {
    const load = (webrtc: unknown) =>
      loadConfig({ file: '/nonexistent/repartee.config.json', env: {}, overrides: { server: { webrtc } } });
    await expect(load({ icePortRange: [42_000, 42_000] })).rejects.toThrow(/icePortRange/);
    await expect(load({ iceServers: [{ url: 'stun:x' }] })).rejects.toThrow(/iceServers/);
  });
});
