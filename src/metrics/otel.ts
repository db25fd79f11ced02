import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { api, resources, tracing } from '@opentelemetry/sdk-node';
import type { OtelConfig } from './otel-config.ts';
import type { TurnMetrics } from './schema.ts';

type Span = api.Span;
type ExportResult = { code: number; error?: Error };
type ReadableSpan = Parameters<tracing.SpanExporter['export']>[0][number];

export interface TraceLog {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** What a session tells the tracer: its id, its clock (for placing spans) and its tool results. */
export interface TracedSession {
  readonly id: string;
  readonly clock: { now(): number };
}

/** The collector URL from the configuration or the standard OTEL_EXPORTER_OTLP_* environment; undefined: off. */
export function tracesUrl(config: OtelConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!config.endpoint && direct) return direct;
  const base = config.endpoint ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!base) return undefined;
  return /\/v1\/traces\/?$/.test(base) ? base : `${base.replace(/\/$/, '')}/v1/traces`;
}

/**
 * OpenTelemetry traces of conversations: one `voice.session` span per session, a `voice.turn` span per turn
 * record under it, and under each turn its stages (`stt`, `endpointing`, `chat <model>`, `tts`,
 * `execute_tool <name>`) with GenAI semantic-convention attributes (`gen_ai.operation.name`,
 * `gen_ai.request.model`, `gen_ai.usage.input_tokens`…). Spans are placed from the turn record after the turn
 * (its stages are measured on the session clock), batched, and sent with the OTLP HTTP exporter; an unreachable
 * collector is logged once (and its recovery), never felt by a conversation.
 */
export class ConversationTracer {
  private readonly provider: tracing.BasicTracerProvider;
  private readonly tracer: api.Tracer;
  private readonly sessions = new Map<
    string,
    { span: Span; originMs: number; wallMs: number; tools: ToolRun[] }
  >();

