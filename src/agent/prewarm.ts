import type { AgentSessionOptions } from './options.ts';

type Report = (source: 'llm' | 'tts' | 'stt', error: unknown) => void;

/** Opens the providers' connections and loads their models before the first turn; a failure is a report only. */
export async function prewarmProviders(
  options: Pick<AgentSessionOptions, 'llm' | 'tts' | 'stt'>,
  report: Report,
): Promise<void> {
  await Promise.all([
    options.llm.prewarm?.().catch((error) => report('llm', error)),
    options.tts.prewarm?.().catch((error) => report('tts', error)),
    options.stt.prewarm?.().catch((error) => report('stt', error)),
  ]);
}
