import { createServer, type Server } from 'node:net';

/**
 * HAProxy's agent-check (the `agent-check agent-port N` server option): HAProxy connects to this port every
 * `agent-inter`, reads one line and closes. We answer the weight HAProxy should give this worker, from its load
 * (100 % idle … 1 % nearly full), or `drain` (no new sessions; the ones it has go on) while it drains.
 */
export class AgentCheck {
  private server: Server | undefined;
  private boundPort = 0;

  constructor(private readonly reply: () => { load: number; draining: boolean; full: boolean }) {}

  /** The line for this moment: `drain`, or `ready up N%`. */
  line(): string {
    const { load, draining, full } = this.reply();
    if (draining || full) return 'drain\n';
    const weight = Math.max(1, Math.min(100, Math.round((1 - load) * 100)));
    return `ready up ${weight}%\n`;
  }

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(this.line());
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : port;
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