  constructor(options: {
    url: string;
    serviceName: string;
    headers?: Record<string, string>;
    log?: TraceLog;
  }) {
    const exporter = new ReportingExporter(
      new OTLPTraceExporter({ url: options.url, headers: options.headers, timeoutMillis: 5_000 }),
      options.url,
      options.log,
    );
    this.provider = new tracing.BasicTracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': options.serviceName }),
      spanProcessors: [
        new tracing.BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000, maxQueueSize: 4_096 }),
      ],
    });
    this.tracer = this.provider.getTracer('repartee');
  }

  sessionStarted(session: TracedSession, attributes: Record<string, string | undefined> = {}): void {
    const span = this.tracer.startSpan('voice.session', {
      kind: api.SpanKind.SERVER,
      attributes: { 'session.id': session.id, ...definedAttributes(attributes) },
    });
    this.sessions.set(session.id, { span, originMs: session.clock.now(), wallMs: Date.now(), tools: [] });
  }

  toolRan(sessionId: string, name: string, endedAtMs: number, durationMs: number, failed: boolean): void {
    this.sessions.get(sessionId)?.tools.push({ name, endedAtMs, durationMs, failed });
  }

  turn(record: TurnMetrics): void {
    const session = this.sessions.get(record.sessionId);
    if (!session || record.endOfUserSpeechAtMs === null) return;
    const wall = (sessionMs: number) => session.wallMs + (sessionMs - session.originMs);
    const eou = record.endOfUserSpeechAtMs;
    const committed = eou + (record.eouDelayMs ?? 0);
    const heard = record.voiceToVoiceMs === null ? null : eou + record.voiceToVoiceMs;
    const parent = api.trace.setSpan(api.context.active(), session.span);
    const turnSpan = this.tracer.startSpan(
      'voice.turn',
      {
        startTime: wall(eou),
        attributes: definedAttributes({
          'voice.turn.id': record.turnId,
          'voice.turn.outcome': record.outcome,
          'voice.voice_to_voice_ms': record.voiceToVoiceMs,
          'voice.eou_delay_ms': record.eouDelayMs,
          'voice.pipeline_overhead_ms': record.pipelineOverheadMs,
          'voice.user_transcript.length': record.userTranscript.length,
        }),
      },
      parent,
    );
    const inTurn = api.trace.setSpan(api.context.active(), turnSpan);
    const child = (
      name: string,
      from: number,
      durationMs: number | null,
      attributes: Record<string, unknown>,
    ) => {
      if (durationMs === null) return undefined;
      const span = this.tracer.startSpan(
        name,
        { startTime: wall(from), attributes: definedAttributes(attributes) },
        inTurn,
      );
      span.end(wall(from + durationMs));
      return from + durationMs;
    };
    const ends: number[] = [heard ?? committed];
    ends.push(
      child('stt', eou, record.transcriptionDelayMs, { 'voice.stt.audio_ms': record.sttAudioMs }) ?? eou,
    );
    ends.push(
      child('endpointing', eou, record.eouDelayMs, { 'voice.turn_detector.delay_ms': record.eouDelayMs }) ??
        eou,
    );
    const model = record.llmProvider ?? 'unknown';
    const generationMs =
      record.llmTtftMs === null
        ? null
        : record.llmTtftMs +
          (record.llmTokensPerSecond && record.completionTokens > 1
            ? ((record.completionTokens - 1) * 1000) / record.llmTokensPerSecond
            : 0);
    ends.push(
      child(`chat ${model}`, committed, generationMs, {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': model.split(':')[0],
        'gen_ai.request.model': model,
        'gen_ai.usage.input_tokens': record.promptTokens,
        'gen_ai.usage.output_tokens': record.completionTokens,
        'gen_ai.usage.cached_input_tokens': record.cachedTokens,
        'voice.llm.ttft_ms': record.llmTtftMs,
      }) ?? committed,
    );
    const ttsFrom = committed + (record.llmTtftMs ?? 0);
    ends.push(
      child('tts', ttsFrom, record.ttsTtfaMs, {
        'voice.tts.provider': record.ttsProvider,
        'voice.tts.characters': record.ttsCharacters,
        'voice.tts.ttfb_ms': record.ttsTtfbMs,
      }) ?? ttsFrom,
    );
    for (const tool of session.tools.splice(0)) {
      const span = this.tracer.startSpan(
        `execute_tool ${tool.name}`,
        {
          startTime: wall(tool.endedAtMs - tool.durationMs),
          attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool.name },
        },
        inTurn,
      );
      if (tool.failed) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end(wall(tool.endedAtMs));
      ends.push(tool.endedAtMs);
    }
    if (record.outcome === 'error') turnSpan.setStatus({ code: api.SpanStatusCode.ERROR });
    turnSpan.end(wall(Math.max(...ends)));
  }

  sessionEnded(sessionId: string): void {
    const session = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    session?.span.end();
  }

  /** Sends what is buffered (bounded by the exporter's timeout); a failed export is logged, not thrown. */
  flush(): Promise<void> {
    return this.provider.forceFlush().catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.sessions.keys()]) this.sessionEnded(id);
    await this.provider.shutdown().catch(() => undefined);
  }
}

interface ToolRun {
  name: string;
  endedAtMs: number;
  durationMs: number;
  failed: boolean;
}

function definedAttributes(values: Record<string, unknown>): api.Attributes {
  const out: api.Attributes = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      out[key] = value;
  }
  return out;
}

/** The OTLP exporter, with its failures said once in our log (and its recovery), not per batch. */
class ReportingExporter implements tracing.SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: tracing.SpanExporter,
    private readonly url: string,
    private readonly log: TraceLog | undefined,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== 0 && !this.failing) {
        this.failing = true;
        this.log?.error(
          { url: this.url, err: result.error?.message ?? 'export failed', spans: spans.length },
          'otel: traces cannot be exported (spans are dropped until the collector answers); conversations go on',
        );
      } else if (result.code === 0 && this.failing) {
        this.failing = false;
        this.log?.info({ url: this.url }, 'otel: traces are exported again');
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
