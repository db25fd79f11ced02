import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpToolset } from '../src/tools/mcp/toolset.ts';

/**
 * A remote MCP server behind OAuth 2.1, with its authorization server, speaking the documented wire protocol:
 * protected-resource metadata (RFC 9728), authorization-server metadata (RFC 8414), dynamic registration
 * (RFC 7591), authorization code with PKCE S256, refresh tokens. Access tokens can be revoked to force a refresh.
 */
class FakeOAuthServer {
  base = '';
  readonly valid = new Set<string>();
  readonly refreshTokens = new Set<string>();
  readonly journal = { registrations: 0, authorizations: 0, codeExchanges: 0, refreshes: 0 };
  private issued = 0;
  private readonly codes = new Map<string, { challenge: string; redirect: string }>();
  private http: Server | undefined;

  async start(): Promise<void> {
    this.http = createServer((req, res) => void this.handle(req, res).catch(() => res.writeHead(500).end()));
    await new Promise<void>((resolve) => this.http?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.http?.closeAllConnections();
    await new Promise<void>((resolve) => this.http?.close(() => resolve()));
  }

  private tokens(res: ServerResponse): void {
    this.issued++;
    const access = `at-${this.issued}`;
    const refresh = `rt-${this.issued}`;
    this.valid.add(access);
    this.refreshTokens.add(refresh);
    json(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: refresh });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const route = `${req.method} ${url.pathname}`;
    if (route.startsWith('GET /.well-known/oauth-protected-resource'))
      return json(res, 200, { resource: `${this.base}/mcp`, authorization_servers: [this.base] });
    if (route === 'GET /.well-known/oauth-authorization-server')
      return json(res, 200, {
        issuer: this.base,
        authorization_endpoint: `${this.base}/authorize`,
        token_endpoint: `${this.base}/token`,
        registration_endpoint: `${this.base}/register`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    if (route === 'POST /register') {
      this.journal.registrations++;
      const metadata = JSON.parse(await text(req));
      return json(res, 201, { ...metadata, client_id: `client-${this.journal.registrations}` });
    }
    if (route === 'GET /authorize') {
      this.journal.authorizations++;
      const q = url.searchParams;
      if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return json(res, 400, {});
      const code = `code-${this.journal.authorizations}`;
      this.codes.set(code, {
        challenge: q.get('code_challenge') ?? '',
        redirect: q.get('redirect_uri') ?? '',
      });
      const back = new URL(q.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (route === 'POST /token') {
      const form = new URLSearchParams(await text(req));
      if (form.get('grant_type') === 'authorization_code') {
        const grant = this.codes.get(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (!grant || grant.challenge !== challenge || grant.redirect !== form.get('redirect_uri'))
          return json(res, 400, { error: 'invalid_grant' });
        this.codes.delete(form.get('code') ?? '');
        this.journal.codeExchanges++;
        return this.tokens(res);
      }
      if (
        form.get('grant_type') === 'refresh_token' &&
        this.refreshTokens.delete(form.get('refresh_token') ?? '')
      ) {
        this.journal.refreshes++;
        return this.tokens(res);
      }
      return json(res, 400, { error: 'invalid_grant' });
    }
    if (url.pathname === '/mcp') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !this.valid.has(token)) {
        res.writeHead(401, {
          'www-authenticate': `Bearer resource_metadata="${this.base}/.well-known/oauth-protected-resource/mcp"`,
        });
        res.end();
        return;
      }
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const server = new McpServer({ name: 'protected', version: '1' });
      server.registerTool('whoami', { description: 'The token used' }, async () => ({
        content: [{ type: 'text', text: token }],
      }));
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      res.on('close', () => void transport.close().then(() => server.close()));
      await server.connect(transport);
      await transport.handleRequest(req, res, JSON.parse(await text(req)));
      return;
    }
    res.writeHead(404).end();
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function text(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The user's browser: opens the link and follows redirects (back to Repartee's loopback listener). */
async function openInBrowser(link: string): Promise<void> {
  let next = link;
  for (let hop = 0; hop < 5; hop++) {
    const response = await fetch(next, { redirect: 'manual' });
    await response.arrayBuffer();
    const location = response.headers.get('location');
    if (!location) return;
    next = new URL(location, next).href;
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

describe('OAuth 2.1 for a Streamable HTTP MCP server', () => {
  const fake = new FakeOAuthServer();
  let storeDir: string;
  beforeAll(async () => {
    await fake.start();
    storeDir = await mkdtemp(path.join(tmpdir(), 'repartee-mcp-auth-'));
  });
  afterAll(async () => {
    await fake.stop();
    await rm(storeDir, { recursive: true, force: true });
  });

  let pendingAtReturn: { server: string; url: string }[] = [];
  const connect = (links: string[], statusAtLink: string[]) => {
    let toolset: McpToolset | undefined;
    const ready = McpToolset.connect(
      [{ name: 'remote', transport: 'http', url: `${fake.base}/mcp`, oauth: { storeDir } }],
      {
        onAuthorizationLink: (_server, link) => {
          links.push(link);
          queueMicrotask(() => {
            if (toolset) statusAtLink.push(toolset.servers[0].status);
          });
          void openInBrowser(link);
        },
      },
    ).then((t) => {
      toolset = t;
      statusAtLink.push(t.servers[0].status);
      // What the talk page is sent on connecting: the servers still waiting, with their links.
      pendingAtReturn = t.pendingAuthorizations();
      return t;
    });
    return ready;
  };
  const whoami = (toolset: McpToolset) =>
    toolset
      .tools()
      .find((t) => t.name === 'whoami')
      ?.execute({}, { signal: new AbortController().signal });

  it('authorises through the browser hand-off (code + PKCE), stores the tokens, refreshes them, and reuses them', async () => {
    const links: string[] = [];
    const statuses: string[] = [];
    const first = await connect(links, statuses);
    try {
      // connect() did not wait for the person: the server was still being authorised when it returned.
      expect(statuses[0]).toBe('authorizing');
      expect(first.servers[0].authorizationLink).toBe(links[0]);
      expect(pendingAtReturn).toEqual([{ server: 'remote', url: links[0] }]);
      await until(() => first.servers[0].status === 'connected', 'the authorised connection');
      expect(links).toHaveLength(1);
      const link = new URL(links[0]);
      expect(link.searchParams.get('code_challenge_method')).toBe('S256');
      expect(link.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback$/);
      expect(fake.journal).toMatchObject({ registrations: 1, authorizations: 1, codeExchanges: 1 });
      await expect(whoami(first)).resolves.toBe('at-1');

      const file = path.join(storeDir, 'remote.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(file, 'utf8')).tokens).toMatchObject({ refresh_token: 'rt-1' });

      // The access token stops working: the client refreshes it, with no new hand-off.
      fake.valid.delete('at-1');
      await expect(whoami(first)).resolves.toBe('at-2');
      expect(fake.journal.refreshes).toBe(1);
      expect(links).toHaveLength(1);
    } finally {
      await first.close();
    }

    // A restart: the stored tokens are used; nobody is asked again.
    const again: string[] = [];
    const second = await connect(again, []);
    try {
      expect(second.servers[0].status).toBe('connected');
      await expect(whoami(second)).resolves.toBe('at-2');
      expect(again).toEqual([]);
      // The stored client keeps working for refreshes after the restart.
      fake.valid.delete('at-2');
      await expect(whoami(second)).resolves.toBe('at-3');
      expect(again).toEqual([]);
      expect(fake.journal).toMatchObject({ registrations: 1, authorizations: 1 });
    } finally {
      await second.close();
    }
  }, 90_000);
});
