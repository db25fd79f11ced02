import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { HostGuard } from '../../src/server/guard.ts';
import type { RunningServer, ServerOptions } from '../../src/server/server.ts';
import {
  converse,
  PARSER_BREAKING_OFFER,
  rawRequest,
  startScriptedServer,
  until,
  upgrade,
} from './server-fixture.ts';

/**
 * DNS rebinding: a page on evil.example whose name is rebound to 127.0.0.1 talks to the server as its own origin,
 * so it sends `Host: evil.example:<port>` and a matching Origin. Every endpoint must refuse it, while our own
 * page on localhost or 127.0.0.1 keeps working.
 */

let running: RunningServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(options: Partial<ServerOptions> = {}) {
  const started = await startScriptedServer(options);
  running = started.running;
  return started;
}

const portOf = (server: RunningServer) => new URL(server.url).port;

/** Every HTTP endpoint, as the attacker's page would call it. */
function httpEndpoints(server: RunningServer) {
  return [
    { name: 'page', path: '/', method: 'GET' },
    { name: 'static file', path: '/js/app.js', method: 'GET' },
    { name: '/health', path: '/health', method: 'GET' },
    { name: '/metrics', path: '/metrics', method: 'GET' },
    { name: '/rtc/offer', path: '/rtc/offer', method: 'POST', body: PARSER_BREAKING_OFFER },
    { name: 'DELETE /rtc/sessions/*', path: '/rtc/sessions/some-id', method: 'DELETE' },
  ].map((endpoint) => ({
    ...endpoint,
    send: (headers: Record<string, string>) =>
      rawRequest(server, endpoint.path, {
        method: endpoint.method,
        headers: { ...headers, ...(endpoint.body ? { 'content-type': 'application/sdp' } : {}) },
        body: endpoint.body,
      }),
  }));
}

