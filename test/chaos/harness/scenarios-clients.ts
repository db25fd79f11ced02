/**
 * Scenarios of clients that leave or linger badly: graceful closes at varied points of a reply, processes that
 * are killed or frozen mid-reply, a client that never reads, rapid connect/disconnect, and idle connections.
 */
import { type ChildProcess, fork } from 'node:child_process';
import WebSocket from 'ws';
import { openClient, type ProtocolClient, sleep, spread, within } from './clients.ts';
import type { Scenario } from './scenario.ts';
import { until } from './watch.ts';

const STORY = JSON.stringify({ type: 'text', text: 'Hello, tell me a story please.' });
/** How long a client that does not read is given to be dropped (at least), on a loaded machine too. */
const DROP_WAIT_MS = 30_000;
const VANISHING_CLIENT = new URL('./vanishing-client.ts', import.meta.url).pathname;

/** The issue's reproduction: config, ready, a story, the first audio, 0-400 ms, close(); N times in a row. */
export const gracefulClose: Scenario = {
  name: 'graceful close mid-reply',
  what: 'close() 0-400 ms after the first reply audio, one client after another',
  async run(ctx) {
    const n = ctx.form === 'full' ? 12 : 4;
    const delays = spread(n, 400);
    let sawAudio = 0;
    for (const delay of delays) {
      const client = openClient(ctx.server.wsUrl);
      await within(client.ready, 20_000, undefined);
      client.ws.send(STORY);
      if (
        (await within(
          client.firstAudio.then(() => true),
          20_000,
          false,
        )) === true
      )
        sawAudio++;
      await sleep(delay);
      client.ws.close();
      await within(client.closed, 5_000, undefined);
    }
    return { closes: n, 'closed after audio': sawAudio, delaysMs: delays.join(' ') };
  },
};

function forkVanisher(url: string): { child: ChildProcess; audio: Promise<boolean> } {
  const child = fork(VANISHING_CLIENT, [url], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const audio = new Promise<boolean>((resolve) => {
    child.on('message', (m: { type: string }) => {
      if (m.type === 'audio') resolve(true);
      if (m.type === 'failed' || m.type === 'closed') resolve(false);
    });
    child.once('exit', () => resolve(false));
  });
  return { child, audio };
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));

/** Client processes SIGKILLed mid-reply: the kernel closes their sockets, the process says nothing. */
export const killedClients: Scenario = {
  name: 'client processes killed',
  what: 'client processes SIGKILLed while the agent speaks to them',
  async run(ctx) {
    const n = ctx.form === 'full' ? 6 : 2;
    let mid = 0;
    for (let i = 0; i < n; i++) {
      const { child, audio } = forkVanisher(ctx.server.wsUrl);
      if (await within(audio, 30_000, false)) mid++;
      child.kill('SIGKILL');
      await exited(child);
    }
    return { killed: n, 'killed mid-reply': mid };
  },
};

/**
 * Client processes frozen mid-reply (SIGSTOP): no FIN, no reads, no pongs, so only the server's own liveness
 * check can notice them. They stay frozen until the canary is done, then are killed.
 */
export const frozenClients: Scenario = {
  name: 'clients vanish without FIN',
  what: 'client processes frozen (SIGSTOP) mid-reply: no FIN, no reads, no pongs',
  async run(ctx) {
    const n = ctx.form === 'full' ? 4 : 2;
    // Counted before any is forked, once the canary is connected: the server is done when this many remain
    // (it may drop the first frozen ones while later ones are still starting).
    await until(async () => ((await ctx.server.health()).sessions ?? 0) >= 1, 15_000, 100);
    const base = (await ctx.server.health()).sessions ?? 1;
    const children: ChildProcess[] = [];
    let mid = 0;
    for (let i = 0; i < n; i++) {
      const { child, audio } = forkVanisher(ctx.server.wsUrl);
      children.push(child);
      if (await within(audio, 30_000, false)) mid++;
      child.kill('SIGSTOP');
    }
    const frozenAt = performance.now();
    // The server should end these sessions on its own (ping without pong), long before TCP would give up.
    const noticed = await until(async () => ((await ctx.server.health()).sessions ?? 0) <= base, 30_000, 200);
    const noticedMs = Math.round(performance.now() - frozenAt);
    await ctx.canaryDone;
    for (const child of children) {
      child.kill('SIGKILL');
      await exited(child);
    }
    return {
      frozen: n,
      'frozen mid-reply': mid,
      'server ended their sessions': noticed ? `yes, within ${noticedMs} ms` : 'NO (still open after 30 s)',
    };
  },
  expected: (observed) =>
    String(observed['server ended their sessions']).startsWith('yes')
      ? undefined
      : "the server kept the frozen clients' sessions",
};

