import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, type GetPromptResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { completePaths, documentUri, mimeTypeOf, resourceError } from './resources.ts';
import type { DocumentRoot } from './root.ts';

type Message = GetPromptResult['messages'][number];

/**
 * Prompts for the common document tasks: summarise, proofread, change and compare. Each path argument completes
 * to the documents under the root; the documents are embedded in the prompt as resources (their text, as read
 * through the confined root), so the prompt works with a client that reads no resources itself.
 */
export function registerDocumentPrompts(server: McpServer, root: DocumentRoot): void {
  const pathArg = (what: string) =>
    completable(z.string().min(1).max(4096).describe(`${what}, relative to the document root`), (value) =>
      completePaths(root, value ?? ''),
    );
  const embed = async (path: string): Promise<Message> => {
    try {
      const document = await root.readText(path);
      return {
        role: 'user',
        content: {
          type: 'resource',
          resource: {
            uri: documentUri(document.path),
            mimeType: mimeTypeOf(document.path),
            text: document.text,
          },
        },
      };
    } catch (error) {
      const refused = resourceError(error, path);
      // A prompt's bad argument is invalid params, whatever the read said.
      throw new McpError(ErrorCode.InvalidParams, refused.message.replace(/^MCP error -?\d+: /, ''));
    }
  };
  const ask = (text: string): Message => ({ role: 'user', content: { type: 'text', text } });

  server.registerPrompt(
    'summarize',
    {
      title: 'Summarise a document',
      description: 'Summarise a document in a few sentences (or as many as asked), keeping its key facts',
      argsSchema: { path: pathArg('The document'), length: z.string().max(100).optional() },
    },
    async ({ path, length }) => ({
      description: `Summarise ${path}`,
      messages: [
        await embed(path),
        ask(
          `Summarise the document above${length ? ` in ${length}` : ' in a few sentences'}. Keep names, numbers and dates exact.`,
        ),
      ],
    }),
  );

  server.registerPrompt(
    'proofread',
    {
      title: 'Proofread a document',
      description: 'List the spelling, grammar and clarity problems of a document, with a fix for each',
      argsSchema: { path: pathArg('The document') },
    },
    async ({ path }) => ({
      description: `Proofread ${path}`,
      messages: [
        await embed(path),
        ask(
          'Proofread the document above. List each spelling, grammar or clarity problem with its line and a ' +
            'corrected wording. Change nothing else; say so if there is nothing to fix.',
        ),
      ],
    }),
  );

  server.registerPrompt(
    'revise',
    {
      title: 'Change a document',
      description: 'Make a described change to a document with the edit tool, keeping the rest as it is',
      argsSchema: {
        path: pathArg('The document'),
        change: z.string().min(1).max(2000).describe('What to change'),
      },
    },
    async ({ path, change }) => ({
      description: `Change ${path}`,
      messages: [
        await embed(path),
        ask(
          `Make this change to ${path}: ${change}\nUse the edit tool with exact oldText/newText pairs and the ` +
            "document's current version as baseVersion (read it first); keep everything else unchanged.",
        ),
      ],
    }),
  );

  server.registerPrompt(
    'compare',
    {
      title: 'Compare two documents',
      description: 'Explain how two documents differ in content (not only line by line)',
      argsSchema: { a: pathArg('The first document'), b: pathArg('The second document') },
    },
    async ({ a, b }) => ({
      description: `Compare ${a} and ${b}`,
      messages: [
        await embed(a),
        await embed(b),
        ask(`Explain how ${b} differs from ${a}: what was added, removed and changed in meaning.`),
      ],
    }),
  );
}
