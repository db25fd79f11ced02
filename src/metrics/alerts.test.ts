import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sampleTurn } from '../store/testing/turns.ts';
import { AlertEngine, AlertsConfigSchema } from './alerts.ts';

function engine(rules: unknown[], extra: Record<string, unknown> = {}) {
  let now = 0;
  const lines: string[] = [];
  const log = {
    info: (_: object, m: string) => lines.push(`info ${m}`),
    warn: (_: object, m: string) => lines.push(`warn ${m}`),
    error: (_: object, m: string) => lines.push(`error ${m}`),
  };
  let lag = 0;
  const alerts = new AlertEngine({
    config: AlertsConfigSchema.parse({ rules, ...extra }),
    log,
    now: () => now,
    eventLoopLagMs: () => lag,
  });
  return {
    alerts,
    lines,
    at: (ms: number) => {
      now = ms;
    },
    lag: (ms: number) => {
      lag = ms;
    },
  };
}

describe('AlertEngine', () => {
  it('fires when the window p95 goes above the threshold and resolves when it comes back', () => {
    const e = engine([
      { name: 'slow', metric: 'voiceToVoiceMs', stat: 'p95', above: 1200, windowMs: 60_000, minSamples: 3 },
    ]);
    for (let i = 0; i < 5; i++) e.alerts.observe(sampleTurn('s', i + 1, 800));
    expect(e.alerts.evaluate()).toEqual([]);
    e.at(10_000);
    for (let i = 0; i < 3; i++) e.alerts.observe(sampleTurn('s', 10 + i, 2500));
    const [fired] = e.alerts.evaluate();
    expect(fired).toMatchObject({ rule: 'slow', state: 'firing', value: 2500, samples: 8 });
    expect(e.alerts.active().map((a) => a.rule)).toEqual(['slow']);
    expect(e.alerts.evaluate()).toEqual([]); // no repeat while it stays firing
    e.at(75_000); // the slow turns leave the window; fast ones come
    for (let i = 0; i < 4; i++) e.alerts.observe(sampleTurn('s', 20 + i, 700));
    const [resolved] = e.alerts.evaluate();
    expect(resolved).toMatchObject({ rule: 'slow', state: 'resolved', value: 700 });
    expect(e.lines).toEqual([
      expect.stringMatching(/^warn alert "slow" firing: voiceToVoiceMs p95 2500 > 1200/),
      expect.stringMatching(/^info alert "slow" resolved/),
    ]);
  });

  it('rates and event-loop lag; too few samples say nothing', () => {
    const e = engine([
      { name: 'errors', metric: 'errorRate', above: 0.2, windowMs: 60_000, minSamples: 4 },
      { name: 'loop', metric: 'eventLoopLagMs', stat: 'max', above: 250, windowMs: 5_000, minSamples: 1 },
    ]);
    e.alerts.observe(sampleTurn('s', 1, null, 'error'));
    e.alerts.observe(sampleTurn('s', 2, 700));
    expect(e.alerts.evaluate()).toEqual([]); // 50 % errors, but 2 samples < 4
    e.alerts.observe(sampleTurn('s', 3, 700));
    e.alerts.observe(sampleTurn('s', 4, 700));
    e.lag(400);
    const changes = e.alerts.evaluate().map((a) => `${a.rule}:${a.state}:${a.value}`);
    expect(changes).toEqual(['errors:firing:0.25', 'loop:firing:400']);
    e.lag(3);
    e.at(6_000);
    expect(e.alerts.evaluate().map((a) => `${a.rule}:${a.state}`)).toEqual(['loop:resolved']);
  });

  it('posts firing and resolving to the webhook; a failing webhook is logged', async () => {
    const bodies: Record<string, unknown>[] = [];
    const server = createServer((request, response) => {
      let text = '';
      request.on('data', (c) => {
        text += c;
      });
      request.on('end', () => {
        bodies.push(JSON.parse(text));
        response.writeHead(bodies.length === 1 ? 200 : 500).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const e = engine(
      [{ name: 'ttft', metric: 'llmTtftMs', stat: 'max', above: 100, windowMs: 10_000, minSamples: 1 }],
      { webhook: url },
    );
    e.alerts.observe(sampleTurn('s', 1, 800));
    e.alerts.evaluate();
    e.at(20_000);
    e.alerts.evaluate();
    await e.alerts.stop();
    server.close();
    expect(bodies.map((b) => b.state)).toEqual(['firing', 'resolved']);
    expect(bodies[0].text).toMatch(/alert "ttft" firing: llmTtftMs max 150 > 100/);
    expect(e.lines.some((l) => /^error alert webhook failed/.test(l))).toBe(true);
  });

  it('refuses a bad rule in the configuration', () => {
    expect(() => AlertsConfigSchema.parse({ rules: [{ name: 'x', metric: 'nope', above: 1 }] })).toThrow();
    expect(() =>
      engine([
        { name: 'a', metric: 'llmTtftMs', above: 1 },
        { name: 'a', metric: 'llmTtftMs', above: 2 },
      ]),
    ).toThrow(/two rules/);
  });
});
