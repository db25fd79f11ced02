import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleTurn } from '../store/testing/turns.ts';
import { ConversationTracer, tracesUrl } from './otel.ts';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

/** An OTLP/HTTP receiver (JSON encoding, as the exporter sends by default) on loopback. */
async function receiver() {
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; contentType: string | undefined }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      requests.push({ path: request.url ?? '', contentType: request.headers['content-type'] });
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) spans.push(...scope.spans);
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    close: () => new Promise((r) => server.close(r)),
  };
}

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const attr = (span: ReceivedSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value && (value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue);
};

describe('ConversationTracer (OpenTelemetry over OTLP HTTP)', () => {
  it('sends session -> turn -> stt/endpointing/chat/tts/execute_tool spans with GenAI attributes', async () => {
    const otlp = await receiver();
    closers.push(otlp.close);
    const tracer = new ConversationTracer({
      url: tracesUrl({ endpoint: otlp.url, serviceName: 'test' }) as string,
      serviceName: 'test',
    });
    closers.push(() => tracer.close());
    let now = 0;
    const session = { id: 'session-1', clock: { now: () => now } };
    tracer.sessionStarted(session);
    now = 1_900;
    tracer.toolRan('session-1', 'lookup_weather', 1_800, 300, false);
    tracer.turn(sampleTurn('session-1', 1, 850));
    tracer.turn(sampleTurn('session-1', 2, 900));
    tracer.sessionEnded('session-1');
    await tracer.flush();

    expect(otlp.requests[0]).toMatchObject({ path: '/v1/traces', contentType: 'application/json' });
    const byName = (name: string) => otlp.spans.filter((s) => s.name === name);
    const [root] = byName('voice.session');
    expect(root.parentSpanId ?? '').toBe('');
    expect(attr(root, 'session.id')).toBe('session-1');
    const turns = byName('voice.turn');
    expect(turns).toHaveLength(2);
    for (const turn of turns) {
      expect(turn.parentSpanId).toBe(root.spanId);
      expect(turn.traceId).toBe(root.traceId);
      const children = otlp.spans.filter((s) => s.parentSpanId === turn.spanId).map((s) => s.name);
      expect(children).toEqual(expect.arrayContaining(['stt', 'endpointing', 'chat scripted', 'tts']));
    }
    const [first] = turns.filter((t) => attr(t, 'voice.turn.id') === '1' || attr(t, 'voice.turn.id') === 1);
    const tool = byName('execute_tool lookup_weather')[0];
    expect(tool.parentSpanId).toBe(first.spanId);
    expect(attr(tool, 'gen_ai.operation.name')).toBe('execute_tool');
    const chat = otlp.spans.find(
      (s) => s.name === 'chat scripted' && s.parentSpanId === first.spanId,
    ) as ReceivedSpan;
    expect(attr(chat, 'gen_ai.operation.name')).toBe('chat');
    expect(attr(chat, 'gen_ai.request.model')).toBe('scripted');
    expect(Number(attr(chat, 'gen_ai.usage.input_tokens'))).toBe(100);
    expect(Number(attr(chat, 'gen_ai.usage.output_tokens'))).toBe(12);
    // Children sit inside their turn: the turn runs from the end of user speech to the reply heard.
    const ns = (s: string) => BigInt(s);
    for (const child of otlp.spans.filter((s) => s.parentSpanId === first.spanId)) {
      expect(ns(child.startTimeUnixNano) >= ns(first.startTimeUnixNano)).toBe(true);
      expect(ns(child.endTimeUnixNano) <= ns(first.endTimeUnixNano)).toBe(true);
    }
    expect(Number(ns(first.endTimeUnixNano) - ns(first.startTimeUnixNano)) / 1e6).toBeCloseTo(850, 0);
  });

  it('an unreachable collector is logged once, clearly, and costs the caller nothing', async () => {
    // A port that was just closed: connection refused.
    const gone = await receiver();
    await gone.close();
    const lines: { fields: object; message: string }[] = [];
    const log = {
      info: () => {},
      error: (fields: object, message: string) => lines.push({ fields, message }),
    };
    const tracer = new ConversationTracer({ url: `${gone.url}/v1/traces`, serviceName: 'test', log });
    closers.push(() => tracer.close());
    const session = { id: 's', clock: { now: () => 0 } };
    tracer.sessionStarted(session);
    for (let i = 1; i <= 3; i++) {
      tracer.turn(sampleTurn('s', i, 700));
      await tracer.flush();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0].message).toMatch(/traces cannot be exported.*conversations go on/);
    expect(JSON.stringify(lines[0].fields)).toContain(gone.url);
  });

  it('takes the endpoint from the configuration or the standard environment variables', () => {
    expect(tracesUrl({ serviceName: 'x' }, {})).toBeUndefined();
    expect(tracesUrl({ serviceName: 'x', endpoint: 'http://c:4318' }, {})).toBe('http://c:4318/v1/traces');
    expect(tracesUrl({ serviceName: 'x' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://e:4318/' })).toBe(
      'http://e:4318/v1/traces',
    );
    expect(tracesUrl({ serviceName: 'x' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x' })).toBe(
      'http://t/x',
    );
  });
});
