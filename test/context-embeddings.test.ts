import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiEmbedder } from '../src/cache/embeddings.ts';
import { configuredDocsIndex } from '../src/config/docs-index.ts';
import type { HistoryItem } from '../src/context/history.ts';
import { type ContextClock, ContextManager } from '../src/context/manager.ts';
import { HistoryRelevance } from '../src/context/relevance.ts';
import { ConversationEmbeddings } from '../src/context/relevance-embeddings.ts';
import { MessageTokens, tiktokenCounter } from '../src/context/tokens.ts';
import { VirtualClock } from '../src/metrics/clock.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import { DocsIndex } from '../src/search/docs-index.ts';
import { type FakeEmbeddings, startFakeEmbeddings } from './fake-embeddings.testkit.ts';

const BILLING = `# Billing

## Payment methods

We take cards and bank transfers. Invoices are sent by email on the first day of each month.

## Reimbursements

Orders withdrawn within 30 days are reimbursed in full, to the card that paid. After that we offer store credit.
`;
const SHIPPING = `# Shipping

Orders leave our warehouse within two days. Tracking numbers are sent by text message.
`;
/** No document holds "refund" in any form: BM25 finds nothing; the embeddings know it means reimbursement. */
const QUESTION = 'Will you refund me?';

const realClock: ContextClock = {
  now: () => performance.now(),
  schedule: (ms, callback) => {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

let dir: string;
let fake: FakeEmbeddings;
let index: DocsIndex;
const embedder = () => new OpenAiEmbedder({ model: 'fake-embedding', apiKey: 'test', baseURL: fake.baseURL });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'repartee-embeddings-'));
  await writeFile(join(dir, 'billing.md'), BILLING);
  await writeFile(join(dir, 'shipping.md'), SHIPPING);
  fake = await startFakeEmbeddings();
  index = new DocsIndex({ root: dir, embedder: embedder() });
  await index.open();
  await index.embedded(); // in the background; the test waits for it
});
afterAll(async () => {
  index?.close();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

function manager(options: { embeddingWaitMs?: number; errors?: Error[] } = {}) {
  return new ContextManager({
    llm: new ScriptedLlm({ clock: new VirtualClock(), reply: () => '' }),
    clock: realClock,
    policy: { retrievalTokens: 200 },
    retrieval: index,
    embeddingWaitMs: options.embeddingWaitMs ?? 10_000,
    onError: (error) => options.errors?.push(error),
  });
}

const system: HistoryItem = { id: 1, createdAtMs: 0, role: 'system', content: 'Be brief.' };

describe('embeddings with BM25 (fake OpenAI /v1/embeddings server)', () => {
  it('the docs index embeds its passages in the background; a synonym BM25 misses is found', async () => {
    fake.mode = 'ok';
    expect(index.embeddedPassages).toBe(index.size);
    expect(index.search(QUESTION)).toEqual([]); // BM25 alone: no passage holds "refund"
    const vector = await index.embedQuery(QUESTION);
    const [best] = index.search(QUESTION, 5, { queryVector: vector });
    expect(best).toMatchObject({ source: 'billing.md', heading: 'Billing › Reimbursements' });

    // Through the prompt: the turn's embedding is awaited (bounded) before the synchronous build.
    const context = manager();
    context.anticipate(QUESTION);
    await context.prepare(QUESTION);
    const prompt = context.prompt([system], { role: 'user', content: QUESTION });
    expect(prompt.messages.at(-1)?.content).toContain('(source: billing.md › Billing › Reimbursements)');
    expect(prompt.stats.retrievedPassages).toBeGreaterThan(0);
    await context.close();
  }, 60_000);

  it('docsEmbeddings configures the shared index; a bad spec is said and leaves BM25 alone', async () => {
    fake.mode = 'ok';
    const warnings: string[] = [];
    const configured = await configuredDocsIndex(
      { docsRoot: dir, docsEmbeddings: `openai-compatible:${fake.baseURL}#fake-embedding` },
      (message) => warnings.push(message),
      {},
    );
    await configured?.embedded();
    expect(configured?.embedder?.name).toBe('openai:fake-embedding');
    expect(configured?.embeddedPassages).toBe(configured?.size);
    const plain = await configuredDocsIndex(
      { docsRoot: dir, docsEmbeddings: 'nope:x' },
      (m) => warnings.push(m),
      {},
    );
    expect(plain?.embedder).toBeUndefined();
    expect(plain?.size).toBeGreaterThan(0);
    expect(warnings.join('\n')).toMatch(
      /docs embeddings unavailable, BM25 only: unknown embeddings "nope:x"/,
    );
    configured?.close();
    plain?.close();
  }, 60_000);

  it('falls back to BM25 when the embedder fails or hangs, and the prompt is still built', async () => {
    for (const mode of ['fail', 'hang'] as const) {
      fake.mode = mode;
      const errors: Error[] = [];
      const context = manager({ embeddingWaitMs: 200, errors });
      const question = `${QUESTION} (${mode})`;
      await context.prepare(question); // never rejects; a hang is cut at embeddingWaitMs
      const prompt = context.prompt([system], { role: 'user', content: question });
      expect(prompt.messages.at(-1)?.content).toBe(question); // BM25 alone: nothing retrieved
      expect(prompt.stats.retrievedPassages).toBe(0);
      if (mode === 'fail') expect(errors.map((e) => e.message).join('\n')).toMatch(/BM25 only/);
      await context.close();
    }
    fake.mode = 'ok';
  }, 60_000);

  it('the relevance window recalls a turn by meaning that BM25 alone does not', async () => {
    fake.mode = 'ok';
    const items: HistoryItem[] = [];
    for (let turn = 1; turn <= 40; turn++) {
      const user =
        turn === 3
          ? 'Please send the reimbursement to the IBAN ending 4417.'
          : `Turn ${turn}: one thing about topic number ${turn}, in a sentence or two.`;
      items.push({ id: items.length + 1, createdAtMs: turn, role: 'user', content: user });
      items.push({
        id: items.length + 1,
        createdAtMs: turn,
        role: 'assistant',
        content: `Noted, item ${turn}.`,
      });
    }
    const question = 'Where will my refund land?';
    const tokens = new MessageTokens(await tiktokenCounter('cl100k_base'));
    const recalled = (relevance: HistoryRelevance) =>
      relevance
        .select(items, items.length + 1, question, 100, tokens)
        .flatMap((t) => t.messages.map((m) => m.content));

    expect(recalled(new HistoryRelevance())).not.toContain(items[4].content);
    const embeddings = new ConversationEmbeddings(embedder());
    const relevance = new HistoryRelevance(embeddings);
    relevance.sync(items); // the history is embedded in the background
    await embeddings.history.settled();
    await embeddings.wait(question, 10_000, realClock.schedule);
    expect(recalled(relevance)).toContain(items[4].content);
    embeddings.close();
  }, 60_000);
});
