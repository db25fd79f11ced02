import type { TurnMetrics } from '../metrics/schema.ts';
import { fallbackStateOf } from '../providers/llm/fallback-rotation.ts';

interface NamedProvider {
  readonly name: string;
}

/**
 * Switches to fallback providers, for the turn metrics. The LLM and the TTS (fallback lists) keep their own
 * counts; the STT's switches happen inside its stream and are reported here one by one.
 */
export class ProviderFallbacks {
  private sttSwitches = 0;

  constructor(private readonly providers: { readonly llm: NamedProvider; readonly tts: NamedProvider }) {}

  /** Switches so far, all kinds together: a speech keeps the count at its start to report its own. */
  get count(): number {
    return (
      (fallbackStateOf(this.providers.llm)?.fallbackCount ?? 0) +
      (fallbackStateOf(this.providers.tts)?.fallbackCount ?? 0) +
      this.sttSwitches
    );
  }

  sttSwitched(): void {
    this.sttSwitches++;
  }

  /** The providers serving now, and the switches since `countAtStart` (a speech's start). */
  providersSince(countAtStart: number): Pick<TurnMetrics, 'llmProvider' | 'ttsProvider' | 'fallbacks'> {
    return {
      llmProvider: activeProviderName(this.providers.llm),
      ttsProvider: activeProviderName(this.providers.tts),
      fallbacks: this.count - countAtStart,
    };
  }
}

function activeProviderName(provider: NamedProvider): string {
  return fallbackStateOf(provider)?.activeProvider ?? provider.name;
}
