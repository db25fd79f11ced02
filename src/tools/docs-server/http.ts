import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

export interface StreamableHttpOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest JSON-RPC request body. */
  maxBodyBytes?: number;
  onError?(error: Error): void;
}

export interface HttpEndpoint {
  url: string;
  close(): Promise<void>;
}

const MCP_PATH = '/mcp';

/**
 * Hosts an MCP server over Streamable HTTP at `/mcp`. Each client session gets its own server instance (the SDK
 * binds one server to one transport), so progress and cancellation reach the request they belong to. There is no
 * authentication: keep it on loopback (the default) or a trusted network.
 */
export async function serveStreamableHttp(
  createMcpServer: () => McpServer,
  options: StreamableHttpOptions,
): Promise<HttpEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const report = (error: unknown) =>
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
  let allowedHosts: string[] = [];
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(host);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== MCP_PATH) return reply(res, 404, 'not found: the MCP endpoint is /mcp');
    const sessionId = header(req, 'mcp-session-id');
    if (req.method === 'POST') {
      const body = await readJson(req, maxBodyBytes);
      if (!body.ok) return reply(res, body.status, body.message);
      const existing = sessionId ? sessions.get(sessionId) : undefined;
      if (existing) return existing.transport.handleRequest(req, res, body.value);
      if (sessionId) return reply(res, 404, 'unknown MCP session');
      if (!isInitializeRequest(body.value)) return reply(res, 400, 'the first request must be initialize');
      const server = createMcpServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
        },
        // A loopback server must refuse pages that rebind a name to 127.0.0.1; beyond loopback the Host varies.
        enableDnsRebindingProtection: loopback,
        allowedHosts,
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
        server.close().catch(report);
      };
      await server.connect(transport);
      return transport.handleRequest(req, res, body.value);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const existing = sessionId ? sessions.get(sessionId) : undefined;
      if (!existing) return reply(res, sessionId ? 404 : 400, 'unknown or missing MCP session');
      return existing.transport.handleRequest(req, res);
    }
    res.setHeader('allow', 'GET, POST, DELETE');
    return reply(res, 405, 'method not allowed');
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      report(error);
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  allowedHosts = [`${hostInUrl}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`];
  return {
    url: `http://${hostInUrl}:${port}${MCP_PATH}`,
    async close() {
      await Promise.all([...sessions.values()].map(({ transport }) => transport.close().catch(report)));
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readJson(
  req: IncomingMessage,
  maxBytes: number,
): Promise<{ ok: true; value: unknown } | { ok: false; status: number; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return { ok: false, status: 413, message: `request body over ${maxBytes} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { ok: false, status: 400, message: 'the request body is not valid JSON' };
  }
}
