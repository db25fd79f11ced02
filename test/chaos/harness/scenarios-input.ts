/**
 * Scenarios of bad input: WebSocket frames no client should send, SDP offers that are mangled or never
 * connect, and HTTP requests sent a byte at a time (slowloris).
 */
import { connect, type Socket } from 'node:net';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { openClient, sleep, spread, within } from './clients.ts';
import type { Scenario } from './scenario.ts';
import { until } from './watch.ts';

type Abuse = { name: string; send: (ws: import('ws').WebSocket) => void; beforeConfig?: boolean };

const ABUSES: Abuse[] = [
  { name: 'binary garbage before config', beforeConfig: true, send: (ws) => ws.send(randomBytes(3000, 1)) },
  {
    name: 'odd-length audio frames',
    send: (ws) => {
      for (let i = 0; i < 50; i++) ws.send(randomBytes(641, i));
    },
  },
  {
    name: 'one-byte frames',
    send: (ws) => {
      for (let i = 0; i < 200; i++) ws.send(Buffer.of(i & 0xff));
    },
  },
  { name: 'oversized binary frame (4 MiB)', send: (ws) => ws.send(Buffer.alloc(4 << 20, 1)) },
  {
    name: 'invalid UTF-8 text frame',
    send: (ws) => ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]), { binary: false }),
  },
  {
    name: 'huge JSON (8 MiB)',
    send: (ws) => ws.send(JSON.stringify({ type: 'text', text: 'a'.repeat(8 << 20) })),
  },
  {
    name: 'JSON just under the frame cap',
    send: (ws) => ws.send(JSON.stringify({ type: 'text', text: 'b'.repeat((1 << 20) - 64) })),
  },
  { name: 'deeply nested JSON', send: (ws) => ws.send(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) },
  {
    name: 'wrong message shapes',
    send: (ws) => {
      for (const m of [
        {},
        { type: 7 },
        { type: 'config', sampleRate: -1 },
        { type: 'playback', speechId: 'x' },
        [],
        null,
        'text',
      ])
        ws.send(JSON.stringify(m));
    },
  },
  {
    name: 'config twice, then audio at another rate',
    send: (ws) => {
      ws.send(JSON.stringify({ type: 'config', sampleRate: 8000 }));
      for (let i = 0; i < 50; i++) ws.send(randomBytes(320, i));
    },
  },
];

/** Deterministic bytes (a failure repeats run after run). */
function randomBytes(length: number, seed: number): Buffer {
  const values = spread(length, 256, seed + 1);
  return Buffer.from(values);
}

export const garbageFrames: Scenario = {
  name: 'garbage frames',
  what: 'binary garbage, odd/one-byte/oversized frames, invalid UTF-8, huge and nested JSON, wrong shapes',
  async run(ctx) {
    const outcomes: string[] = [];
    const rounds = ctx.form === 'full' ? 3 : 1;
    for (let round = 0; round < rounds; round++) {
      for (const abuse of ABUSES) {
        const client = openClient(ctx.server.wsUrl, { config: !abuse.beforeConfig });
        if (abuse.beforeConfig)
          await within(new Promise((r) => client.ws.once('open', r)), 10_000, undefined);
        else await within(client.ready, 20_000, undefined);
        try {
          abuse.send(client.ws);
        } catch (error) {
          outcomes.push(`${abuse.name}: send threw ${(error as Error).message}`);
        }
        const closed = await within(client.closed, 3_000, undefined);
        const errors = client.messages.filter((m) => m.type === 'error').length;
        if (round === 0)
          outcomes.push(
            `${abuse.name}: ${closed ? `closed ${closed.code}` : 'kept open'}${errors ? `, ${errors} error msgs` : ''}`,
          );
        client.ws.terminate();
        await within(client.closed, 3_000, undefined);
      }
    }
    return { connections: ABUSES.length * rounds, outcomes: outcomes.join('; ') };
  },
};

/** A real offer from a Node WebRTC peer (werift), as a browser would send. */
async function makeOffer(): Promise<{ pc: RTCPeerConnection; sdp: string }> {
  const pc = new RTCPeerConnection({
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48_000, channels: 2 })],
    },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  });
  pc.addTransceiver('audio', { direction: 'sendrecv' });
  pc.createDataChannel('control');
  await pc.setLocalDescription(await pc.createOffer());
  await until(() => pc.iceGatheringState === 'complete', 5_000, 20);
  return { pc, sdp: pc.localDescription?.sdp ?? '' };
}