describe('DNS rebinding', { timeout: 120_000 }, () => {
  it('refuses Host evil.example with its matching Origin on every endpoint, WebSocket upgrade included', async () => {
    const { running: server, created } = await start();
    const port = portOf(server);
    const attacker = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
    for (const endpoint of httpEndpoints(server)) {
      const response = await endpoint.send(attacker);
      expect(response.status, `${endpoint.name}: ${response.body}`).toBe(403);
      expect(response.body).not.toMatch(/repartee_|<html|v=0/i);
    }
    // Without an Origin too (a rebound page's own navigation, or fetch in no-cors mode).
    for (const endpoint of httpEndpoints(server)) {
      expect((await endpoint.send({ host: attacker.host })).status, endpoint.name).toBe(403);
    }
    const ws = await upgrade(server, attacker);
    expect(ws.kind === 'refused' && ws.status).toBe(403);
    expect(created()).toBe(0);
  });

  it('refuses what a plain Origin-equals-Host check let through: wrong port, scheme, null and lookalike hosts', async () => {
    const { running: server, created } = await start();
    const port = portOf(server);
    const refusals: [Record<string, string>, number][] = [
      [{ host: `localhost:${port}`, origin: `http://evil.example:${port}` }, 403], // foreign page
      [{ host: `localhost:${port}`, origin: `https://localhost:${port}` }, 403], // scheme differs
      [{ host: `localhost:${port}`, origin: 'null' }, 403], // sandboxed or file:// page
      [{ host: `localhost:${port}`, origin: `ws://localhost:${port}` }, 403],
      [{ host: `localhost:${Number(port) + 1}`, origin: `http://localhost:${Number(port) + 1}` }, 403], // not our port
      [{ host: 'localhost', origin: 'http://localhost' }, 403], // default port 80 is not ours
      [{ host: `localhost.evil.example:${port}`, origin: `http://localhost.evil.example:${port}` }, 403],
      [{ host: `127.0.0.1.nip.io:${port}`, origin: `http://127.0.0.1.nip.io:${port}` }, 403],
      [{ host: `evil.example@localhost:${port}` }, 400], // userinfo smuggled into Host
      [{ host: `localhost:${port}/x` }, 400],
    ];
    for (const [headers, status] of refusals) {
      const ws = await upgrade(server, headers);
      expect(ws.kind === 'refused' && ws.status, JSON.stringify(headers)).toBe(status);
      const offer = await rawRequest(server, '/rtc/offer', {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/sdp' },
        body: PARSER_BREAKING_OFFER,
      });
      expect(offer.status, JSON.stringify(headers)).toBe(status);
    }
    expect(created()).toBe(0);
  });

  it('still serves our own page on localhost, 127.0.0.1, other 127.x and [::1], and a conversation starts', async () => {
    const { running: server } = await start();
    const port = portOf(server);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`]) {
      const page = await rawRequest(server, '/', { headers: { host } });
      expect(page.status, host).toBe(200);
      expect(page.body).toMatch(/<html|<!doctype/i);
      const health = await rawRequest(server, '/health', { headers: { host } });
      expect(JSON.parse(health.body)).toMatchObject({ sessions: expect.any(Number) });
      // The browser's WebSocket from that page: Origin is the page origin.
      await converse(server, { host, origin: `http://${host}` });
    }
    // A client that is not a browser sends no Origin.
    await converse(server, { host: `127.0.0.1:${port}` });
    await until(() => server.sessions() === 0, 'sessions closed');
  });

  it('accepts configured public names, with the scheme their pages are served over', async () => {
    const { running: server } = await start({ allowedHosts: ['voice.example.com', 'http://lan-box:8080'] });
    // A TLS proxy in front passes Host through: the page is https://voice.example.com.
    await converse(server, { host: 'voice.example.com', origin: 'https://voice.example.com' });
    await converse(server, { host: 'voice.example.com:443', origin: 'https://voice.example.com' });
    await converse(server, { host: 'lan-box:8080', origin: 'http://lan-box:8080' });
    for (const headers of [
      { host: 'voice.example.com', origin: 'http://voice.example.com' }, // not the scheme it is served with
      { host: 'lan-box:9090', origin: 'http://lan-box:9090' }, // a listed port is the only port
      { host: 'other.example.com', origin: 'https://other.example.com' },
    ]) {
      const ws = await upgrade(server, headers);
      expect(ws.kind === 'refused' && ws.status, JSON.stringify(headers)).toBe(403);
    }
  });

  it('counts refusals on /metrics', async () => {
    const { running: server } = await start();
    const port = portOf(server);
    await rawRequest(server, '/health', { headers: { host: `evil.example:${port}` } });
    await rawRequest(server, '/health', {
      headers: { host: `localhost:${port}`, origin: 'http://evil.example' },
    });
    const scrape = await rawRequest(server, '/metrics', { headers: { host: `localhost:${port}` } });
    expect(scrape.body).toMatch(/^repartee_refused_total\{reason="host"\} 1$/m);
    expect(scrape.body).toMatch(/^repartee_refused_total\{reason="origin"\} 1$/m);
  });
});

