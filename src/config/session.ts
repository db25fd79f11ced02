import { AgentSession } from '../agent/session.ts';
import type { ReparteeConfig } from './config.ts';
import type { ProviderSet } from './providers.ts';

/** One conversation on the configured providers. */
export async function createConfiguredSession(
  config: ReparteeConfig,
  providers: ProviderSet,
): Promise<AgentSession> {
  return new AgentSession({
    vad: providers.vad,
    stt: providers.stt,
    tts: providers.tts,
    llm: await providers.createSessionLlm(),
    instructions: config.instructions,
    language: config.language,
    preemptiveGeneration: config.preemptiveGeneration,
    endpointing: config.endpointing,
    interruption: config.interruption,
  });
}
