import { resolve } from 'node:path';
import { loadSharedModel } from '../providers/llm/llama-models.ts';
import { parseLlmSpec } from '../providers/llm/spec.ts';
import type { TurnDetector } from '../providers/turn/contract.ts';
import { createTurnDetector } from '../providers/turn/spec.ts';
import type { ReparteeConfig } from './config.ts';

export type TurnDetectorConfig = Pick<
  ReparteeConfig,
  'turnDetector' | 'turnDetectorLlm' | 'turnDetectorLlmBudgetMs' | 'llmThreads'
>;

/**
 * The end-of-turn detector of one session, from the configuration. The default, `combined`, needs no download
 * (the n-gram model ships with Debian's pocketsphinx-en-us); with `turnDetectorLlm` and a local `llama:` LLM it
 * also asks that model, on a context of its own over the same shared weights.
 */
export async function createConfiguredTurnDetector(
  config: TurnDetectorConfig,
  llmSpec: string | null,
  warn: (message: string) => void,
): Promise<TurnDetector> {
  let llamaModel: Awaited<ReturnType<typeof loadSharedModel>> | undefined;
  if (config.turnDetectorLlm && config.turnDetector === 'combined') {
    const first = llmSpec?.split('>')[0]?.trim();
    const parsed = first ? parseLlmSpec(first) : undefined;
    if (parsed?.kind === 'llama') {
      try {
        llamaModel = await loadSharedModel(resolve(parsed.modelPath));
      } catch (error) {
        warn(`turn detector: LLM signal off (${(error as Error).message})`);
      }
    } else {
      warn('turn detector: turnDetectorLlm needs a local llama: LLM; the LLM signal is off');
    }
  }
  return createTurnDetector(config.turnDetector, {
    warn,
    llamaModel,
    llm: { budgetMs: config.turnDetectorLlmBudgetMs, threads: config.llmThreads ?? 1 },
  });
}
