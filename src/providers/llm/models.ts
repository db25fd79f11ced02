import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelPullError } from './errors.ts';
import { type DownloadProgress, downloadFile, sha256File } from './model-download.ts';

/** A recommended GGUF that `repartee models pull` can fetch. */
export interface ModelEntry {
  name: string;
  description: string;
  url: string;
  fileName: string;
  sizeBytes?: number;
  /**
   * Lowercase hex sha256 of the published file. Optional: an entry without one is downloaded unverified (the CLI
   * should say so). Values here were not verified by downloading (this project's build machine is offline); see
   * `checksumSource`.
   */
  sha256?: string;
  checksumSource?: string;
  license: string;
  /** The download's size in MiB as published, for `models list` (exact bytes are in `sizeBytes` when pinned). */
  approxSizeMiB?: number;
  /** The model `pull` fetches when given no name. */
  default?: boolean;
}

export const MODEL_REGISTRY: readonly ModelEntry[] = [
  {
    name: 'qwen2.5-0.5b-instruct',
    description:
      'Qwen2.5 0.5B Instruct, Q4_K_M (~470 MiB): the default, fast enough on one CPU thread for speech',
    url: 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf',
    fileName: 'qwen2.5-0.5b-instruct-q4_k_m.gguf',
    sizeBytes: 491_400_032,
    sha256: '74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db',
    checksumSource:
      'two independent public repositories pin this size and sha256 for this exact Hugging Face file; not re-verified here',
    license: 'Apache-2.0',
    approxSizeMiB: 469,
    default: true,
  },
  {
    name: 'qwen2.5-1.5b-instruct',
    description: 'Qwen2.5 1.5B Instruct, Q4_K_M (~1.0 GiB): better answers, about 3x slower per token',
    url: 'https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf',
    fileName: 'qwen2.5-1.5b-instruct-q4_k_m.gguf',
    sizeBytes: 1_117_320_736,
    sha256: '6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e',
    checksumSource: 'one public repository pins this size and sha256; not re-verified here',
    license: 'Apache-2.0',
    approxSizeMiB: 1066,
  },
  // Newer small models with public GGUFs, as alternatives. Neither their sizes nor their speed were measured on
  // this project's (offline) build machine: no checksum is pinned, so `pull` says the download is unverified.
  {
    name: 'qwen3-0.6b',
    description:
      'Qwen3 0.6B, Q8_0 (~610 MiB): newer than Qwen2.5 0.5B; thinks aloud unless told /no_think, slower per token',
    url: 'https://huggingface.co/Qwen/Qwen3-0.6B-GGUF/resolve/main/Qwen3-0.6B-Q8_0.gguf',
    fileName: 'Qwen3-0.6B-Q8_0.gguf',
    license: 'Apache-2.0',
    approxSizeMiB: 610,
  },
  {
    name: 'smollm2-360m-instruct',
    description: 'SmolLM2 360M Instruct, Q8_0 (~370 MiB): the smallest and fastest here, weaker answers',
    url: 'https://huggingface.co/HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/resolve/main/smollm2-360m-instruct-q8_0.gguf',
    fileName: 'smollm2-360m-instruct-q8_0.gguf',
    license: 'Apache-2.0',
    approxSizeMiB: 370,
  },
  {
    name: 'llama-3.2-1b-instruct',
    description:
      'Llama 3.2 1B Instruct, Q4_K_M (~770 MiB): good English answers, about twice as slow as the default',
    url: 'https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf',
    fileName: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf',
    license: 'Llama 3.2 Community License',
    approxSizeMiB: 770,
  },
];

/** The host every registry download comes from (the server checks it is reachable before offering a download). */
export const MODEL_HOST = 'https://huggingface.co';

export const DEFAULT_MODELS_DIR = './models';

export interface ModelListing extends ModelEntry {
  path: string;
  installed: boolean;
}

/** The registry, with where each model lives in `modelsDir` and whether it is there. */
export async function listModels(options: { modelsDir?: string } = {}): Promise<ModelListing[]> {
  const dir = resolve(options.modelsDir ?? DEFAULT_MODELS_DIR);
  return Promise.all(
    MODEL_REGISTRY.map(async (m) => {
      const path = join(dir, m.fileName);
      const size = await stat(path).then(
        (s) => s.size,
        () => -1,
      );
      return { ...m, path, installed: size >= 0 && (m.sizeBytes === undefined || size === m.sizeBytes) };
    }),
  );
}