function mutations(sdp: string): { name: string; body: string }[] {
  const lines = sdp.split('\r\n');
  return [
    { name: 'truncated', body: sdp.slice(0, Math.floor(sdp.length / 2)) },
    { name: 'no fingerprint', body: lines.filter((l) => !l.startsWith('a=fingerprint')).join('\r\n') },
    { name: 'no ice-ufrag', body: lines.filter((l) => !l.startsWith('a=ice-ufrag')).join('\r\n') },
    { name: 'garbage lines', body: `${sdp}x=${'\u0000'.repeat(10)}\r\nm=video -1 FOO\r\n` },
    {
      name: 'candidates to a closed port',
      body: sdp.replace(/(a=candidate:\S+ \d \S+ \d+ \S+ )\d+/g, '$19'),
    },
    { name: 'bytes flipped', body: flipBytes(sdp) },
    { name: 'not SDP', body: '{"type":"offer"}' },
    { name: 'empty', body: '' },
  ];
}

/** Every 37th byte flipped: an offer corrupted in transit. */
function flipBytes(sdp: string): string {
  const bytes = Buffer.from(sdp);
  for (let i = 5; i < bytes.length; i += 37) bytes[i] ^= 0x55;
  return bytes.toString('latin1');
}

export const sdpOffers: Scenario = {
  name: 'mutated and unconnected SDP offers',
  what: 'POST /rtc/offer with mangled offers, and valid offers whose peer never connects',
  async run(ctx) {
    const before = ctx.server.sockets().udp;
    const statuses = new Map<string, number>();
    const post = async (body: string) => {
      const response = await fetch(`${ctx.server.url}/rtc/offer`, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp' },
        body,
      }).catch((error: Error) => ({ status: `error ${error.message}`, text: async () => '' }));
      await response.text();
      return String(response.status);
    };
    const rounds = ctx.form === 'full' ? 3 : 1;
    let peakUdp = before;
    for (let round = 0; round < rounds; round++) {
      const { pc, sdp } = await makeOffer();
      for (const m of mutations(sdp)) {
        const status = await post(m.body);
        const key = `${m.name} → ${status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        peakUdp = Math.max(peakUdp, ctx.server.sockets().udp);
      }
      await pc.close();
    }
    // Valid offers, answered, and then the peer walks away without ever connecting.
    const ghosts = ctx.form === 'full' ? 10 : 3;
    const ghostStatuses: string[] = [];
    for (let i = 0; i < ghosts; i++) {
      const { pc, sdp } = await makeOffer();
      ghostStatuses.push(await post(sdp));
      await pc.close();
      peakUdp = Math.max(peakUdp, ctx.server.sockets().udp);
    }
    const released = await until(() => ctx.server.sockets().udp <= before, 60_000, 250);
    return {
      'mangled offers': [...statuses].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join('; '),
      'unconnected offers': `${ghosts} (${ghostStatuses.join(' ')})`,
      'UDP sockets before/peak/after': `${before}/${peakUdp}/${ctx.server.sockets().udp}`,
      'UDP released within 60 s': released ? 'yes' : 'NO',
    };
  },
  // Bad offers get a 4xx, never a server error; an offer whose peer never connects gives its sockets back.
  expected: (observed) => {
    if (/→ (5\d\d|error)/.test(String(observed['mangled offers'])))
      return `a mangled offer got a server error: ${observed['mangled offers']}`;
    return observed['UDP released within 60 s'] === 'yes'
      ? undefined
      : 'UDP sockets not released within 60 s';
  },
};

export const slowloris: Scenario = {
  name: 'slow HTTP requests',
  what: 'connections that send request headers one byte at a time, held while the canary talks',
  async run(ctx) {
    const n = ctx.form === 'full' ? 200 : 30;
    const sockets: Socket[] = [];
    let closedByServer = 0;
    for (let i = 0; i < n; i++) {
      const socket = connect(ctx.server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => closedByServer++);
      sockets.push(socket);
    }
    const request = `GET /${'a'.repeat(200)} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'b'.repeat(4000)}\r\n\r\n`;
    let position = 0;
    let canaryDone = false;
    void ctx.canaryDone.then(() => {
      canaryDone = true;
    });
    // The server gives a request 10 s for its headers: past the canary, trickle on until it has closed them all.
    const giveUpAt = performance.now() + 60_000;
    const open = () => sockets.filter((s) => !s.destroyed).length;
    while (!canaryDone || (open() > 0 && performance.now() < giveUpAt)) {
      await sleep(1_000);
      // One byte per connection per second: headers that never quite finish.
      for (const socket of sockets) if (!socket.destroyed) socket.write(request[position % request.length]);
      position++;
    }
    const stillOpen = open();
    for (const socket of sockets) socket.destroy();
    if (stillOpen > 0)
      throw new Error(`${stillOpen} of ${n} trickling connections were never closed by the server`);
    return {
      connections: n,
      'bytes each': position,
      'closed by server': closedByServer,
      'still open at end': stillOpen,
    };
  },
};
