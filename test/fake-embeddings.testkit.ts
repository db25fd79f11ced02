import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stemmer } from 'stemmer';

/**
 * A fake of OpenAI's `POST /v1/embeddings` on loopback (the wire format the official client speaks). A text's
 * vector counts its words by meaning: words of one group below share a dimension (so "refund" and "reimbursed"
 * are near), other words get a hashed dimension of their own. A stand-in for a model in tests, never a measurement.
 */
const GROUPS = [
  ['refund', 'reimburse', 'reimburs', 'repay', 'repaid', 'compens'],
  ['cancel', 'cancellation', 'withdraw', 'annul'],
  ['parcel', 'package', 'deliveri', 'deliv', 'ship', 'courier'],
  ['account', 'iban', 'bank'],
  ['car', 'vehicl', 'automobil'],
];
const DIMENSIONS = 64;

function vectorOf(text: string): number[] {
  const v = new Array<number>(DIMENSIONS).fill(0);
  for (const word of text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)) {
    const stem = stemmer(word);
    const group = GROUPS.findIndex((g) => g.some((root) => stem.startsWith(root)));
    if (group >= 0) v[group] += 3;
    else {
      let h = 0;
      for (const c of stem) h = (h * 31 + c.charCodeAt(0)) >>> 0;
      v[GROUPS.length + (h % (DIMENSIONS - GROUPS.length))] += 0.3;
    }
  }
  return v;
}

export type FakeEmbeddingsMode = 'ok' | 'fail' | 'hang';

export interface FakeEmbeddings {
  baseURL: string;
  /** How the next requests are answered. */
  mode: FakeEmbeddingsMode;
  /** Texts embedded so far (every request's inputs). */
  inputs: string[];
  close(): Promise<void>;
}

export async function startFakeEmbeddings(): Promise<FakeEmbeddings> {
  const hanging = new Set<import('node:http').ServerResponse>();
  const fake: FakeEmbeddings = {
    baseURL: '',
    mode: 'ok',
    inputs: [],
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404).end();
        return;
      }
      if (fake.mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (fake.mode === 'fail') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'the fake is failing', type: 'server_error' } }));
        return;
      }
      const { input, model } = JSON.parse(body) as { input: string | string[]; model: string };
      const texts = Array.isArray(input) ? input : [input];
      fake.inputs.push(...texts);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          model,
          data: texts.map((text, index) => ({ object: 'embedding', index, embedding: vectorOf(text) })),
          usage: { prompt_tokens: texts.length, total_tokens: texts.length },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return fake;
}
