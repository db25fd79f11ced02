import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeHttpServer } from '../providers/testing/http-fakes.ts';
import { refersToEarlierTurns } from './context-free.ts';
import { cosineSimilarity, LlamaEmbedder, OpenAiEmbedder } from './embeddings.ts';
import { normalizeQuestion } from './normalize.ts';
import { ResponseCache } from './response-cache.ts';

const STORIES = fileURLToPath(new URL('../../test/fixtures/models/stories260K.gguf', import.meta.url));
const scope = ResponseCache.scopeKey({ instructions: 'Front desk.', llm: 'test' });

/**
 * A fake of OpenAI's POST /v1/embeddings: a text's vector is its topic (hours, parking, refunds) plus a little of
 * its length, so paraphrases of one topic are close and other topics are far. Requests are recorded.
 */
function embeddingsServer(options: { delayMs?: number; status?: number } = {}) {
  const topics = [
    /\b(open|opening|hours|close)\b/,
    /\b(park|parking|car)\b/,
    /\b(refund|money back|return)\b/,
  ];
  const requests: { model: string; input: string[]; authorization?: string }[] = [];
  const server: FakeHttpServer = new FakeHttpServer({
    request(request: IncomingMessage, response: ServerResponse) {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', async () => {
        if (request.method !== 'POST' || request.url !== '/v1/embeddings')
          return response.writeHead(404).end();
        const parsed = JSON.parse(body) as { model: string; input: string | string[] };
        const input = Array.isArray(parsed.input) ? parsed.input : [parsed.input];
        requests.push({ model: parsed.model, input, authorization: request.headers.authorization });
        if (options.delayMs) await server.sleep(options.delayMs);
        if (options.status) {
          response.writeHead(options.status, { 'content-type': 'application/json' });
          return response.end(JSON.stringify({ error: { message: 'rate limited', type: 'rate_limit' } }));
        }
        const data = input.map((text, index) => ({
          object: 'embedding',
          index,
          embedding: [...topics.map((t) => (t.test(text) ? 1 : 0)), 0.05 + text.length / 1000],
        }));
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            object: 'list',
            data,
            model: parsed.model,
            usage: { prompt_tokens: 1, total_tokens: 1 },
          }),
        );
      });
    },
  });
  return { server, requests };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function openAiEmbedder(options: Parameters<typeof embeddingsServer>[0] = {}) {
  const fake = embeddingsServer(options);
  await fake.server.start();
  closers.push(() => fake.server.close());
  const embedder = new OpenAiEmbedder({
    model: 'text-embedding-3-small',
    apiKey: 'sk-test',
    baseURL: `http://127.0.0.1:${fake.server.port}/v1`,
  });
  return { embedder, requests: fake.requests };
}

