import OpenAI from 'openai';

/** Turns texts into vectors for similarity matching (the response cache's paraphrase lookup). */
export interface Embedder {
  readonly name: string;
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
  close?(): Promise<void>;
}

export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

export interface OpenAiEmbedderOptions {
  model: string;
  apiKey: string;
  /** An OpenAI-compatible server; default api.openai.com. */
  baseURL?: string;
  /** Output size for models that can shorten it (text-embedding-3-*). */
  dimensions?: number;
}

/** OpenAI's `POST /v1/embeddings` (or any server speaking it), through the official client. */
export class OpenAiEmbedder implements Embedder {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAiEmbedderOptions) {
    this.name = `openai:${options.model}`;
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0 });
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const response = await this.client.embeddings.create(
      {
        model: this.options.model,
        input: [...texts],
        encoding_format: 'float',
        ...(this.options.dimensions ? { dimensions: this.options.dimensions } : {}),
      },
      { signal },
    );
    const vectors = new Array<Float32Array>(texts.length);
    for (const item of response.data) vectors[item.index] = Float32Array.from(item.embedding);
    if (vectors.some((v) => !v)) throw new Error(`${this.name}: the answer is missing embeddings`);
    return vectors;
  }
}

export interface LlamaEmbedderOptions {
  modelPath: string;
  threads?: number;
}

type LlamaEmbeddingContext = {
  getEmbeddingFor(text: string): Promise<{ vector: readonly number[] }>;
  dispose(): Promise<void>;
};

/**
 * Embeddings from a local GGUF model through node-llama-cpp (its embedding context, on llama.cpp's threads, off
 * the event loop). The model loads on first use; texts are embedded one after the other.
 */
export class LlamaEmbedder implements Embedder {
  readonly name: string;
  private context: Promise<{ context: LlamaEmbeddingContext; dispose: () => Promise<void> }> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LlamaEmbedderOptions) {
    this.name = `llama:${options.modelPath}`;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const { context } = await this.load();
    const run = this.queue.then(async () => {
      const vectors: Float32Array[] = [];
      for (const text of texts) {
        signal?.throwIfAborted();
        vectors.push(Float32Array.from((await context.getEmbeddingFor(text)).vector));
      }
      return vectors;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    const loaded = this.context;
    this.context = undefined;
    if (loaded) await (await loaded.catch(() => undefined))?.dispose();
  }

  private load() {
    this.context ??= (async () => {
      const { getLlama } = await import('node-llama-cpp');
      const llama = await getLlama({ gpu: false });
      const model = await llama.loadModel({ modelPath: this.options.modelPath });
      const context = (await model.createEmbeddingContext({
        threads: this.options.threads ?? 1,
      })) as unknown as LlamaEmbeddingContext;
      return {
        context,
        dispose: async () => {
          await context.dispose();
          await model.dispose();
        },
      };
    })();
    this.context.catch(() => {
      this.context = undefined;
    });
    return this.context;
  }
}

/**
 * An embedder from a spec: `openai:<model>` (OPENAI_API_KEY; OPENAI_BASE_URL for a compatible server),
 * `openai-compatible:<baseURL>#<model>`, `llama:<file.gguf>`.
 */
export function createEmbedder(spec: string, env: Record<string, string | undefined>): Embedder {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'openai') {
    const apiKey = env.OPENAI_API_KEY;
    if (!apiKey) throw new Error(`embeddings "${spec}" need OPENAI_API_KEY`);
    return new OpenAiEmbedder({
      model: rest || 'text-embedding-3-small',
      apiKey,
      baseURL: env.OPENAI_BASE_URL,
    });
  }
  if (kind === 'openai-compatible') {
    const hash = rest.lastIndexOf('#');
    if (hash <= 0) throw new Error(`embeddings "${spec}": expected openai-compatible:<baseURL>#<model>`);
    return new OpenAiEmbedder({
      baseURL: rest.slice(0, hash),
      model: rest.slice(hash + 1),
      apiKey: env.OPENAI_API_KEY ?? 'none',
    });
  }
  if (kind === 'llama' && rest) return new LlamaEmbedder({ modelPath: rest });
  throw new Error(
    `unknown embeddings "${spec}" (expected openai:<model>, openai-compatible:<url>#<model>, llama:<file.gguf>)`,
  );
}
