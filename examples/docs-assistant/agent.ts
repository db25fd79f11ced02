/**
 * A document assistant: answers questions from a folder of documents through the bundled repartee-docs MCP
 * server (read-only here: list, read, search). By default the folder is Repartee's own docs/.
 *
 *   repartee serve examples/docs-assistant/agent.ts
 *   DOCS_ROOT=./my-notes repartee serve examples/docs-assistant/agent.ts
 */
import { fileURLToPath } from 'node:url';
import { defineAgent, docsServer } from 'repartee';

/** The assistant for one folder of documents. */
export function createDocsAssistant(root: string) {
  return defineAgent({
    name: 'docs-assistant',
    instructions:
      'You answer questions about the documents you can search and read. Search first (docs_search), read what ' +
      'you found (docs_read), then answer in one to three short spoken sentences, naming the document. If the ' +
      'documents do not say, say so.',
    mcpServers: [{ ...docsServer(root), allow: ['list', 'read', 'search'] }],
  });
}

export default createDocsAssistant(
  process.env.DOCS_ROOT ?? fileURLToPath(new URL('../../docs', import.meta.url)),
);
