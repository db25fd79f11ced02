import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AgentSession } from '../src/agent/session.ts';
import { bytesFromInt16 } from '../src/audio/frame.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import type { STT } from '../src/providers/stt/contract.ts';
import { ScriptedTts } from '../src/providers/tts/scripted.ts';
import { EnergyVad } from '../src/providers/vad/energy.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';

/** Hears "hello agent" in any speech: enough to drive the transport end to end. */
const stubStt = (): STT => ({
  name: 'stub',
  stream: (listener) => ({
    push: () => {},
    flush: () => listener.onFinal({ text: 'hello agent.', startMs: 0, endMs: 0 }),
    close: () => {},
  }),
});

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(reply = 'Hello from Repartee.') {
  const clock = new MonotonicClock();
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    createSession: async () =>
      new AgentSession({
        clock,
        vad: new EnergyVad({ minSilenceMs: 100 }),
        stt: stubStt(),
        llm: new ScriptedLlm({ clock, reply: () => reply }),
        tts: new ScriptedTts({ clock, ttfbMs: 5, msPerCharacter: 20 }),
        endpointing: { minDelayMs: 50 },
      }),
  });
  return server;
}

function connect(running: RunningServer) {
  const ws = new WebSocket(`${running.url.replace('http', 'ws')}/ws`);
  const arrivals: { type: string; atMs: number }[] = [];
  ws.on('message', (data, isBinary) =>
    arrivals.push({ type: isBinary ? 'audio' : JSON.parse(data.toString()).type, atMs: performance.now() }),
  );
  const messages: Record<string, unknown>[] = [];
  const audio: Buffer[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) audio.push(data as Buffer);
    else messages.push(JSON.parse(data.toString()));
  });
  const waitFor = async (predicate: () => boolean, timeoutMs = 20_000) => {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until)
        throw new Error(`timed out; got ${JSON.stringify(messages.map((m) => m.type))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { ws, messages, audio, arrivals, waitFor, opened: new Promise((r) => ws.once('open', r)) };
}

const tone = (ms: number) =>
  bytesFromInt16(
    Int16Array.from({ length: (16000 * ms) / 1000 }, (_, i) => Math.round(8000 * Math.sin(i / 3))),
  );

async function speak(ws: WebSocket, voicedMs: number, silentMs: number) {
  for (let t = 0; t < voicedMs; t += 20) {
    ws.send(tone(20));
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let t = 0; t < silentMs; t += 20) {
    ws.send(new Uint8Array(640));
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WebSocket transport', () => {
  it('streams PCM16 in, gets transcript, audio and metrics back', async () => {
    const running = await start();
    const client = connect(running);
    await client.opened;
    await client.waitFor(() => client.messages.some((m) => m.type === 'ready'));
    await speak(client.ws, 400, 600);
    await client.waitFor(() => client.messages.some((m) => m.type === 'metrics'));
    expect(client.messages.some((m) => m.type === 'transcript' && m.final)).toBe(true);
    expect(client.audio.reduce((n, b) => n + b.length, 0)).toBeGreaterThan(16000 * 2 * 0.3);
    const metrics = client.messages.find((m) => m.type === 'metrics')?.metrics as Record<string, unknown>;
    expect(metrics.voiceToVoiceMs).toBeGreaterThan(0);
    expect(running.sessions()).toBe(1);
    // The same turn, as Prometheus sees it.
    const scrape = await (await fetch(`${running.url}/metrics`)).text();
    expect(scrape).toMatch(/^repartee_turns_total\{outcome="completed"\} 1$/m);
    expect(scrape).toMatch(/^repartee_voice_to_voice_seconds_count 1$/m);
    expect(scrape).toMatch(/^repartee_sessions 1$/m);
    client.ws.close();
  });

  it('answers bad input with a clear error and keeps the conversation and other sessions going', async () => {
    const running = await start();
    const bad = connect(running);
    const good = connect(running);
    await Promise.all([bad.opened, good.opened]);
    await bad.waitFor(() => bad.messages.some((m) => m.type === 'ready'));
    bad.ws.send(new Uint8Array(641)); // odd byte count
    bad.ws.send('{"type":"dance"}'); // unknown message
    bad.ws.send('not json');
    bad.ws.send(JSON.stringify({ type: 'config', sampleRate: 12345 }));
    bad.ws.send(new Uint8Array(16000 * 2 + 2)); // just over 1 s at 16 kHz
    bad.ws.send(JSON.stringify({ type: 'playback', speechId: 0, event: 'started' }));
    await bad.waitFor(() => bad.messages.filter((m) => m.type === 'error').length >= 6);
    const errors = bad.messages.filter((m) => m.type === 'error').map((m) => m.message);
    expect(errors[0]).toMatch(/even number of bytes/);
    expect(errors[1]).toMatch(/unknown or malformed message "dance"/);
    expect(errors[2]).toMatch(/not JSON/);
    expect(errors[3]).toMatch(/sampleRate/);
    expect(errors[4]).toMatch(/exceeds the 1000 ms limit/);
    expect(errors[5]).toMatch(/speechId/);
    // The same connection still works after the bad input, typed text included.
    bad.ws.send(JSON.stringify({ type: 'text', text: 'hi' }));
    await bad.waitFor(() => bad.messages.some((m) => m.type === 'metrics'));
    await speak(good.ws, 400, 600);
    await good.waitFor(() => good.messages.some((m) => m.type === 'metrics'));
    const health = await (await fetch(`${running.url}/health`)).json();
    expect(health).toMatchObject({ sessions: 2 }); // status may say degraded on a loaded machine (event-loop lag)
    good.ws.close();
    bad.ws.close();
  });

  it('a protocol violation (oversized frame, invalid UTF-8) closes that client only; the server carries on', async () => {
    const running = await start();
    const bystander = connect(running);
    await bystander.opened;
    await bystander.waitFor(() => bystander.messages.some((m) => m.type === 'ready'));
    for (const violate of [
      (ws: WebSocket) => ws.send(new Uint8Array((1 << 20) + 2)),
      // A text frame whose bytes are not UTF-8: sent raw, as ws would refuse to encode it.
      (ws: WebSocket) =>
        (ws as unknown as { _sender: { sendFrame(list: Buffer[]): void } })._sender.sendFrame([
          Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28]),
        ]),
    ]) {
      const offender = connect(running);
      await offender.opened;
      await offender.waitFor(() => offender.messages.some((m) => m.type === 'ready'));
      const closed = new Promise<number>((resolve) => offender.ws.once('close', (code) => resolve(code)));
      offender.ws.on('error', () => undefined);
      violate(offender.ws);
      expect([1006, 1007, 1009]).toContain(await closed);
    }
    const health = await (await fetch(`${running.url}/health`)).json();
    expect(['ok', 'degraded']).toContain(health.status); // answering is the point; lag depends on the machine
    bystander.ws.send(JSON.stringify({ type: 'text', text: 'Still there?' }));
    await bystander.waitFor(() => bystander.messages.some((m) => m.type === 'metrics'));
    bystander.ws.close();
  });

  it('refuses a browser page from another origin, which could otherwise drive a session', async () => {
    const running = await start();
    const host = new URL(running.url).host;
    const foreign = new WebSocket(`${running.url.replace('http', 'ws')}/ws`, {
      origin: 'https://evil.example',
    });
    const status = await new Promise<number | undefined>((resolve) => {
      foreign.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      foreign.once('open', () => resolve(undefined));
      foreign.once('error', () => undefined);
    });
    expect(status).toBe(403);
    const offer = await fetch(`${running.url}/rtc/offer`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', origin: 'https://evil.example' },
      body: 'v=0',
    });
    expect(offer.status).toBe(403);
    expect(running.sessions()).toBe(0);
    const own = new WebSocket(`${running.url.replace('http', 'ws')}/ws`, { origin: `http://${host}` });
    await new Promise((resolve, reject) => {
      own.once('open', resolve);
      own.once('error', reject);
    });
    own.close();
  });

  it('carries on with the other sessions when a client vanishes mid-reply', async () => {
    const running = await start('This is a long answer. '.repeat(4));
    const leaving = connect(running);
    const staying = connect(running);
    await Promise.all([leaving.opened, staying.opened]);
    await leaving.waitFor(() => leaving.messages.some((m) => m.type === 'ready'));
    leaving.ws.send(JSON.stringify({ type: 'text', text: 'talk for a while' }));
    await leaving.waitFor(() => leaving.audio.length > 5);
    const talking = speak(staying.ws, 400, 600);
    leaving.ws.terminate(); // no close handshake: the socket just goes away
    await talking;
    await staying.waitFor(() => running.sessions() === 1);
    await staying.waitFor(() => staying.messages.some((m) => m.type === 'metrics'), 15_000);
    expect(staying.audio.length).toBeGreaterThan(10);
    const health = await (await fetch(`${running.url}/health`)).json();
    expect(health).toMatchObject({ sessions: 1 });
    staying.ws.close();
  });

  it('times voice-to-voice from the `started` receipt and the interruption stop from `stopped`', async () => {
    const running = await start('This is a long answer. '.repeat(10));
    const client = connect(running);
    const STARTED_DELAY_MS = 150;
    const STOPPED_DELAY_MS = 200;
    let announced: number | undefined;
    let started: number | undefined;
    const receipt = (speechId: number, event: string, delayMs: number, extra = {}) =>
      setTimeout(
        () => client.ws.send(JSON.stringify({ type: 'playback', speechId, event, ...extra })),
        delayMs,
      );
    // A player with a deep buffer: it hears the first sample STARTED_DELAY_MS after it arrives, and its
    // audio stops STOPPED_DELAY_MS after a clear.
    client.ws.on('message', (data, isBinary) => {
      if (isBinary) {
        if (announced !== undefined && started !== announced) {
          started = announced;
          receipt(announced, 'started', STARTED_DELAY_MS);
        }
        return;
      }
      const message = JSON.parse(data.toString());
      if (message.type === 'speech') announced = message.speechId;
      if (message.type === 'clear') receipt(message.speechId, 'stopped', STOPPED_DELAY_MS, { playedMs: 300 });
    });
    await client.opened;
    // Said before `ready`: the server holds it until the session exists.
    client.ws.send(JSON.stringify({ type: 'config', receipts: true }));
    await speak(client.ws, 400, 600);
    await client.waitFor(() => client.audio.length > 20);
    await speak(client.ws, 400, 600); // talk over the agent
    await client.waitFor(() => client.messages.some((m) => m.type === 'metrics'));

    const metrics = client.messages.find((m) => m.type === 'metrics')?.metrics as Record<string, number>;
    expect(metrics.outcome).toBe('interrupted');
    // Measured at the (simulated) ear: the receipt came STARTED_DELAY_MS after the first audio went out.
    expect(metrics.transportMs).toBeGreaterThanOrEqual(STARTED_DELAY_MS);
    expect(metrics.voiceToVoiceMs).toBeGreaterThan(metrics.transportMs);
    expect(metrics.interruptionStopMs).toBeGreaterThanOrEqual(STOPPED_DELAY_MS);
    // The server stopped sending at once: no audio between the `clear` and the next reply's `speech`.
    const clearIndex = client.arrivals.findIndex((a) => a.type === 'clear');
    const nextSpeech = client.arrivals.findIndex((a, i) => i > clearIndex && a.type === 'speech');
    const afterClear = client.arrivals.slice(clearIndex, nextSpeech < 0 ? undefined : nextSpeech);
    expect(clearIndex).toBeGreaterThan(0);
    expect(afterClear.filter((a) => a.type === 'audio')).toEqual([]);
    const ended = client.messages.find((m) => m.type === 'speechEnded');
    expect(ended).toMatchObject({ outcome: 'interrupted' });
    const assistant = client.messages.find((m) => m.type === 'conversationItem' && m.role === 'assistant');
    expect(assistant).toMatchObject({ interrupted: true });
    client.ws.close();
  });

  it('stops sending and tells the client to flush when the user interrupts', async () => {
    const running = await start('This is a long answer. '.repeat(20));
    const client = connect(running);
    await client.opened;
    client.ws.send(JSON.stringify({ type: 'text', text: 'talk for a while' }));
    await client.waitFor(() => client.audio.length > 10);
    client.ws.send(JSON.stringify({ type: 'interrupt' }));
    await client.waitFor(() => client.messages.some((m) => m.type === 'clear'));
    await new Promise((r) => setTimeout(r, 100));
    const received = client.audio.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(client.audio.length).toBe(received);
    expect(client.messages.find((m) => m.type === 'speechEnded')?.outcome).toBe('interrupted');
    expect(client.messages.find((m) => m.type === 'clear')).toEqual({ type: 'clear', speechId: 1 });
    client.ws.close();
  });
});
