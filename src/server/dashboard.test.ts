import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../config/config.ts';
import { SqliteStore } from '../store/sqlite.ts';
import { sampleTurn } from '../store/testing/turns.ts';
import { Observability } from './dashboard-setup.ts';
import { type RunningServer, startServer } from './server.ts';

const TOKEN = '3f9a1c7e5b2d8f4a6c0e9b1d7a3f5c2e';
let running: RunningServer | undefined;
let observability: Observability | undefined;
afterEach(async () => {
  await running?.close();
  await observability?.close();
  running = observability = undefined;
});

describe('dashboard API', () => {
  it('needs the token beyond loopback, serves uPlot from npm, and answers with stored data', async () => {
    const store = new SqliteStore({ path: ':memory:', batchMs: 10 });
    store.beginSession({ id: 'abc', startedAt: Date.now(), clockOriginMs: 0, recording: false });
    store.addTurn('abc', sampleTurn('abc', 1, 900), Date.now());
    store.endSession('abc', Date.now());
    await store.flush();
    observability = new Observability(ConfigSchema.parse({ store: { enabled: false } }), undefined, {
      store,
    });
    running = await startServer({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      dashboard: observability.serverHooks,
      createSession: () => Promise.reject(new Error('no sessions here')),
    });
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${running?.url}${path}`, { headers, redirect: 'manual' });
    expect((await get('/api/dashboard/overview')).status).toBe(401);
    expect(
      (await get('/api/dashboard/sessions', { authorization: 'Bearer wrong-token-wrong-token' })).status,
    ).toBe(401);
    const overview = await get('/api/dashboard/overview', { authorization: `Bearer ${TOKEN}` });
    expect(overview.status).toBe(200);
    expect(await overview.json()).toMatchObject({ turns: 1, store: { ok: true, mode: 'memory' } });
    const session = await (await get(`/api/dashboard/sessions/abc?token=${TOKEN}`)).json();
    expect(session.turnRecords[0].record.voiceToVoiceMs).toBe(900);
    expect((await get(`/api/dashboard/sessions/nope?token=${TOKEN}`)).status).toBe(404);
    expect((await get(`/api/dashboard/sessions/abc/audio/user?token=${TOKEN}`)).status).toBe(404);
    const redirect = await get('/dashboard?token=x');
    expect([redirect.status, redirect.headers.get('location')]).toEqual([302, '/dashboard/?token=x']);
    const uplot = await get('/dashboard/vendor/uPlot.iife.min.js');
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toContain('uPlot');
    expect((await get('/dashboard/')).status).toBe(200); // the page itself: code, no data
  });
});
