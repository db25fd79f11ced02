import { AgentSession } from '../agent/session.ts';
import type { JsonLinesMetricsWriter } from '../metrics/jsonl.ts';
import type { ToolEntry } from '../tools/tool.ts';
import type { ReparteeConfig } from './config.ts';
import type { ProviderSet } from './providers.ts';

/** One conversation on the configured providers; its turn records also go to `metricsLog` when given. */
export async function createConfiguredSession(
  config: ReparteeConfig,
  providers: ProviderSet,
  metricsLog?: JsonLinesMetricsWriter,
  tools: readonly ToolEntry[] = [],
): Promise<AgentSession> {
  const session = new AgentSession({
    vad: providers.vad,
    stt: providers.stt,
    tts: providers.tts,
    llm: await providers.createSessionLlm(),
    instructions: config.instructions,
    language: config.language,
    preemptiveGeneration: config.preemptiveGeneration,
    endpointing: config.endpointing,
    interruption: config.interruption,
    tools,
    toolTimeoutMs: config.toolTimeoutMs,
    maxToolSteps: config.maxToolSteps,
    longTools: config.longTools,
    context: config.context,
    summarizer: config.summarizerLlm
      ? await providers.createSummarizerLlm?.(config.summarizerLlm)
      : undefined,
  });
  if (metricsLog) session.on('metrics', (record) => metricsLog.write(record));
  return session;
}
