import { z } from 'zod';

/**
 * `otel` in the configuration: OpenTelemetry traces (session → turn → stt/llm/tts/tool spans) sent with the
 * OTLP HTTP exporter. Unset endpoint (and no OTEL_EXPORTER_OTLP_ENDPOINT): no tracing at all.
 */
export const OtelConfigSchema = z
  .object({
    /** The collector's base URL (`http://collector:4318`); `/v1/traces` is appended unless given. */
    endpoint: z.string().url().optional(),
    serviceName: z.string().min(1).default('repartee'),
    /** Extra request headers (an API key for a hosted backend); values from the environment are better. */
    headers: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export type OtelConfig = z.infer<typeof OtelConfigSchema>;
