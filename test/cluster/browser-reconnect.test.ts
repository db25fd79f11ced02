/**
 * The talk page in headless Chromium behind HAProxy with two workers: the worker holding the conversation is
 * killed; the page shows "Reconnecting…", reconnects by itself with its conversation id to the other worker, and
 * the next typed message is answered there with the history intact (checked in Redis).
 */

import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildMicWav,
  hasChromium,
  launchChromium,
  pageDebug,
  startConversation,
  withTempDir,
} from '../browser/harness.ts';
import {
  freePort,
  health,
  type Proc,
  startHaproxy,
  startRedis,
  startWorker,
  type WorkerProc,
  waitFor,
} from './harness.ts';

let redis: Proc & { port: number };
let haproxy: Proc & { port: number; url: string };
let workers: WorkerProc[] = [];
let db: Redis;
let browser: Browser | undefined;

describe.skipIf(!hasChromium)('talk page behind HAProxy: automatic reconnect', () => {
  beforeAll(async () => {
    redis = await startRedis();
    db = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    db.on('error', () => undefined);
    const proxyPort = await freePort();
    workers = await Promise.all(
      ['b1', 'b2'].map((id) => startWorker({ id, redisPort: redis.port, proxyPort })),
    );
    haproxy = await startHaproxy(workers, proxyPort);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    db?.disconnect();
    await Promise.all([haproxy?.kill('SIGTERM'), ...workers.map((w) => w.kill()), redis?.kill()]);
  });

  for (const transport of ['websocket', 'webrtc'] as const) {
    it(`over ${transport}: the worker dies, the page shows reconnecting, resumes elsewhere and answers`, async () => {
      await withTempDir(async (dir) => {
        const mic = await buildMicWav(dir, 'quiet', [{ silenceS: 2 }]);
        browser = await launchChromium(mic);
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('console', (m) => errors.push(`${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
        try {
          await startConversation(page, haproxy.url, transport);
        } catch (error) {
          throw new Error(
            `${(error as Error).message}\n${errors.join('\n')}\n${JSON.stringify((await pageDebug(page).catch(() => ({}))) as object).slice(0, 2000)}`,
          );
        }
        const items = async () => (await pageDebug(page)).messageCounts?.conversationItem ?? 0;
        const type = async (text: string) => {
          await page.locator('#text-input').fill(text);
          await page.locator('#text-send').click();
        };
        await type('Once upon a time there was a little cat.');
        await waitFor('the first reply', async () => (await items()) >= 2, 120_000);
        let found: WorkerProc | undefined;
        await waitFor(
          'the worker holding the conversation',
          async () => {
            for (const w of workers.filter((w) => w.alive))
              if ((await health(w.url)).sessions === 1) found = w;
            return found !== undefined;
          },
          30_000,
        );
        const holder = found!;
        const conversationId = new URL(await page.evaluate(() => location.href)).searchParams.get(
          'conversation',
        );
        expect(conversationId).toBeNull(); // the id rides on the connection, not the page's address
        // Every label the page shows, recorded in the page itself: polling it over CDP misses a short
        // "Reconnecting…" when Chromium is starved of CPU.
        await page.evaluate(() => {
          const label = document.querySelector('#connection');
          const seen: string[] = [label?.textContent ?? ''];
          (window as unknown as { connectionLabels: string[] }).connectionLabels = seen;
          if (label)
            new MutationObserver(() => seen.push(label.textContent ?? '')).observe(label, {
              childList: true,
              characterData: true,
              subtree: true,
            });
        });
        await holder.kill('SIGKILL');
        await waitFor(
          'reconnected',
          async () => ((await pageDebug(page)) as { reconnects?: number }).reconnects === 1,
          60_000,
        );
        const seen = await page.evaluate(
          () => (window as unknown as { connectionLabels: string[] }).connectionLabels,
        );
        expect(seen).toContain('Reconnecting…');
        const other = workers.find((w) => w.alive && w !== holder)!;
        // The page counts the reconnect when its link is up; the worker counts the session once it is made.
        await waitFor(
          'the other worker holds the session',
          async () => (await health(other.url)).sessions === 1,
          30_000,
        );
        const before = await items();
        await type('And what did the cat do next?');
        await waitFor('the reply after the reconnect', async () => (await items()) >= before + 2, 120_000);
        const id = ((await pageDebug(page)) as { conversationId?: string }).conversationId!;
        const stored = (await db.lrange(`repartee:conv:${id}:items`, 0, -1)).map((t) => JSON.parse(t));
        expect(stored.map((i: { worker: string }) => i.worker)).toEqual([
          holder.id,
          holder.id,
          other.id,
          other.id,
        ]);
        await page.getByRole('button', { name: 'End conversation' }).click();
        await browser.close();
        browser = undefined;
        // The killed slot is started again for the next transport.
        const fresh = await startWorker({
          id: holder.id,
          redisPort: redis.port,
          port: holder.port,
          agentPort: holder.agentPort,
          proxyPort: haproxy.port,
        });
        workers = workers.map((w) => (w === holder ? fresh : w));
        await waitFor('no sessions left', async () => (await health(other.url)).sessions === 0, 30_000);
      });
    }, 400_000);
  }
});