describe('response cache', () => {
  it('matches exactly after normalisation, within its scope only', async () => {
    const cache = new ResponseCache();
    cache.store(scope, 'What are your opening hours?', 'Nine to five.', 420);
    expect(await cache.lookup(scope, '  what are your OPENING hours ')).toEqual({
      text: 'Nine to five.',
      via: 'exact',
      savedMs: 420,
    });
    const other = ResponseCache.scopeKey({ instructions: 'Front desk. New hours.', llm: 'test' });
    expect(await cache.lookup(other, 'What are your opening hours?')).toBeUndefined();
    expect(ResponseCache.scopeKey({ instructions: 'Front desk.', llm: 'test', agentVersion: '2' })).not.toBe(
      scope,
    );
    expect(cache.invalidate(scope)).toBe(1);
    expect(await cache.lookup(scope, 'What are your opening hours?')).toBeUndefined();
    expect(normalizeQuestion('Don’t you open on Sundays?!')).toBe("don't you open on sundays");
  });

  it('expires learned replies after the TTL', async () => {
    let now = 1_000_000;
    const cache = new ResponseCache({ ttlMs: 60_000, now: () => now });
    cache.store(scope, 'Where can I park my car?', 'Behind the building.', 300);
    now += 59_000;
    expect(await cache.lookup(scope, 'Where can I park my car?')).toMatchObject({
      text: 'Behind the building.',
    });
    now += 2_000;
    expect(await cache.lookup(scope, 'Where can I park my car?')).toBeUndefined();
  });

  it('allow-list mode serves the curated answers only and learns nothing', async () => {
    const cache = new ResponseCache({
      mode: 'allowList',
      allowList: [
        { questions: ['What are your hours?', 'When are you open?'], answer: 'Nine to five, weekdays.' },
      ],
    });
    cache.store(scope, 'Where can I park my car?', 'Behind the building.', 300);
    expect(cache.size).toBe(0);
    expect(await cache.lookup(scope, 'when are you open')).toMatchObject({
      text: 'Nine to five, weekdays.',
      via: 'allowList',
    });
    expect(await cache.lookup(scope, 'Where can I park my car?')).toBeUndefined();
  });

  it('matches paraphrases by OpenAI embeddings above the threshold (fake /v1/embeddings server)', async () => {
    const { embedder, requests } = await openAiEmbedder();
    const cache = new ResponseCache({ embedder, threshold: 0.95 });
    cache.store(scope, 'What are your opening hours?', 'Nine to five.', 500);
    await expect.poll(() => requests.length).toBe(1);
    await expect
      .poll(async () => (await cache.lookup(scope, 'When do you open?'))?.text)
      .toBe('Nine to five.');
    const hit = await cache.lookup(scope, 'When do you close tonight?');
    expect(hit).toMatchObject({ via: 'similar', savedMs: 500 });
    expect(hit?.similarity).toBeGreaterThanOrEqual(0.95);
    expect(await cache.lookup(scope, 'Can I get a refund?')).toBeUndefined();
    expect(requests[0]).toMatchObject({
      model: 'text-embedding-3-small',
      input: ['what are your opening hours'],
      authorization: 'Bearer sk-test',
    });
  });

  it('a slow or failing embedding service is a miss within the timeout, with a log line', async () => {
    const slow = await openAiEmbedder({ delayMs: 5_000 });
    const lines: string[] = [];
    const cache = new ResponseCache({
      embedder: slow.embedder,
      embeddingTimeoutMs: 100,
      log: (l) => lines.push(l),
    });
    const started = performance.now();
    expect(await cache.lookup(scope, 'When do you open?')).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(lines.some((l) => l.includes('embedding failed'))).toBe(true);
    const failing = await openAiEmbedder({ status: 429 });
    const cache2 = new ResponseCache({ embedder: failing.embedder, log: (l) => lines.push(l) });
    cache2.store(scope, 'What are your opening hours?', 'Nine to five.', 500);
    // The exact match needs no embedding; the paraphrase misses.
    expect(await cache2.lookup(scope, 'what are your opening hours')).toMatchObject({ via: 'exact' });
    expect(await cache2.lookup(scope, 'When do you open?')).toBeUndefined();
    expect(cache2.stats.embeddingFailures).toBeGreaterThan(0);
  });

  it('GGUF embeddings through node-llama-cpp (stories260K): vectors, and an unrelated text does not match', async () => {
    const embedder = new LlamaEmbedder({ modelPath: STORIES, threads: 1 });
    closers.push(() => embedder.close());
    const [a, again, other] = await embedder.embed([
      'what are your opening hours',
      'what are your opening hours',
      'the cat sat on the mat',
    ]);
    expect(a.length).toBeGreaterThan(0);
    expect(cosineSimilarity(a, again)).toBeCloseTo(1, 5);
    expect(cosineSimilarity(a, other)).toBeLessThan(0.99);
    const cache = new ResponseCache({ embedder, threshold: 0.99, embeddingTimeoutMs: 20_000 });
    cache.store(scope, 'what are your opening hours', 'Nine to five.', 300);
    await expect
      .poll(async () => (await cache.lookup(scope, 'What are your opening hours!'))?.text)
      .toBe('Nine to five.');
    expect(await cache.lookup(scope, 'the cat sat on the mat')).toBeUndefined();
  }, 60_000);
});

describe('turns that refer to earlier ones', () => {
  it('are told apart from questions that stand alone', () => {
    for (const text of [
      'How much does it cost?',
      'What about the premium plan?',
      'And on Sundays?',
      'Can you say that again?',
      'Tuesday.',
      'Yes please do that',
      'Tell me more about them.',
      'Why?',
    ]) {
      expect([text, refersToEarlierTurns(text)]).toEqual([text, true]);
    }
    for (const text of [
      'What are your opening hours?',
      'Where can I park my car?',
      'How do I reset my password?',
    ]) {
      expect([text, refersToEarlierTurns(text)]).toEqual([text, false]);
    }
  });
});