/** A client that asks for stories and never reads a byte of the answers. */
export const slowConsumer: Scenario = {
  name: 'client never reads',
  what: 'asks for stories, pauses its socket (never reads), keeps asking until the server drops it',
  async run(ctx) {
    const client = openClient(ctx.server.wsUrl);
    await within(client.ready, 20_000, undefined);
    const sessionId = String(client.messages.find((m) => m.type === 'ready')?.sessionId ?? '?');
    const logMark = ctx.server.mark();
    client.ws.send(STORY);
    await within(client.firstAudio, 20_000, undefined);
    client.ws.pause();
    let asked = 1;
    // A paused socket reads nothing, so its close is not seen here: the server's log says whether and why it
    // dropped this client's session (the session count would not: the canary comes and goes between turns).
    const started = performance.now();
    let dropped: { afterMs: number; reason: string } | undefined;
    // Keep the server producing audio for this client while the canary runs, and after it (a short canary) until
    // the server has had time to notice: its bound is maxUnsentAudioMs + pongTimeoutMs, 7.5 s by default.
    let canaryDone = false;
    void ctx.canaryDone.then(() => {
      canaryDone = true;
    });
    while (!canaryDone || performance.now() - started < DROP_WAIT_MS) {
      await sleep(2_000);
      const reason = droppedReason(ctx.server.log(logMark), sessionId);
      if (reason !== undefined) {
        dropped = { afterMs: Math.round(performance.now() - started), reason };
        break;
      }
      if (client.ws.readyState === WebSocket.OPEN) {
        client.ws.send(STORY);
        asked++;
      }
    }
    client.ws.resume();
    client.ws.terminate();
    return {
      'stories asked': asked,
      'server dropped it': dropped
        ? `after ${dropped.afterMs} ms (${dropped.reason})`
        : 'no (its session open)',
    };
  },
  expected: (observed) =>
    String(observed['server dropped it']).startsWith('after')
      ? undefined
      : 'the server never dropped the client that does not read',
};

/** The reason the server logged for dropping `sessionId`'s client, if it did. */
function droppedReason(log: string, sessionId: string): string | undefined {
  for (const line of log.split('\n')) {
    if (!line.includes(sessionId) || !line.includes('client dropped')) continue;
    try {
      return String((JSON.parse(line) as { reason?: unknown }).reason ?? 'no reason logged');
    } catch {
      return 'no reason logged';
    }
  }
  return undefined;
}

/** Rapid connect/disconnect, ten at a time: some close before `ready`, some after, some right after opening. */
export const rapidConnects: Scenario = {
  name: 'rapid connect/disconnect',
  what: 'connect and disconnect, 10 at a time: before, at and after ready',
  async run(ctx) {
    const total = ctx.form === 'full' ? 1000 : 100;
    let next = 0;
    let readied = 0;
    let refused = 0;
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        const client = openClient(ctx.server.wsUrl);
        if (i % 3 === 0) {
          // Gone as soon as the socket opens (or fails to).
          await within(new Promise((r) => client.ws.once('open', r)), 10_000, undefined);
          client.ws.terminate();
        } else {
          const ok = await within(
            client.ready.then(() => true),
            20_000,
            false,
          );
          if (ok) readied++;
          else refused++;
          if (i % 3 === 1) client.ws.close();
          else client.ws.terminate();
        }
        await within(client.closed, 5_000, undefined);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    return { connections: total, 'reached ready': readied, 'refused or no ready': refused };
  },
};

/** Connections that send `config` and then nothing, held until the canary is done. */
export const idleConnections: Scenario = {
  name: 'idle connections',
  startsAfterCanary: true,
  what: 'connections that send config and then nothing, held while the canary talks',
  async run(ctx) {
    const target = ctx.form === 'full' ? 300 : 30;
    const clients: ProtocolClient[] = [];
    let readied = 0;
    let refused = 0;
    let guarded = false;
    const reasons = new Map<string, number>();
    for (let i = 0; i < target; i += 10) {
      if (ctx.peakRssBytes() > ctx.rssGuardBytes) {
        guarded = true;
        break;
      }
      const batch = Array.from({ length: Math.min(10, target - i) }, () => openClient(ctx.server.wsUrl));
      clients.push(...batch);
      const results = await Promise.all(
        batch.map((c) =>
          within(
            c.ready.then(() => true),
            20_000,
            false,
          ),
        ),
      );
      for (const [j, ok] of results.entries()) {
        if (ok) readied++;
        else {
          refused++;
          const closed = await within(batch[j].closed, 1_000, { code: 0, reason: 'no close' });
          const key = `${closed.code} ${closed.reason}`.trim();
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        }
      }
    }
    const heldRss = ctx.peakRssBytes();
    await ctx.canaryDone;
    for (const c of clients) c.ws.close();
    await Promise.all(clients.map((c) => within(c.closed, 5_000, undefined)));
    return {
      opened: clients.length,
      'reached ready': readied,
      refused: refused ? `${refused} (${[...reasons].map(([k, v]) => `${v}× ${k}`).join(', ')})` : 0,
      'peak RSS MiB': Math.round(heldRss / 2 ** 20),
      ...(guarded ? { 'stopped at RSS guard': `${Math.round(ctx.rssGuardBytes / 2 ** 20)} MiB` } : {}),
    };
  },
  // Held under 2 GB, and any connection past the cap refused with a 503 (a reason a client can act on).
  expected: (observed) => {
    if (Number(observed['peak RSS MiB']) > 2048) return `peak RSS ${observed['peak RSS MiB']} MiB, over 2 GB`;
    const refusals = String(observed.refused).split(/, (?=\d+× )/);
    const unclear = refusals.filter((r) => r !== '0' && !/503/.test(r));
    return unclear.length ? `refused without a 503: ${unclear.join(', ')}` : undefined;
  },
};
