/** A process's sockets by kind, read from /proc/<pid>/fd and /proc/<pid>/net/{tcp,tcp6,udp,udp6}. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface SocketCounts {
  /** TCP connections whose local port is the server's: clients (WebSocket, HTTP). */
  clientTcp: number;
  /** TCP connections to other loopback ports: the fake providers. */
  outboundTcp: number;
  udp: number;
  /** Every descriptor the process holds (files, pipes, sockets, timers). */
  fds: number;
}

export function countSockets(pid: number, serverPort: number): SocketCounts {
  const inodes = new Set<string>();
  let fds = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // closed between the listing and the read
    }
  }
  let clientTcp = 0;
  let outboundTcp = 0;
  let udp = 0;
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9])) continue;
      if (table.startsWith('udp')) {
        udp++;
        continue;
      }
      const localPort = Number.parseInt(fields[1].split(':')[1], 16);
      if (fields[3] === '0A') continue; // LISTEN: the server's own listening socket
      if (localPort === serverPort) clientTcp++;
      else outboundTcp++;
    }
  }
  return { clientTcp, outboundTcp, udp, fds };
}