describe('tokens', { timeout: 120_000 }, () => {
  const TOKEN = '3f7a9c2e81b64d05a9e7c3b1f2d84a6e';

  it('refuses a weak configured token at start-up with a clear error that does not repeat it', async () => {
    for (const weak of [
      '0000000000000000',
      'x9Q',
      'abcdefghijklmnopqrstuvwxyz',
      'abababababababababababab',
    ]) {
      const attempt = start({ token: weak });
      await expect(attempt).rejects.toThrow(/server token is too (short|predictable)/);
      await attempt.catch((error: Error) => expect(error.message).not.toContain(weak));
    }
  });

  it('needs the token on /metrics, /rtc and /ws, by query or Bearer header, and never accepts a near miss', async () => {
    const { running: server, created } = await start({ token: TOKEN });
    const port = portOf(server);
    const host = `127.0.0.1:${port}`;
    const nearMisses = ['', TOKEN.slice(0, -1), `${TOKEN}0`, TOKEN.toUpperCase(), `${TOKEN.slice(0, -1)}f`];
    for (const wrong of nearMisses) {
      expect((await rawRequest(server, `/metrics?token=${wrong}`, { headers: { host } })).status).toBe(401);
      const ws = await upgrade(server, { host }, `/ws?token=${wrong}`);
      expect(ws.kind === 'refused' && ws.status).toBe(401);
    }
    expect((await rawRequest(server, `/metrics?token=${TOKEN}`, { headers: { host } })).status).toBe(200);
    const bearer = { host, authorization: `Bearer ${TOKEN}` };
    expect((await rawRequest(server, '/metrics', { headers: bearer })).status).toBe(200);
    const offer = await rawRequest(server, '/rtc/offer', {
      method: 'POST',
      headers: { host, 'content-type': 'application/sdp' },
      body: PARSER_BREAKING_OFFER,
    });
    expect(offer.status).toBe(401);
    expect(created()).toBe(0);
    expect(server.tokenFingerprint).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('errors to clients', { timeout: 120_000 }, () => {
  it('are ours: no werift parser message, no provider message or path', async () => {
    const { running: server } = await start();
    const offer = await rawRequest(server, '/rtc/offer', {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: PARSER_BREAKING_OFFER,
    });
    expect(offer.status).toBe(400);
    expect(offer.body).toBe('the offer could not be answered (malformed or unsupported SDP)\n');
    await running?.close();

    const logged: string[] = [];
    const secret = '/home/alice/models/private.gguf: ENOENT (no such file or directory)';
    const { running: failing } = await startScriptedServer({
      createSession: () => Promise.reject(new Error(secret)),
      onSessionError: (error) => logged.push(error.message),
    });
    running = failing;
    const ws = await upgrade(failing);
    if (ws.kind !== 'open') throw new Error(`refused: ${ws.status}`);
    await until(() => ws.messages.some((m) => m.type === 'error'), 'the error message');
    expect(ws.messages.find((m) => m.type === 'error')).toEqual({
      type: 'error',
      message: 'the session could not start',
    });
    const rtc = await rawRequest(failing, '/rtc/offer', {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: PARSER_BREAKING_OFFER,
    });
    expect(rtc.body).toBe('the session could not start\n');
    // The operator still gets the cause.
    expect(logged).toContain(secret);
  });
});

describe('HostGuard on a wildcard bind', () => {
  it("accepts this machine's own addresses on our port (an IP literal cannot be rebound), nothing else", () => {
    const guard = new HostGuard({ bindHost: '0.0.0.0', port: 8080 });
    const own = Object.values(networkInterfaces())
      .flat()
      .filter((entry) => entry !== undefined)
      .map((entry) => (entry.family === 'IPv6' ? `[${entry.address.replace(/%.*$/, '')}]` : entry.address));
    expect(own.length).toBeGreaterThan(0);
    for (const address of own) {
      expect(guard.check({ host: `${address}:8080` }), address).toEqual({ ok: true });
      expect(guard.check({ host: `${address}:8080`, origin: `http://${address}:8080` }), address).toEqual({
        ok: true,
      });
      expect(guard.check({ host: `${address}:8081` }).ok, address).toBe(false);
    }
    const foreign = '203.0.113.9'; // TEST-NET-3: never a real interface
    expect(guard.check({ host: `${foreign}:8080` })).toMatchObject({ ok: false, status: 403 });
    expect(guard.check({ host: 'evil.example:8080', origin: 'http://evil.example:8080' })).toMatchObject({
      ok: false,
      status: 403,
    });
    expect(() => new HostGuard({ bindHost: '0.0.0.0', port: 1, allowedHosts: ['https://x/path'] })).toThrow(
      /allowedHosts/,
    );
  });
});
