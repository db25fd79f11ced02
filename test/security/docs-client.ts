import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { DocumentRoot } from '../../src/tools/docs-server/root.ts';
import { createDocsServer } from '../../src/tools/docs-server/server.ts';

/** An MCP client connected in memory to a docs server over the folder `docs`, as the agent's tool runner is. */
export async function connectDocsClient(
  docs: string,
  name: string,
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<{
  client: Client;
  call(tool: string, args: Record<string, unknown>): Promise<CallToolResult>;
}> {
  const server = createDocsServer(await DocumentRoot.open(docs));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name, version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  // A bounded call: a tool that blocks fails its test by this timeout instead of hanging the suite.
  const options = timeoutMs === undefined ? undefined : { timeout: timeoutMs };
  const call = async (tool: string, args: Record<string, unknown>) =>
    (await client.callTool({ name: tool, arguments: args }, undefined, options)) as CallToolResult;
  return { client, call };
}

/** The text parts of a tool result, one per line. */
export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}
