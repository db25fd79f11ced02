import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { AgentSessionEvents } from '../../src/agent/events.ts';
import { AgentSession } from '../../src/agent/session.ts';
import { loadConfig, type ReparteeConfig } from '../../src/config/config.ts';
import { createProviders, type ProviderSet } from '../../src/config/providers.ts';
import { createConfiguredSession } from '../../src/config/session.ts';
import { MonotonicClock } from '../../src/metrics/clock.ts';
import type { TurnMetrics } from '../../src/metrics/schema.ts';
import { ScriptedLlm } from '../../src/providers/llm/scripted.ts';
import { type RunningServer, startServer } from '../../src/server/server.ts';

const run = promisify(execFile);

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const REPO = resolve(import.meta.dirname, '../..');
const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
/** "he was not an ill disposed young man" (3.0 s). */
export const CLIP_SHORT = join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0880.wav');
/** "he might even have been made amiable himself" (3.3 s). */
export const CLIP_AMIABLE = join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0930.wav');
export const STORIES_MODEL = join(REPO, 'test/fixtures/models/stories260K.gguf');

export type WavPart = { clip: string } | { silenceS: number };

/**
 * A fake-microphone WAV from LibriVox clips and silences, built with sox: 48 kHz mono 16-bit, the format
 * Chromium's fake capture device plays without conversion.
 */
export async function buildMicWav(dir: string, name: string, parts: WavPart[]): Promise<string> {
  const pieces: string[] = [];
  for (const [i, part] of parts.entries()) {
    const piece = join(dir, `${name}-${i}.wav`);
    if ('clip' in part) await run('sox', [part.clip, '-r', '48000', '-c', '1', '-b', '16', piece]);
    else
      await run('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', piece, 'trim', '0', `${part.silenceS}`]);
    pieces.push(piece);
  }
  const out = join(dir, `${name}.wav`);
  await run('sox', [...pieces, out]);
  return out;
}

