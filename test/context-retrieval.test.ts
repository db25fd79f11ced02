import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeline } from '../src/agent/timeline.testkit.ts';
import { ContextManager } from '../src/context/manager.ts';
import { chunkDocument, DocsIndex, PASSAGES_HEADING } from '../src/context/retrieval.ts';
import { VirtualClock } from '../src/metrics/clock.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import { DocumentRoot } from '../src/tools/docs-server/root.ts';
import { searchDocuments } from '../src/tools/docs-server/search.ts';
import { createDocsServer } from '../src/tools/docs-server/server.ts';

const QUESTION = 'Can I still get refunded if I cancelled my order last week?';
const BILLING = `# Billing

## Payment methods

We take cards and bank transfers. Invoices are sent by email on the first day of each month, and every invoice
lists the order number, the amount and the due date.

## Refund policy

A cancellation made within 30 days of purchase gets a full refund, to the card or account that paid. After 30
days we offer store credit instead. Refunds take five working days to appear.
`;
const SHIPPING = `# Shipping

Orders leave our warehouse within two days. Tracking numbers are sent by text message. We ship to every country
in the European Union; customs fees outside it are paid by the customer on delivery.

## Returns

Returned parcels must be unused and in their original packaging; print the label from your account page.
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repartee-retrieval-'));
  await writeFile(join(dir, 'billing.md'), BILLING);
  await writeFile(join(dir, 'shipping.md'), SHIPPING);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Polls `check` until it holds or the deadline passes (the watcher runs on its own time). */
async function eventually(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('retrieval over the docs folder', () => {
  it('chunks by headings and paragraphs', () => {
    const passages = chunkDocument('billing.md', BILLING);
    expect(passages.map((p) => p.heading)).toEqual(['Billing › Payment methods', 'Billing › Refund policy']);
    expect(passages[1].text).toMatch(/^A cancellation made within 30 days/);
    expect(passages[1].line).toBe(10);
  });

  it('finds by stems what the lexical search tool does not, and names the source', async () => {
    // The docs server's search tool: no line holds the question, nor its words "refunded" or "cancelled".
    const root = await DocumentRoot.open(dir);
    for (const words of [QUESTION, 'refunded', 'cancelled'])
      expect((await searchDocuments(root, '.', words)).matches).toEqual([]);

    const index = new DocsIndex({ root: dir });
    await index.open();
    try {
      const [best] = index.search(QUESTION);
      expect(best).toMatchObject({ source: 'billing.md', heading: 'Billing › Refund policy' });

      // Kept fresh: an edited file is re-read without a restart.
      await writeFile(
        join(dir, 'shipping.md'),
        `${SHIPPING}\n## Gift wrapping\n\nGift wrapping costs three euros per parcel.\n`,
      );
      await eventually(() => index.search('wrapped gifts')[0]?.source === 'shipping.md');
    } finally {
      index.close();
    }
  });

  it("the docs server's search tool uses the same index: it finds a passage by other forms of the words", async () => {
    const server = createDocsServer(await DocumentRoot.open(dir));
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'test', version: '1' });
    await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
    const search = async (query: string) => {
      const result = (await client.callTool({ name: 'search', arguments: { query } })) as CallToolResult;
      return (result.content as { text: string }[]).map((c) => c.text).join('\n');
    };
    try {
      // No line holds "refunded" (the exact search above found none); the index's stems find the refund policy.
      const refunded = (await search('refunded')).split('\n');
      expect(refunded[0]).toBe('No line holds "refunded"; passages that match other forms of its words:');
      expect(refunded[1]).toMatch(
        /^billing\.md:10: \(Billing › Refund policy\) A cancellation made within 30 days/,
      );
      // Exact lines first, then the passages holding none of them.
      const cards = (await search('cards')).split('\n');
      expect(cards[0]).toBe(
        'billing.md:5: We take cards and bank transfers. Invoices are sent by email on the first day of each month, and every invoice',
      );
      expect(cards[1]).toBe('Passages that match other forms of the words:');
      expect(cards[2]).toMatch(/^billing\.md:10: \(Billing › Refund policy\) .*to the card or account/);
      // A document written since is searched on the next call.
      await writeFile(
        join(dir, 'care.md'),
        '# Care\n\nWash the covers at thirty degrees; never tumble-dry them.\n',
      );
      expect(await search('washing')).toMatch(
        /^No line holds "washing".*\ncare\.md:3: \(Care\) Wash the covers/,
      );
    } finally {
      await client.close();
      await rm(join(dir, 'care.md'), { force: true });
    }
  }, 60_000);

  it('puts the passages, with their source, into the prompt within budget; the reply names the document', async () => {
    const index = new DocsIndex({ root: dir });
    await index.open();
    const reply = (messages: readonly ChatMessage[]) => {
      const last = messages.at(-1)?.content ?? '';
      const source = /\(source: ([^ )]+)/.exec(last)?.[1];
      return source && /gets a full refund/.test(last)
        ? `Yes: ${source} says a cancellation within 30 days gets a full refund.`
        : 'I do not know.';
    };
    try {
      const manager = new ContextManager({
        llm: new ScriptedLlm({ clock: new VirtualClock(), reply: () => '' }),
        clock: { now: () => 0, schedule: () => () => {} },
        policy: { retrievalTokens: 200 },
        retrieval: index,
      });
      await manager.prepare();
      const prompt = manager.prompt([{ id: 1, createdAtMs: 0, role: 'system', content: 'Be brief.' }], {
        role: 'user',
        content: QUESTION,
      });
      const last = prompt.messages.at(-1)?.content ?? '';
      expect(last.startsWith(PASSAGES_HEADING)).toBe(true);
      expect(last).toContain('(source: billing.md › Billing › Refund policy)');
      expect(last.endsWith(QUESTION)).toBe(true);
      expect(prompt.stats.retrievedPassages).toBeGreaterThan(0);
      expect(prompt.stats.retrievedTokens).toBeGreaterThan(0);
      expect(prompt.stats.retrievedTokens).toBeLessThanOrEqual(200);
      const metrics = manager.turnMetrics(prompt.stats);
      expect(metrics.retrievalMs).not.toBeNull();

      // Through a session: the spoken answer names the document; the history keeps the user's own words.
      const t = timeline({
        user: [],
        reply,
        session: { retrieval: index, context: { retrievalTokens: 200 } },
      });
      await t.start();
      t.session.sendText(QUESTION);
      while (t.metrics.length < 1) await t.clock.advance(50);
      await t.session.close();
      expect(t.errors).toEqual([]);
      expect(t.metrics[0].agentText).toContain(
        'billing.md says a cancellation within 30 days gets a full refund',
      );
      expect(t.metrics[0].retrievedPassages).toBeGreaterThan(0);
      expect(t.session.history.messages.find((m) => m.role === 'user')?.content).toBe(QUESTION);
    } finally {
      index.close();
    }
  }, 60_000);
});
