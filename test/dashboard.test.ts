import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession } from '../src/agent/session.ts';
import { loadConfig } from '../src/config/config.ts';
import { createProviders, type ProviderSet } from '../src/config/providers.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import { Observability } from '../src/server/dashboard-setup.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';
import {
  buildMicWav,
  CLIP_SHORT,
  hasChromium,
  installCueableMic,
  launchChromium,
  REPO,
  speakIntoMic,
  startConversation,
  waitFor,
  withTempDir,
} from './browser/harness.ts';

/**
 * The dashboard in real headless Chromium against the real server, local stack (Silero, pocketsphinx, flite)
 * and a scripted LLM: four conversations are spoken through the talk page (LibriVox speech into the page's
 * microphone), stored in SQLite with both sides recorded, then found on the dashboard with their waterfalls
 * and a playable timeline. The third conversation's LLM is slowed down: the alert rule fires during it and
 * resolves after. The sessions alternate between two endpointing variants of an experiment, whose results
 * page shows both with intervals.
 */

const REPLY = 'Thank you. That is a kind thing to say about anyone.';
const SLOW_TTFT_MS = 3_000;

let browser: Browser | undefined;
let running: RunningServer | undefined;
let observability: Observability | undefined;
let providers: ProviderSet | undefined;
afterEach(async () => {
  await browser?.close();
  await running?.close();
  await observability?.close();
  await providers?.close();
  browser = running = observability = providers = undefined;
});

const words = (text: string) => text.split(/\s+/).filter((w) => /\w/.test(w));