/** Headless Debian Chromium whose microphone plays `micWav` once, from when the page opens it. */
export function launchChromium(micWav: string): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${micWav}%noloop`,
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** What the server side saw of every session it ran, for assertions against the page. */
export interface SessionRecord {
  session: AgentSession;
  transcripts: AgentSessionEvents['transcript'][];
  metrics: TurnMetrics[];
  speechEnded: AgentSessionEvents['speechEnded'][];
  interruptions: AgentSessionEvents['interruption'][];
  errors: string[];
  /** What reached the session: audio frames pushed (last timestamp, session-clock time of the push) and states. */
  input: { frames: number; lastTimestampMs: number; lastPushedAtMs: number };
  states: string[];
}

export interface TestServer {
  running: RunningServer;
  sessions: SessionRecord[];
  close(): Promise<void>;
}

export type ReplyMode = { kind: 'stories' } | { kind: 'scripted'; reply: string; tokensPerSecond?: number };

/**
 * The real server (`startServer`, serving web/) over the embedded local stack: Silero VAD, pocketsphinx,
 * flite, and either the stories260K model (1 thread, 24 tokens) or a scripted LLM with a fixed reply.
 */
export async function startTestServer(
  mode: ReplyMode,
  options: { token?: string } = {},
): Promise<TestServer> {
  const config = await loadConfig({
    file: join(REPO, 'test/browser/no-such-config.json'),
    env: {},
    overrides: {
      llm: `llama:${STORIES_MODEL}`,
      llmThreads: 1,
      llmMaxTokens: 24,
      tts: 'flite',
      server: { host: '127.0.0.1', port: 0 },
    },
  });
  const providers = await createProviders(config);
  const sessions: SessionRecord[] = [];
  const running = await startServer({
    host: '127.0.0.1',
    port: 0,
    token: options.token,
    webRoot: join(REPO, 'web'),
    // Liveness has its own tests (src/transport/*heartbeat.test.ts, test/hangup.test.ts); here a Chromium starved
    // of CPU on a loaded machine, answering a ping 3 s late, must not be dropped for a dead peer mid-test.
    webrtc: { heartbeatTimeoutMs: 15_000 },
    websocket: { pongTimeoutMs: 15_000 },
    createSession: async () => {
      const session = await createSession(mode, config, providers);
      sessions.push(recordSession(session));
      return session;
    },
  });
  return {
    running,
    sessions,
    close: async () => {
      await running.close();
      await providers.close();
    },
  };
}

async function createSession(mode: ReplyMode, config: ReparteeConfig, providers: ProviderSet) {
  if (mode.kind === 'stories') return createConfiguredSession(config, providers);
  const clock = new MonotonicClock();
  return new AgentSession({
    clock,
    vad: providers.vad,
    stt: providers.stt,
    tts: providers.tts,
    llm: new ScriptedLlm({ clock, reply: () => mode.reply, tokensPerSecond: mode.tokensPerSecond ?? 40 }),
    instructions: config.instructions,
    endpointing: config.endpointing,
    interruption: config.interruption,
  });
}

function recordSession(session: AgentSession): SessionRecord {
  const record: SessionRecord = {
    session,
    transcripts: [],
    metrics: [],
    speechEnded: [],
    interruptions: [],
    errors: [],
    input: { frames: 0, lastTimestampMs: Number.NaN, lastPushedAtMs: Number.NaN },
    states: [],
  };
  // Counted where the transport hands audio over: a stalled conversation says whether the audio still came.
  const pushAudio = session.pushAudio.bind(session);
  session.pushAudio = (frame) => {
    record.input.frames++;
    record.input.lastTimestampMs = Math.round(frame.timestampMs);
    record.input.lastPushedAtMs = Math.round(session.clock.now());
    pushAudio(frame);
  };
  session.on('state', (event) => record.states.push(`${event.state} at ${Math.round(event.atMs)}`));
  session.on('transcript', (event) => record.transcripts.push(event));
  session.on('metrics', (event) => record.metrics.push(event));
  session.on('speechEnded', (event) => record.speechEnded.push(event));
  session.on('interruption', (event) => record.interruptions.push(event));
  session.on('error', ({ source, error }) => record.errors.push(`${source}: ${error.message}`));
  return record;
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` and the last state. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  {
    timeoutMs = 60_000,
    intervalMs = 100,
    describe,
  }: { timeoutMs?: number; intervalMs?: number; describe?: () => unknown } = {},
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) {
      const state = describe ? `\n${JSON.stringify(await describe(), null, 2).slice(0, 4000)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The page's own record of what it received and rendered (web/js/debug.js). */
export interface PageDebug {
  transport: string | null;
  sessionId: string | null;
  connected: boolean;
  agentState: string | null;
  messageCounts: Record<string, number>;
  log: { dir: 'in' | 'out'; type: string; speechId?: number; event?: string; atMs: number }[];
  mic: { rms: number; peak: number; framesSent: number };
  agentAudio: {
    receivedSamples: number;
    receivedRms: number;
    renderedMs: number;
    audibleMs: number;
    audibleRms: number;
    peak: number;
    playing: boolean;
    speeches: Record<
      string,
      {
        startedAtMs: number | null;
        clearedAtMs: number | null;
        stoppedAtMs: number | null;
        finishedAtMs: number | null;
        playedMs: number | null;
        audibleMsAtStop: number | null;
        audibleMsAfterStop: number;
      }
    >;
  };
  errors: string[];
}

export function pageDebug(page: Page): Promise<PageDebug> {
  return page.evaluate(() =>
    (window as unknown as { reparteeDebug: { snapshot(): PageDebug } }).reparteeDebug.snapshot(),
  );
}

/**
 * Gives the page a microphone the test can speak into on cue: the page's getUserMedia still opens Chromium's
 * fake capture device (the WAV given to launchChromium, with its browser-side processing), and its track is
 * mixed in a Web Audio graph with whatever `speakIntoMic` plays, so a barge-in can start when the page is
 * actually playing the reply instead of at a fixed second of a pre-built file (which a loaded machine misses).
 * Call before the page loads.
 */
export async function installCueableMic(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const devices = navigator.mediaDevices;
    const open = devices.getUserMedia.bind(devices);
    const w = window as unknown as { reparteeTestMic?: { say(b64: string): Promise<number> } };
    devices.getUserMedia = async (constraints) => {
      const device = await open(constraints);
      const context = new AudioContext({ sampleRate: 48_000 });
      const mix = context.createMediaStreamDestination();
      context.createMediaStreamSource(device).connect(mix);
      w.reparteeTestMic = {
        async say(b64: string) {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const buffer = await context.decodeAudioData(bytes.buffer);
          const source = context.createBufferSource();
          source.buffer = buffer;
          source.connect(mix);
          const ended = new Promise<void>((resolve) => {
            source.onended = () => resolve();
          });
          source.start();
          await ended;
          return buffer.duration;
        },
      };
      // Stopping the page's track stops the device too, as with a real microphone.
      const [track] = mix.stream.getAudioTracks();
      const stop = track.stop.bind(track);
      track.stop = () => {
        stop();
        for (const t of device.getTracks()) t.stop();
        void context.close();
      };
      return mix.stream;
    };
  });
}

/** Plays a WAV into the cueable microphone (installCueableMic) and resolves when it has been spoken. */
export async function speakIntoMic(page: Page, wav: string): Promise<void> {
  const b64 = (await readFile(wav)).toString('base64');
  await page.waitForFunction(() => 'reparteeTestMic' in window, undefined, { timeout: 30_000 });
  await page.evaluate(
    (data) =>
      (window as unknown as { reparteeTestMic: { say(b64: string): Promise<number> } }).reparteeTestMic.say(
        data,
      ),
    b64,
  );
}

/** Opens the talk page, picks the transport with its switch and clicks the talk button once. */
export async function startConversation(page: Page, url: string, transport: 'webrtc' | 'websocket') {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  await page.goto(url);
  await page.getByLabel(transport === 'webrtc' ? 'WebRTC' : 'WebSocket').check();
  await page.getByRole('button', { name: 'Start talking' }).click();
  await page.getByRole('button', { name: 'End conversation' }).waitFor({ timeout: 30_000 });
  return errors;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'repartee-browser-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
