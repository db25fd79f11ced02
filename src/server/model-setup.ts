import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DownloadProgress } from '../providers/llm/model-download.ts';
import {
  findModel,
  MODEL_HOST,
  type PullOptions,
  type PullResult,
  pullModel,
} from '../providers/llm/models.ts';

export interface ModelSetupOptions {
  /** The LLM in use; null when none is configured (only then is there anything to set up). */
  llmSpec: string | null;
  /** What the user is told, spoken and on the page. */
  notice: string;
  /** The command that fetches the recommended model. */
  command?: string;
  modelsDir?: string;
  /** Checked once, on first need, for whether the page may offer a download button. */
  modelHostUrl?: string;
  reachTimeoutMs?: number;
  /** The download itself (tests point it at a local server through `entry`/`fetch`). */
  pull?: (options: PullOptions) => Promise<PullResult>;
  fetch?: typeof fetch;
}

export type DownloadState =
  | { state: 'idle' }
  | { state: 'running'; receivedBytes: number; totalBytes: number | null }
  | { state: 'done'; path: string; spec: string }
  | { state: 'failed'; error: string };

export interface SetupStatus {
  llm: string | null;
  notice?: string;
  command?: string;
  model?: { name: string; approxSizeMiB?: number };
  /** The model host answered: the page may offer the download. Offline, only the command is shown. */
  online?: boolean;
  download?: DownloadState;
}

const DEFAULT_REACH_TIMEOUT_MS = 3000;

/**
 * The first-run setup the web page shows when no LLM is configured: `GET /api/setup` says so (with the command
 * and whether the model host is reachable, checked once with a short timeout), `POST /api/setup/pull` starts
 * the recommended model's download (one at a time) whose progress the page polls. The server keeps running on
 * what it started with: the new model is used after a restart, and the page says so.
 */
export class ModelSetup {
  private reachable: Promise<boolean> | undefined;
  private download: DownloadState = { state: 'idle' };

  constructor(private readonly options: ModelSetupOptions) {}

  private get command(): string {
    return this.options.command ?? 'repartee models pull';
  }

  async status(): Promise<SetupStatus> {
    const { llmSpec, notice } = this.options;
    if (llmSpec) return { llm: llmSpec };
    const model = findModel();
    return {
      llm: null,
      notice,
      command: this.command,
      model: { name: model.name, approxSizeMiB: model.approxSizeMiB },
      online: await this.isOnline(),
      download: this.download,
    };
  }

  /** True when the request was for the setup API (and has been answered). */
  async handle(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname === '/api/setup') {
      if (request.method !== 'GET') return reply(response, 405, { error: 'use GET' }, { allow: 'GET' });
      return reply(response, 200, await this.status());
    }
    if (pathname === '/api/setup/pull') {
      request.resume();
      if (request.method !== 'POST') return reply(response, 405, { error: 'use POST' }, { allow: 'POST' });
      if (this.options.llmSpec) return reply(response, 409, { error: 'an LLM is already configured' });
      if (this.download.state === 'running' || this.download.state === 'done')
        return reply(response, 202, await this.status());
      if (!(await this.isOnline()))
        return reply(response, 503, {
          error: `the model host is not reachable; when online run: ${this.command}`,
        });
      this.startDownload();
      return reply(response, 202, await this.status());
    }
    return false;
  }

  private isOnline(): Promise<boolean> {
    this.reachable ??= (async () => {
      const fetcher = this.options.fetch ?? fetch;
      try {
        await fetcher(this.options.modelHostUrl ?? MODEL_HOST, {
          method: 'HEAD',
          signal: AbortSignal.timeout(this.options.reachTimeoutMs ?? DEFAULT_REACH_TIMEOUT_MS),
        });
        return true; // any answer at all: the host is reachable
      } catch {
        return false;
      }
    })();
    return this.reachable;
  }

  private startDownload(): void {
    this.download = { state: 'running', receivedBytes: 0, totalBytes: null };
    const pull = this.options.pull ?? ((options: PullOptions) => pullModel(undefined, options));
    pull({
      modelsDir: this.options.modelsDir,
      progressStream: null,
      onProgress: (p: DownloadProgress) => {
        this.download = {
          state: 'running',
          receivedBytes: p.receivedBytes,
          totalBytes: p.totalBytes ?? null,
        };
      },
    }).then(
      (result) => {
        this.download = { state: 'done', path: result.path, spec: result.spec };
      },
      (error: Error) => {
        this.download = { state: 'failed', error: error.message };
      },
    );
  }
}

function reply(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): true {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
  return true;
}
