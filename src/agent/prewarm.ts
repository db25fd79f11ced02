import type { AgentSessionOptions } from './options.ts';

type Report = (source: 'llm' | 'tts' | 'stt', error: unknown) => void;

/**
 * Opens the providers' connections and loads their models before the first turn; a failure is a report only.
 * A session closed while warming up cut its own connections: that is no provider's error, and not reported.
 */
export async function prewarmProviders(
  options: Pick<AgentSessionOptions, 'llm' | 'tts' | 'stt'>,
  reportError: Report,
  isClosed: () => boolean,
): Promise<void> {
  const report: Report = (source, error) => {
    if (!isClosed()) reportError(source, error);
  };
  await Promise.all([
    options.llm.prewarm?.().catch((error) => report('llm', error)),
    options.tts.prewarm?.().catch((error) => report('tts', error)),
    options.stt.prewarm?.().catch((error) => report('stt', error)),
  ]);
}