export function findModel(name?: string): ModelEntry {
  const entry = name ? MODEL_REGISTRY.find((m) => m.name === name) : MODEL_REGISTRY.find((m) => m.default);
  if (!entry) {
    throw new ModelPullError(
      'unknown-model',
      `unknown model "${name}"; known models: ${MODEL_REGISTRY.map((m) => m.name).join(', ')}`,
    );
  }
  return entry;
}

export interface PullOptions {
  /** Default `./models`. */
  modelsDir?: string;
  signal?: AbortSignal;
  /** Progress callback; replaces the bar. */
  onProgress?: (p: DownloadProgress) => void;
  /** Where the progress bar goes. Default: stderr when it is a terminal, nowhere otherwise. */
  progressStream?: NodeJS.WritableStream | null;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Overrides the registry entry (mirrors, tests). */
  entry?: ModelEntry;
  fetch?: typeof fetch;
}

export interface PullResult {
  name: string;
  path: string;
  /** `llm` spec to configure, e.g. `llama:models/qwen2.5-0.5b-instruct-q4_k_m.gguf`. */
  spec: string;
  bytes: number;
  sha256: string;
  alreadyPresent: boolean;
  resumedFromBytes: number;
  verified: boolean;
}

/**
 * Fetches a recommended model into the models directory: progress bar, resume of an interrupted download, sha256
 * check. A model already in place is re-hashed rather than fetched again.
 */
export async function pullModel(name?: string, options: PullOptions = {}): Promise<PullResult> {
  const entry = options.entry ?? findModel(name);
  const dir = options.modelsDir ?? DEFAULT_MODELS_DIR;
  const path = join(dir, entry.fileName);
  const spec = `llama:${path}`;
  const verified = entry.sha256 !== undefined;

  const existing = await stat(path).catch(() => undefined);
  if (existing && (entry.sizeBytes === undefined || existing.size === entry.sizeBytes)) {
    const sha256 = await sha256File(path);
    if (entry.sha256 && sha256 !== entry.sha256) {
      throw new ModelPullError(
        'checksum',
        `${path} exists but its sha256 is ${sha256}, not ${entry.sha256}; delete it and pull again`,
      );
    }
    return {
      name: entry.name,
      path,
      spec,
      bytes: existing.size,
      sha256,
      alreadyPresent: true,
      resumedFromBytes: 0,
      verified,
    };
  }

  const stream = options.progressStream === undefined ? ttyStderr() : options.progressStream;
  const bar = options.onProgress ?? (stream ? progressBar(stream, entry.name) : undefined);
  const result = await downloadFile(entry.url, path, {
    sha256: entry.sha256,
    sizeBytes: entry.sizeBytes,
    signal: options.signal,
    connectTimeoutMs: options.connectTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    onProgress: bar,
    fetch: options.fetch,
  }).finally(() => {
    if (bar && !options.onProgress) stream?.write('\n');
  });
  return { name: entry.name, spec, alreadyPresent: false, verified, ...result };
}

function ttyStderr(): NodeJS.WritableStream | null {
  return process.stderr.isTTY ? process.stderr : null;
}

/** `qwen2.5-0.5b-instruct [#########-----------]  45%  221/469 MiB  12.3 MiB/s  ETA 0:20` on one line. */
export function progressBar(
  stream: NodeJS.WritableStream,
  label: string,
  width = 24,
): (p: DownloadProgress) => void {
  const mib = (n: number) => (n / 1048576).toFixed(0);
  return (p) => {
    const rate = `${(p.bytesPerSecond / 1048576).toFixed(1)} MiB/s`;
    if (!p.totalBytes) {
      stream.write(`\r${label}  ${mib(p.receivedBytes)} MiB  ${rate}   `);
      return;
    }
    const fraction = Math.min(1, p.receivedBytes / p.totalBytes);
    const filled = Math.round(fraction * width);
    const left = p.bytesPerSecond > 0 ? (p.totalBytes - p.receivedBytes) / p.bytesPerSecond : Number.NaN;
    const eta = Number.isFinite(left)
      ? `${Math.floor(left / 60)}:${String(Math.round(left % 60)).padStart(2, '0')}`
      : '-';
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%` +
        `  ${mib(p.receivedBytes)}/${mib(p.totalBytes)} MiB  ${rate}  ETA ${eta}   `,
    );
  };
}