describe.skipIf(!hasChromium)('dashboard in Chromium (real server, local stack, SQLite store)', () => {
  it('shows stored conversations with waterfalls and a playable timeline, an alert that fires and resolves, and an A/B experiment with intervals', async () => {
    await withTempDir(async (dir) => {
      const config = await loadConfig({
        file: join(dir, 'none.json'),
        env: {},
        overrides: {
          tts: 'flite',
          store: { path: join(dir, 'conversations.db'), recordAudio: true },
          alerts: {
            evaluateEveryMs: 250,
            rules: [
              {
                name: 'slow llm',
                metric: 'llmTtftMs',
                stat: 'max',
                above: 2_000,
                windowMs: 8_000,
                minSamples: 1,
              },
            ],
          },
          experiments: [
            {
              name: 'endpointing',
              variants: [
                { name: 'quick', config: { endpointing: { minDelayMs: 200, maxDelayMs: 900 } } },
                { name: 'patient', config: { endpointing: { minDelayMs: 600, maxDelayMs: 1_800 } } },
              ],
            },
          ],
        },
      });
      providers = await createProviders(config);
      const set = providers;
      // Variants alternate (quick, patient, quick, patient): two sessions each, whatever the draw would give.
      let draws = 0;
      observability = new Observability(config, undefined, { random: (max) => ((draws++ % 2) * max) / 2 });
      const obs = observability;
      let slow = false;
      const records: TurnMetrics[] = [];
      running = await startServer({
        host: '127.0.0.1',
        port: 0,
        webRoot: join(REPO, 'web'),
        // A Chromium starved of CPU answers pings late: here that must not drop (and so add) a session.
        websocket: { pongTimeoutMs: 15_000 },
        dashboard: obs.serverHooks,
        createSession: async () => {
          const { config: sessionConfig, assignment } = obs.sessionConfig();
          const clock = new MonotonicClock();
          const session = new AgentSession({
            clock,
            vad: set.vad,
            stt: set.stt,
            tts: set.tts,
            llm: new ScriptedLlm({
              clock,
              reply: () => ({ text: REPLY, ttftMs: slow ? SLOW_TTFT_MS : 0 }),
              tokensPerSecond: 40,
            }),
            instructions: sessionConfig.instructions,
            endpointing: sessionConfig.endpointing,
            interruption: sessionConfig.interruption,
          });
          obs.created(session, assignment);
          session.on('metrics', (m) => records.push(m));
          return session;
        },
      });
      const url = running.url;
      const question = await buildMicWav(dir, 'question', [
        { silenceS: 0.3 },
        { clip: CLIP_SHORT },
        { silenceS: 1.2 },
      ]);
      const silence = await buildMicWav(dir, 'silence', [{ silenceS: 1 }]);
      browser = await launchChromium(silence);
      const dashboard = await browser.newPage();
      const pageErrors: string[] = [];
      dashboard.on('pageerror', (error) => pageErrors.push(error.message));

      const converse = async (n: number) => {
        const page = await browser?.newPage();
        if (!page) throw new Error('no browser');
        await installCueableMic(page);
        await startConversation(page, url, 'websocket');
        const before = records.length;
        await speakIntoMic(page, question);
        const turn = await waitFor(
          `conversation ${n}: a heard reply to the clip`,
          () =>
            records
              .slice(before)
              .find((m) => m.voiceToVoiceMs !== null && words(m.userTranscript).length > 0),
          { timeoutMs: 120_000, describe: () => records.slice(before) },
        );
        await page.getByRole('button', { name: 'End conversation' }).click();
        await page.close();
        return turn;
      };
      const alertState = async (page: Page) =>
        page.evaluate(() =>
          Array.from(document.querySelectorAll('#alerts .alert')).map(
            (a) => (a as HTMLElement).dataset.state,
          ),
        );

      await dashboard.goto(`${url}/dashboard/`);
      await converse(1);
      await converse(2);
      expect(await alertState(dashboard)).not.toContain('firing');

      // The injected slowdown: the alert fires during it, on the page as in the engine.
      slow = true;
      const slowTurn = await converse(3);
      expect(slowTurn.llmTtftMs).toBeGreaterThan(2_000); // the rule's threshold
      await waitFor(
        'the alert to show as firing',
        async () => ((await alertState(dashboard)).includes('firing') ? true : undefined),
        { timeoutMs: 30_000 },
      );
      slow = false;
      await converse(4);
      await waitFor(
        'the alert to resolve',
        async () => {
          const states = await alertState(dashboard);
          return states.includes('resolved') && !states.includes('firing') ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
      const history = obs.alerts?.recent().map((a) => `${a.rule}:${a.state}`);
      expect(history).toEqual(['slow llm:firing', 'slow llm:resolved']);

      // The four sessions are stored (each ended, with both sides recorded).
      await waitFor(
        'four ended sessions with recordings',
        async () => {
          const list = (await obs.store?.listSessions()) ?? [];
          return list.length === 4 && list.every((s) => s.endedAt !== null) ? true : undefined;
        },
        {
          timeoutMs: 90_000,
          describe: async () => ({ sessions: await obs.store?.listSessions(), store: obs.store?.health() }),
        },
      );
      await dashboard.goto(`${url}/dashboard/#/sessions`);
      await dashboard.locator('#sessions tr[data-session-id]').nth(3).waitFor({ timeout: 20_000 });
      expect(await dashboard.locator('#sessions tr[data-session-id]').count()).toBe(4);

      // One session's timeline: the waterfall, the transcript, both tracks playable.
      await dashboard.locator('#sessions a.session-link').first().click();
      await dashboard.locator('#session-view').waitFor({ timeout: 20_000 });
      await dashboard.locator('.turn .wf .bar[data-stage="v2v"]').first().waitFor({ timeout: 20_000 });
      const turnText = await dashboard.locator('.turn .texts').first().textContent();
      expect(turnText).toContain(REPLY.split(' ')[0]);
      expect(await dashboard.locator('#timeline .agent-speech').count()).toBeGreaterThan(0);
      const tracks = await dashboard.evaluate(async () => {
        const players = Array.from(document.querySelectorAll('audio[data-side]')) as HTMLAudioElement[];
        return Promise.all(
          players.map(async (p) => {
            if (p.readyState < 1)
              await new Promise((r) => p.addEventListener('loadedmetadata', r, { once: true }));
            p.muted = true;
            await p.play();
            const start = p.currentTime;
            await new Promise((r) => setTimeout(r, 600));
            const advanced = p.currentTime - start;
            p.pause();
            return { side: p.dataset.side, duration: p.duration, advanced, error: p.error?.message ?? null };
          }),
        );
      });
      expect(tracks.map((t) => t.side).sort()).toEqual(['agent', 'user']);
      for (const t of tracks) {
        expect(t.error).toBeNull();
        expect(t.duration).toBeGreaterThan(1);
        expect(t.advanced).toBeGreaterThan(0);
      }
      // Clicking the timeline seeks both tracks there.
      const box = await dashboard.locator('#timeline').boundingBox();
      if (!box) throw new Error('no timeline');
      await dashboard.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      const positions = await dashboard.evaluate(() =>
        Array.from(document.querySelectorAll('audio[data-side]')).map(
          (p) => (p as HTMLAudioElement).currentTime,
        ),
      );
      for (const p of positions) expect(p).toBeGreaterThan(0.5);
      const shot = process.env.REPARTEE_SCREENSHOT;
      if (shot) await dashboard.screenshot({ path: shot, fullPage: true });

      // The experiment: both variants, each with its p50 and p95 and their intervals.
      await dashboard.goto(`${url}/dashboard/#/experiments`);
      const rows = dashboard.locator('table.experiment[data-experiment="endpointing"] tr[data-variant]');
      await rows.nth(1).waitFor({ timeout: 30_000 });
      const cells = await rows.evaluateAll((trs) =>
        trs.map((tr) => ({
          variant: (tr as HTMLElement).dataset.variant,
          sessions: tr.children[1].textContent,
          p50: tr.querySelector('.p50')?.textContent,
          p95: tr.querySelector('.p95')?.textContent,
        })),
      );
      expect(cells.map((c) => [c.variant, c.sessions])).toEqual([
        ['quick', '2'],
        ['patient', '2'],
      ]);
      for (const c of cells) {
        expect(c.p50).toMatch(/^\d+ \[\d+, \d+\]$/);
        expect(c.p95).toMatch(/^\d+ \[\d+, \d+\]$/);
      }
      expect(await dashboard.locator('.verdict').count()).toBe(1);

      await dashboard.goto(`${url}/dashboard/`);
      await dashboard.locator('#chart-v2v canvas').first().waitFor({ timeout: 20_000 });
      if (shot) await dashboard.screenshot({ path: shot.replace(/\.png$/, '-overview.png'), fullPage: true });
      expect(pageErrors).toEqual([]);
    });
  }, 600_000);
});
