import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  auth,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
} from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

/** Where tokens are kept unless configured: one file per server, readable by the owner only. */
export function defaultOAuthStoreDir(): string {
  return process.env.REPARTEE_MCP_AUTH_DIR ?? join(homedir(), '.repartee', 'mcp-auth');
}

export interface McpOAuthSettings {
  /** A client registered in advance with the authorization server; without it, dynamic registration is used. */
  clientId?: string;
  clientSecret?: string;
  /** Scopes to ask for; by default those the server names (WWW-Authenticate, then its metadata). */
  scope?: string;
  /** Port of the loopback redirect listener (`http://127.0.0.1:<port>/oauth/callback`); 0 picks one. */
  redirectPort: number;
  /** A URL-based client ID (client ID metadata document) hosted by you, where the server accepts those. */
  clientMetadataUrl?: string;
  storeDir?: string;
  /** Longest wait for the user to finish in the browser. */
  authorizationTimeoutMs: number;
}

interface Stored {
  client?: OAuthClientInformationMixed;
  tokens?: OAuthTokens;
  codeVerifier?: string;
  redirectUrl?: string;
  /** Where discovery found the authorization server: the code exchange must go to the same one. */
  discovery?: OAuthDiscoveryState;
}

/**
 * OAuth 2.1 for one Streamable HTTP MCP server, through the SDK's auth support: discovery, dynamic client
 * registration (or a configured client), authorization code with PKCE, token refresh. The authorization step is
 * a hand-off: `onLink` gets the URL the user opens in a browser (printed, shown on the talk page); the browser
 * comes back to a loopback listener that takes the code. Client registration and tokens are stored per server
 * (`<storeDir>/<server>.json`, mode 0600) so a restart does not ask again; the SDK refreshes expired tokens.
 */
export class McpOAuth implements OAuthClientProvider {
  private stored: Stored = {};
  private loaded = false;
  private listener: Server | undefined;
  private port = 0;
  private pendingState: string | undefined;
  private waiter: { resolve(code: string): void; reject(error: Error): void } | undefined;

  constructor(
    private readonly server: string,
    private readonly serverUrl: string,
    private readonly settings: McpOAuthSettings,
    private readonly onLink: (url: URL) => void,
    readonly clientName: string,
  ) {
    if (settings.clientMetadataUrl) this.clientMetadataUrl = settings.clientMetadataUrl;
  }

  clientMetadataUrl?: string;

  get redirectUrl(): string {
    return `http://127.0.0.1:${this.port}/oauth/callback`;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.settings.clientSecret ? 'client_secret_basic' : 'none',
      ...(this.settings.scope ? { scope: this.settings.scope } : {}),
    };
  }

  state(): string {
    this.pendingState = randomBytes(16).toString('base64url');
    return this.pendingState;
  }

  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    if (this.settings.clientId)
      return { client_id: this.settings.clientId, client_secret: this.settings.clientSecret };
    await this.load();
    // A client registered for another redirect URL (another port) cannot use this one: register again.
    if (this.stored.redirectUrl !== this.redirectUrl) return undefined;
    return this.stored.client;
  }

  async saveClientInformation(client: OAuthClientInformationMixed): Promise<void> {
    await this.update({ client, redirectUrl: this.redirectUrl });
  }

  async tokens(): Promise<OAuthTokens | undefined> {
    await this.load();
    return this.stored.tokens;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    await this.update({ tokens });
  }

  async saveCodeVerifier(codeVerifier: string): Promise<void> {
    await this.update({ codeVerifier });
  }

  async codeVerifier(): Promise<string> {
    await this.load();
    if (!this.stored.codeVerifier) throw new Error(`no PKCE verifier saved for MCP server ${this.server}`);
    return this.stored.codeVerifier;
  }

  async invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): Promise<void> {
    await this.load();
    if (scope === 'all' || scope === 'client') this.stored.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.stored.tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.stored.codeVerifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.stored.discovery = undefined;
    await this.update({});
  }

  async saveDiscoveryState(discovery: OAuthDiscoveryState): Promise<void> {
    await this.update({ discovery });
  }

  async discoveryState(): Promise<OAuthDiscoveryState | undefined> {
    await this.load();
    return this.stored.discovery;
  }

  redirectToAuthorization(url: URL): void {
    this.onLink(url);
  }

  /** Starts the loopback listener the browser returns to (before the first request, so the port is known). */
  async listen(): Promise<void> {
    if (this.listener) return;
    const listener = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/oauth/callback') {
        res.writeHead(404).end();
        return;
      }
      const error = url.searchParams.get('error');
      const code = url.searchParams.get('code');
      const state = url.searchParams.get('state');
      const ok = !error && code && this.waiter && (!this.pendingState || state === this.pendingState);
      res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        ok
          ? `Repartee is now authorised for ${this.server}. You can close this tab.`
          : `Authorisation for ${this.server} did not complete${error ? `: ${error}` : ''}.`,
      );
      if (!this.waiter) return;
      if (ok) this.waiter.resolve(code as string);
      else if (error) this.waiter.reject(new Error(`the authorization server answered ${error}`));
    });
    const bind = (port: number) =>
      new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(port, '127.0.0.1', () => {
          listener.off('error', reject);
          resolve();
        });
      });
    // With no port configured, the one the stored client was registered with is tried first, so a restart keeps
    // its registration (the redirect URL is part of it); if that port is taken, any port (and a new registration).
    await this.load();
    const previous = this.stored.redirectUrl ? Number(new URL(this.stored.redirectUrl).port) : 0;
    if (this.settings.redirectPort === 0 && previous > 0) await bind(previous).catch(() => bind(0));
    else await bind(this.settings.redirectPort);
    listener.unref();
    this.listener = listener;
    this.port = (listener.address() as AddressInfo).port;
  }

  /** Waits for the browser to come back with the code, then exchanges it for tokens (stored). */
  async completeAuthorization(signal?: AbortSignal): Promise<void> {
    const code = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nobody finished authorising ${this.server} in the browser in time`)),
        this.settings.authorizationTimeoutMs,
      );
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.waiter = undefined;
      };
      this.waiter = {
        resolve: (c) => {
          done();
          resolve(c);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      signal?.addEventListener('abort', () => this.waiter?.reject(new Error('closed')), { once: true });
    });
    const result = await auth(this, {
      serverUrl: this.serverUrl,
      authorizationCode: code,
      scope: this.settings.scope,
    });
    if (result !== 'AUTHORIZED') throw new Error(`authorising ${this.server} did not complete`);
  }

  async close(): Promise<void> {
    this.waiter?.reject(new Error('closed'));
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  private get file(): string {
    return join(this.settings.storeDir ?? defaultOAuthStoreDir(), `${this.server}.json`);
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    try {
      const data = JSON.parse(await readFile(this.file, 'utf8')) as Stored & { serverUrl?: string };
      // Tokens of another URL under the same name are not this server's.
      if (data.serverUrl === this.serverUrl) this.stored = data;
    } catch {
      this.stored = {};
    }
  }

  private async update(change: Partial<Stored>): Promise<void> {
    await this.load();
    this.stored = { ...this.stored, ...change };
    const dir = this.settings.storeDir ?? defaultOAuthStoreDir();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ serverUrl: this.serverUrl, ...this.stored }), { mode: 0o600 });
    await rename(temp, this.file);
  }
}
