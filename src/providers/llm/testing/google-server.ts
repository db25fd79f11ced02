import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { FakeHttpServer, readBody, sendJson } from '../../testing/http-fakes.ts';

/**
 * A local stand-in for the Gemini API (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse` and `GET
 * /v1beta/models`), from its public reference: the key in `x-goog-api-key`; `contents` of `user`/`model` turns with
 * `text`, `functionCall` and `functionResponse` parts (a function response must answer a call of the turn before),
 * `systemInstruction`, `tools[].functionDeclarations`, `generationConfig`. It streams `GenerateContentResponse`
 * chunks as SSE, the last with `finishReason` and `usageMetadata`. Errors are `{error: {code, message, status,
 * details}}`, a 429 carrying a `google.rpc.RetryInfo` `retryDelay`. Faults per request: HTTP errors, slow headers or
 * first chunk, a drop or a stall mid-stream, malformed data.
 */

const Part = z.union([
  z.object({ text: z.string() }).strict(),
  z
    .object({
      functionCall: z
        .object({
          id: z.string().optional(),
          name: z.string().min(1),
          args: z.record(z.string(), z.unknown()).optional(),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      functionResponse: z
        .object({
          id: z.string().optional(),
          name: z.string().min(1),
          response: z.record(z.string(), z.unknown()),
        })
        .strict(),
    })
    .strict(),
]);
const Content = z.object({ role: z.enum(['user', 'model']), parts: z.array(Part).min(1) }).strict();
export const GenerateRequestSchema = z
  .object({
    contents: z.array(Content).min(1),
    systemInstruction: z
      .object({ role: z.string().optional(), parts: z.array(z.object({ text: z.string() }).strict()) })
      .optional(),
    tools: z
      .array(
        z.object({
          functionDeclarations: z.array(
            z
              .object({
                name: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_.-]{0,63}$/),
                description: z.string().optional(),
                parametersJsonSchema: z.unknown().optional(),
              })
              .strict(),
          ),
        }),
      )
      .optional(),
    generationConfig: z
      .object({
        maxOutputTokens: z.number().int().positive().optional(),
        temperature: z.number().min(0).max(2).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type GenerateRequest = z.infer<typeof GenerateRequestSchema>;

export interface GeminiReplyScript {
  text?: string;
  functionCalls?: { id?: string; name: string; args: Record<string, unknown> }[];
  headersDelayMs?: number;
  firstChunkDelayMs?: number;
  chunkIntervalMs?: number;
  dropAfterChunks?: number;
  stallAfterChunks?: number;
  malformedAfterChunks?: number;
}

export type GeminiScript =
  | GeminiReplyScript
  | { error: { code: number; status: string; message: string; retryDelay?: string } };

export class FakeGeminiServer {
  readonly requests: { model: string; body: GenerateRequest }[] = [];
  readonly rejected: { status: number; message: string }[] = [];
  private readonly http = new FakeHttpServer({ request: (req, res) => void this.handle(req, res) });

  private constructor(
    private readonly options: { apiKey: string; script: (r: GenerateRequest, i: number) => GeminiScript },
  ) {}

  static async start(options: { apiKey: string; script: (r: GenerateRequest, i: number) => GeminiScript }) {
    const server = new FakeGeminiServer(options);
    await server.http.start();
    return server;
  }

  get baseURL(): string {
    return `http://127.0.0.1:${this.http.port}`;
  }

  get connections(): number {
    return this.http.connections;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private fail(res: ServerResponse, code: number, status: string, message: string, details: unknown[] = []) {
    if (code < 500 || code === 429) this.rejected.push({ status: code, message });
    sendJson(res, code, { error: { code, message, status, details } });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.headers['x-goog-api-key'] !== this.options.apiKey) {
      return this.fail(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
    }
    if (req.method === 'GET' && url.pathname === '/v1beta/models') {
      return sendJson(res, 200, { models: [{ name: 'models/gemini-test', displayName: 'Gemini Test' }] });
    }
    const match = /^\/v1beta\/models\/([^/:]+):streamGenerateContent$/.exec(url.pathname);
    if (req.method !== 'POST' || !match || url.searchParams.get('alt') !== 'sse') {
      return this.fail(res, 404, 'NOT_FOUND', `Not found: ${req.method} ${url.pathname}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req));
    } catch {
      return this.fail(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const parsed = GenerateRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.fail(
        res,
        400,
        'INVALID_ARGUMENT',
        `Invalid value at '${issue.path.join('.')}': ${issue.message}`,
      );
    }
    const body = parsed.data;
    const order = checkFunctionResponses(body);
    if (order) return this.fail(res, 400, 'INVALID_ARGUMENT', order);
    const index = this.requests.length;
    this.requests.push({ model: match[1], body });
    const script = this.options.script(body, index);
    if ('error' in script) {
      const e = script.error;
      const details = e.retryDelay
        ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: e.retryDelay }]
        : [];
      return this.fail(res, e.code, e.status, e.message, details);
    }
    await this.stream(res, match[1], body, script);
  }

  private async stream(
    res: ServerResponse,
    model: string,
    request: GenerateRequest,
    script: GeminiReplyScript,
  ) {
    await this.http.sleep(script.headersDelayMs ?? 0);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    await this.http.sleep(script.firstChunkDelayMs ?? 0);
    const words = script.text?.match(/\S+\s*|\s+/g) ?? [];
    const parts: unknown[] = [
      ...words.map((text) => ({ text })),
      ...(script.functionCalls ?? []).map((functionCall) => ({ functionCall })),
    ];
    const prompt = JSON.stringify(request.contents).length / 4;
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) await this.http.sleep(script.chunkIntervalMs ?? 0);
      if (res.destroyed) return;
      if (script.dropAfterChunks !== undefined && i >= script.dropAfterChunks)
        return void res.socket?.destroy();
      if (script.stallAfterChunks !== undefined && i >= script.stallAfterChunks) return;
      if (script.malformedAfterChunks !== undefined && i >= script.malformedAfterChunks)
        return void res.end('data: {"candidates":[{"content":\r\n\r\n');
      const last = i === parts.length - 1;
      res.write(
        `data: ${JSON.stringify({
          candidates: [
            {
              content: { role: 'model', parts: [parts[i]] },
              index: 0,
              ...(last ? { finishReason: 'STOP' } : {}),
            },
          ],
          ...(last
            ? {
                usageMetadata: {
                  promptTokenCount: Math.ceil(prompt),
                  candidatesTokenCount: words.length,
                  totalTokenCount: Math.ceil(prompt) + words.length,
                },
              }
            : {}),
          modelVersion: model,
        })}\r\n\r\n`,
      );
    }
    res.end();
  }
}

/** A functionResponse must answer a functionCall of the model turn just before it. */
function checkFunctionResponses(body: GenerateRequest): string | undefined {
  for (let i = 0; i < body.contents.length; i++) {
    for (const part of body.contents[i].parts) {
      if (!('functionResponse' in part)) continue;
      const before = body.contents[i - 1];
      const called =
        before?.role === 'model' &&
        before.parts.some((p) => 'functionCall' in p && p.functionCall.name === part.functionResponse.name);
      if (!called)
        return `Please ensure that function response turn comes immediately after a function call turn (contents[${i}]).`;
    }
  }
  return undefined;
}
