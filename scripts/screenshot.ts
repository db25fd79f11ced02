/**
 * Regenerates docs/screenshot.png: the talk page in headless Chromium, mid-conversation with the real server
 * on the embedded local stack (Silero VAD, pocketsphinx, flite, the stories260K test model). Chromium's fake
 * microphone asks two LibriVox questions; the shot is taken once both turns have their latency waterfalls.
 *
 *   npm run screenshot [-- --out docs/screenshot.png] [--transport webrtc|websocket]
 */
import { parseArgs } from 'node:util';
import {
  buildMicWav,
  CLIP_AMIABLE,
  CLIP_SHORT,
  hasChromium,
  launchChromium,
  pageDebug,
  startConversation,
  startTestServer,
  waitFor,
  withTempDir,
} from '../test/browser/harness.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/screenshot.png' },
    transport: { type: 'string', default: 'webrtc' },
  },
});
const transport = values.transport === 'websocket' ? 'websocket' : 'webrtc';

if (!hasChromium) {
  console.error('screenshot: /usr/bin/chromium is missing (scripts/setup.sh installs it)');
  process.exit(1);
}

await withTempDir(async (dir) => {
  const mic = await buildMicWav(dir, 'screenshot', [
    { silenceS: 0.5 },
    { clip: CLIP_SHORT },
    { silenceS: 9 },
    { clip: CLIP_AMIABLE },
    { silenceS: 1 },
  ]);
  const server = await startTestServer({ kind: 'stories' });
  const browser = await launchChromium(mic);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
    await startConversation(page, server.running.url, transport);
    await waitFor('two answered turns', () => (server.sessions[0]?.metrics.length ?? 0) >= 2 || undefined, {
      timeoutMs: 180_000,
      describe: () => pageDebug(page),
    });
    await page.locator('.turn').nth(1).waitFor();
    await page.locator('#text-input').fill('What happened next?');
    await page.screenshot({ path: values.out });
    const turns = server.sessions[0].metrics.map(
      (m) => `turn ${m.turnId}: ${m.voiceToVoiceMs} ms voice-to-voice`,
    );
    console.log(`wrote ${values.out} (${transport}; ${turns.join(', ')})`);
  } finally {
    await browser.close();
    await server.close();
  }
});
