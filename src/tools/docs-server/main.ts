import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { serveStreamableHttp } from './http.ts';
import { DocsError, DocumentRoot } from './root.ts';
import { createDocsServer, DOCS_SERVER_VERSION } from './server.ts';

const USAGE = `Usage: repartee-docs <root> [--http <port>] [--host <host>] [--max-bytes <n>] [HTTP options]

An MCP server for the text and Markdown documents under <root>: list, read, search, edit, compare, analyze.
  (default)        speak MCP over stdio
  --http <port>    serve Streamable HTTP at http://<host>:<port>/mcp instead (0 picks a free port)
  --host <host>    address to listen on with --http (default 127.0.0.1; there is no authentication)
  --max-bytes <n>  largest document read or written (default 1048576)
HTTP options:
  --allowed-host <name[:port]>   another Host the server is reached by (repeatable); others get 403
  --allowed-origin <origin>      another page origin allowed to call it (repeatable); others get 403
  --max-sessions <n>             most sessions open at once (default 100); one more gets 503
  --session-idle-ms <ms>         close a session idle this long (default 600000)`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      http: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-bytes': { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'allowed-origin': { type: 'string', multiple: true },
      'max-sessions': { type: 'string' },
      'session-idle-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (values.version) return void process.stdout.write(`${DOCS_SERVER_VERSION}\n`);
  if (positionals.length !== 1) throw new UsageError('give exactly one document root folder');
  const maxFileBytes =
    values['max-bytes'] === undefined ? undefined : positiveInt(values['max-bytes'], '--max-bytes');
  const root = await DocumentRoot.open(positionals[0], { maxFileBytes });

  if (values.http === undefined) {
    const server = createDocsServer(root);
    const transport = new StdioServerTransport();
    transport.onclose = () => process.exit(0);
    await server.connect(transport);
    process.stdin.on('end', () => void server.close());
    log(`serving ${root.realRoot} over stdio`);
    return;
  }
  const endpoint = await serveStreamableHttp(() => createDocsServer(root), {
    port: positiveInt(values.http, '--http', true),
    host: values.host,
    allowedHosts: values['allowed-host'],
    allowedOrigins: values['allowed-origin'],
    maxSessions:
      values['max-sessions'] === undefined
        ? undefined
        : positiveInt(values['max-sessions'], '--max-sessions'),
    sessionIdleTimeoutMs:
      values['session-idle-ms'] === undefined
        ? undefined
        : positiveInt(values['session-idle-ms'], '--session-idle-ms'),
    onError: (error) => log(`error: ${error.message}`),
  });
  log(`serving ${root.realRoot} at ${endpoint.url}`);
  const stop = () => void endpoint.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

class UsageError extends Error {}

function positiveInt(value: string, flag: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1))
    throw new UsageError(`${flag} needs a whole number, got "${value}"`);
  return n;
}

// stdout carries the protocol (stdio mode): everything for people goes to stderr.
function log(message: string): void {
  process.stderr.write(`repartee-docs: ${message}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  log(message);
  if (error instanceof UsageError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`${USAGE}\n`);
  }
  process.exit(error instanceof UsageError || error instanceof DocsError ? 2 : 1);
});
