import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { createProviders, NO_LLM_NOTICE } from '../src/config/providers.ts';
import { createConfiguredSession } from '../src/config/session.ts';
import { ModelSetup } from '../src/server/model-setup.ts';
import { startServer } from '../src/server/server.ts';
import {
  buildMicWav,
  CLIP_SHORT,
  hasChromium,
  installCueableMic,
  launchChromium,
  pageDebug,
  REPO,
  speakIntoMic,
  startConversation,
  waitFor,
  withTempDir,
} from './browser/harness.ts';

/**
 * A fresh install as a new user meets it: no model in the models folder, the real server over the embedded local
 * stack (Silero, pocketsphinx, flite), the page in Chromium over WebRTC, speech into its microphone.
 */
describe.skipIf(!hasChromium)('first run without a model (Chromium)', () => {
  let browser: Browser | undefined;
  afterAll(async () => browser?.close());

  it('one notice on the page, spoken in full over the user; typed and spoken turns get it once each; one time scale', async () => {
    await withTempDir(async (dir) => {
      const emptyModels = await mkdtemp(join(tmpdir(), 'repartee-no-models-'));
      const config = await loadConfig({
        file: join(REPO, 'test/browser/no-such-config.json'),
        env: {},
        overrides: { tts: 'flite', modelsDir: emptyModels, server: { host: '127.0.0.1', port: 0 } },
      });
      const providers = await createProviders(config);
      expect(providers.llmSpec).toBeNull();
      const ended: { speechId: number; outcome: string; heardText: string }[] = [];
      const serverErrors: string[] = [];
      const running = await startServer({
        host: '127.0.0.1',
        port: 0,
        webRoot: join(REPO, 'web'),
        // Offline as this machine is: a closed loopback port stands for the unreachable model host.
        setup: new ModelSetup({ llmSpec: null, notice: NO_LLM_NOTICE, modelHostUrl: 'http://127.0.0.1:9/' }),
        createSession: async () => {
          const session = await createConfiguredSession(config, providers);
          session.on('speechEnded', (e) => ended.push(e));
          session.on('error', (e) => serverErrors.push(`${e.source}: ${e.error.message}`));
          return session;
        },
      });
      try {
        browser = await launchChromium(await buildMicWav(dir, 'quiet', [{ silenceS: 1 }]));
        const page = await browser.newPage();
        await installCueableMic(page);
        const pageErrors = await startConversation(page, running.url, 'webrtc');

        // One notice panel with the command; offline, no download button.
        const notice = page.locator('#setup-notice');
        await notice.waitFor({ state: 'visible', timeout: 30_000 });
        expect(await page.locator('.setup-notice:visible').count()).toBe(1);
        expect(await notice.locator('.notice-command').textContent()).toBe('repartee models pull');
        expect(await notice.locator('.notice-download').isVisible()).toBe(false);

        step('notice panel checked');
        // The user talks while the notice is being said: it is not cut, and that turn is answered by it.
        await waitFor('the notice to be playing', async () =>
          (await pageDebug(page)).agentState === 'speaking' ? true : undefined,
        );
        await speakIntoMic(page, CLIP_SHORT);
        step('spoke over the notice');
        const first = await waitFor('the first notice to end', () => ended[0], { timeoutMs: 90_000 });
        expect(first).toMatchObject({ outcome: 'completed', heardText: NO_LLM_NOTICE });

        // Its words reached the page as they were spoken, before the speech ended.
        const log = (await pageDebug(page)).log.filter((m) => m.dir === 'in');
        const firstText = log.findIndex((m) => m.type === 'agentText');
        expect(firstText).toBeGreaterThanOrEqual(0);
        expect(firstText).toBeLessThan(log.findIndex((m) => m.type === 'speechEnded'));

        // Heard in full at the page: the played time of the notice against its synthesized length.
        step(`first notice ended: ${JSON.stringify(first)}`);
        const expectedMs = await synthesizedMs(providers.tts, NO_LLM_NOTICE);
        const played = await waitFor('the page to finish playing the notice', async () => {
          const s = (await pageDebug(page)).agentAudio.speeches[String(first.speechId)];
          return s?.finishedAtMs && s.startedAtMs ? s : undefined;
        });
        step(`played ${JSON.stringify(played)} of ${expectedMs} ms`);
        const playedMs = Math.max(
          played.playedMs ?? 0,
          (played.finishedAtMs ?? 0) - (played.startedAtMs ?? 0),
        );
        expect(playedMs).toBeGreaterThan(expectedMs * 0.8); // leading silence is trimmed; nothing else is cut

        // The spoken turn said during the notice committed and got no second notice.
        expect(ended).toHaveLength(1);

        // A typed turn: the notice once more, in full.
        await page.getByLabel('Type a message instead of speaking').fill('Hello, can you answer me?');
        await page.getByRole('button', { name: 'Send' }).click();
        const typed = await waitFor('the typed turn to be answered', () => ended[1], { timeoutMs: 90_000 });
        expect(typed).toMatchObject({ outcome: 'completed', heardText: NO_LLM_NOTICE });

        step('typed turn answered');
        // A spoken turn after it: the notice once more.
        await speakIntoMic(page, CLIP_SHORT);
        const spoken = await waitFor('the spoken turn to be answered', () => ended[2], { timeoutMs: 90_000 });
        expect(spoken).toMatchObject({ outcome: 'completed', heardText: NO_LLM_NOTICE });

        step('spoken turn answered');
        // Still one notice on the page, no error banner per turn, no "outcome error" card.
        expect(await page.locator('.setup-notice:visible').count()).toBe(1);
        expect(await page.locator('#errors .error').count()).toBe(0);
        expect(serverErrors).toEqual([]);
        expect(ended).toHaveLength(3); // the turn said over the first notice got no notice of its own
        const cards = page.locator('#turns .turn');
        await waitFor('the turn cards', async () => ((await cards.count()) >= 2 ? true : undefined));
        const footnotes = await page.locator('#turns .turn-foot').allTextContents();
        expect(footnotes.some((f) => f.includes('outcome error'))).toBe(false);

        // One time scale: every card has the same axis, and a millisecond is as wide on each.
        const scales = await page.$$eval('#turns .turn', (turns) =>
          turns.map((turn) => {
            const axisMs = Number((turn as HTMLElement).dataset.axisMs);
            const track = turn.querySelector('.stage .track') as HTMLElement;
            const labels = Array.from(turn.querySelectorAll('.axis span'), (s) => s.textContent);
            return { axisMs, pxPerMs: track.getBoundingClientRect().width / axisMs, labels };
          }),
        );
        expect(new Set(scales.map((s) => s.axisMs)).size).toBe(1);
        expect(new Set(scales.map((s) => s.labels.join(','))).size).toBe(1);
        for (const s of scales) expect(s.pxPerMs).toBeCloseTo(scales[0].pxPerMs, 3);
        expect(pageErrors).toEqual([]);
      } finally {
        await running.close();
        await providers.close();
        await rm(emptyModels, { recursive: true, force: true });
      }
    });
  }, 300_000);
});

const started = performance.now();
/** Progress on stderr: a slow step on a loaded machine shows where the time went. */
const step = (what: string) =>
  process.stderr.write(`[first-run +${Math.round(performance.now() - started)} ms] ${what}\n`);

/** How long the TTS's audio for `text` lasts. */
async function synthesizedMs(
  tts: Awaited<ReturnType<typeof createProviders>>['tts'],
  text: string,
): Promise<number> {
  const stream = tts.stream({ signal: new AbortController().signal });
  stream.pushText(text);
  stream.flush();
  stream.end();
  let samples = 0;
  for await (const audio of stream) samples += audio.frame.samples.length;
  return (samples * 1000) / tts.sampleRate;
}
