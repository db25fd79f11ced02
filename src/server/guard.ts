import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * DNS rebinding defence for every endpoint: a page on evil.example whose name is rebound to 127.0.0.1 reaches us
 * with `Host: evil.example:8080` and a matching Origin, so comparing Origin with Host alone lets it in. Here the
 * Host itself must be one of ours, and a browser's Origin must be exactly the page origin that Host implies.
 */
export interface HostGuardOptions {
  /** The address the server is bound to (`127.0.0.1`, `0.0.0.0`, `::`, a specific address). */
  bindHost: string;
  /** The port it listens on (the real one, after binding port 0). */
  port: number;
  /**
   * Public names clients use beyond loopback: `voice.example.com` (any port, page served over https by a proxy
   * in front), `voice.example.com:8443`, or an origin such as `http://lan-box:8080` to allow plain http.
   */
  allowedHosts?: readonly string[];
}

export type GuardVerdict = { ok: true } | { ok: false; status: 400 | 403; reason: string };

interface AllowedName {
  hostname: string;
  /** undefined: any port. */
  port: string | undefined;
  /** The scheme its pages are served with, which a browser's Origin carries. */
  scheme: 'http' | 'https';
}

/** host, [v6], optional port: nothing else (no userinfo, no path) may hide in a Host header. */
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/;
const WILDCARD = new Set(['0.0.0.0', '::', '']);
const REREAD_INTERFACES_MS = 5_000;

export class HostGuard {
  private readonly names: AllowedName[];
  private readonly port: string;
  private localAddresses: Set<string>;
  private readAtMs = 0;

  constructor(private readonly options: HostGuardOptions) {
    this.port = String(options.port);
    this.names = (options.allowedHosts ?? []).map(parseAllowedHost);
    this.localAddresses = this.readLocalAddresses();
  }

  check(headers: IncomingHttpHeaders): GuardVerdict {
    const host = headers.host;
    if (!host) return { ok: false, status: 400, reason: 'a Host header is required' };
    const authority = parseAuthority(host);
    if (!authority) return { ok: false, status: 400, reason: 'malformed Host header' };
    const scheme = this.schemeFor(authority.hostname, authority.port);
    if (!scheme) return { ok: false, status: 403, reason: 'this host name is not served here' };
    const origin = headers.origin;
    // No Origin: not a browser page (curl, a native client), which DNS rebinding cannot drive.
    if (origin === undefined) return { ok: true };
    // Scheme, host and port all count: `https://localhost:8080`, `null` or a ws:// origin are not our page.
    if (normalisedOrigin(origin) !== expectedOrigin(scheme, authority)) {
      return { ok: false, status: 403, reason: 'cross-origin requests are refused' };
    }
    return { ok: true };
  }

  /** The page scheme a request for this host implies, or undefined when the host is not one of ours. */
  private schemeFor(hostname: string, port: string | undefined): 'http' | 'https' | undefined {
    for (const name of this.names) {
      if (
        name.hostname === hostname &&
        (name.port === undefined || name.port === (port ?? defaultPort(name.scheme)))
      ) {
        return name.scheme;
      }
    }
    // Our own addresses and loopback names are reached directly, over our plain http, on our port.
    const ourPort = port === undefined ? this.port === '80' : port === this.port;
    if (!ourPort) return undefined;
    if (isLoopbackName(hostname) || this.isOwnAddress(hostname)) return 'http';
    return undefined;
  }

  /**
   * An IP literal cannot be rebound: only this machine's own addresses are accepted (the bound one, or every
   * interface's with a wildcard bind). Interfaces change (DHCP), so an unknown literal re-reads them once.
   */
  private isOwnAddress(hostname: string): boolean {
    const address = hostname.replace(/^\[|\]$/g, '');
    if (isIP(address) === 0) return false;
    if (this.localAddresses.has(address)) return true;
    // At most one re-read per interval, so a stream of made-up literals costs no system calls.
    const now = performance.now();
    if (now - this.readAtMs < REREAD_INTERFACES_MS) return false;
    this.localAddresses = this.readLocalAddresses();
    return this.localAddresses.has(address);
  }

  private readLocalAddresses(): Set<string> {
    this.readAtMs = performance.now();
    const bind = this.options.bindHost.replace(/^\[|\]$/g, '').toLowerCase();
    if (!WILDCARD.has(bind)) return new Set([bind]);
    const addresses = new Set<string>();
    for (const list of Object.values(networkInterfaces())) {
      for (const entry of list ?? []) addresses.add(entry.address.toLowerCase().replace(/%.*$/, ''));
    }
    return addresses;
  }
}

export function isLoopbackName(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

function parseAuthority(value: string): { hostname: string; port: string | undefined } | undefined {
  const match = AUTHORITY.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const [, hostname, port] = match;
  if (port !== undefined && Number(port) > 65_535) return undefined;
  return { hostname: hostname.replace(/\.$/, ''), port };
}

function parseAllowedHost(entry: string): AllowedName {
  const text = entry.trim().toLowerCase();
  const withScheme = /^(https?):\/\/(.+?)\/?$/.exec(text);
  const authority = parseAuthority(withScheme ? withScheme[2] : text);
  if (!authority)
    throw new TypeError(`server.allowedHosts: "${entry}" is not a host name, host:port or origin`);
  const scheme = (withScheme?.[1] as 'http' | 'https' | undefined) ?? 'https';
  return { hostname: authority.hostname, port: authority.port, scheme };
}

function defaultPort(scheme: 'http' | 'https'): string {
  return scheme === 'https' ? '443' : '80';
}

function expectedOrigin(
  scheme: 'http' | 'https',
  authority: { hostname: string; port: string | undefined },
): string {
  const port =
    authority.port === undefined || authority.port === defaultPort(scheme) ? '' : `:${authority.port}`;
  return `${scheme}://${authority.hostname}${port}`;
}

/** An Origin header as scheme://host[:port], default ports dropped; undefined for `null` and anything else. */
function normalisedOrigin(origin: string): string | undefined {
  const match = /^(https?):\/\/([^/?#]+)$/.exec(origin.trim().toLowerCase());
  if (!match) return undefined;
  const authority = parseAuthority(match[2]);
  return authority && expectedOrigin(match[1] as 'http' | 'https', authority);
}
