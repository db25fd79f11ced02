import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Who may talk to the HTTP endpoint, by the request's `Host` and `Origin`. A web page can make a browser send
 * requests to 127.0.0.1 by rebinding its own name to that address (DNS rebinding); such a request still carries
 * the page's name in `Host`, and the page's origin in `Origin`. So the `Host` must be one of the names this server
 * is reached by (the bound address, the loopback names, configured names), on every bind, and a browser request
 * (one with an `Origin`) must come from a page of one of those very hosts over http, as the MCP specification asks
 * (403 otherwise).
 */
export interface HostGuardOptions {
  /** The address listened on. */
  host: string;
  port: number;
  /** More names (with or without `:port`) the server is reached by, e.g. through a proxy. */
  allowedHosts?: readonly string[];
  /** More origins (`scheme://host[:port]`) whose pages may call the server. */
  allowedOrigins?: readonly string[];
}

export type GuardVerdict = { ok: true } | { ok: false; message: string };

export class HostGuard {
  private readonly hosts = new Set<string>();
  private readonly origins = new Set<string>();

  constructor(options: HostGuardOptions) {
    const { port } = options;
    const names = ['localhost', '127.0.0.1', '::1', options.host];
    if (options.host === '0.0.0.0' || options.host === '::') {
      // Listening everywhere: reachable by every address of this machine.
      for (const addresses of Object.values(networkInterfaces()))
        for (const address of addresses ?? []) names.push(address.address.replace(/%.*$/, ''));
    }
    for (const name of names) this.hosts.add(withPort(name, port));
    for (const extra of options.allowedHosts ?? []) this.hosts.add(checkedHost(extra, port));
    for (const host of this.hosts) this.origins.add(`http://${host}`);
    for (const origin of options.allowedOrigins ?? []) this.origins.add(checkedOrigin(origin));
  }

  /** Throws a clear error for a malformed allowed host or origin (before the server listens). */
  static validate(options: Pick<HostGuardOptions, 'allowedHosts' | 'allowedOrigins'>): void {
    for (const extra of options.allowedHosts ?? []) checkedHost(extra, 80);
    for (const origin of options.allowedOrigins ?? []) checkedOrigin(origin);
  }

  check(req: IncomingMessage): GuardVerdict {
    const hostHeader = req.headers.host;
    const host = hostHeader ? normaliseHost(hostHeader, 80) : undefined;
    if (!host || !this.hosts.has(host)) return { ok: false, message: 'forbidden: unknown Host' };
    const origin = req.headers.origin;
    if (origin === undefined) return { ok: true }; // not a browser page: nothing to rebind
    const normalised = normaliseOrigin(origin);
    if (!normalised || !this.origins.has(normalised))
      return { ok: false, message: 'forbidden: foreign Origin' };
    return { ok: true };
  }
}

function checkedHost(value: string, port: number): string {
  const normalised = normaliseHost(value, port);
  if (!normalised)
    throw new TypeError(`allowed host "${value}" is not a host name or address (with an optional :port)`);
  return normalised;
}

function checkedOrigin(value: string): string {
  const normalised = normaliseOrigin(value);
  if (!normalised)
    throw new TypeError(`allowed origin "${value}" is not an origin such as https://app.example:8443`);
  return normalised;
}

function withPort(name: string, port: number): string {
  const bare = name.replace(/^\[|\]$/g, '').toLowerCase();
  return isIP(bare) === 6 ? `[${bare}]:${port}` : `${bare}:${port}`;
}

/** `name[:port]` as `name:port` (lower case, IPv6 in brackets); the default port when none is given. */
function normaliseHost(value: string, defaultPort: number): string | undefined {
  const trimmed = value.trim().toLowerCase();
  if (!trimmed || /[\s/@?#\\]/.test(trimmed)) return undefined;
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) return withPort(bracketed[1], bracketed[2] ? Number(bracketed[2]) : defaultPort);
  if (isIP(trimmed) === 6) return withPort(trimmed, defaultPort);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(trimmed);
  if (!plain) return undefined;
  return withPort(plain[1], plain[2] ? Number(plain[2]) : defaultPort);
}

function normaliseOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // includes "null", the origin of sandboxed and file pages
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '')) return undefined;
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return `${url.protocol}//${withPort(url.hostname, port)}`;
}
