import type { Clock } from '../../metrics/clock.ts';
import { AssemblyAiStt, type AssemblyAiSttOptions } from './assemblyai.ts';
import { CartesiaStt, type CartesiaSttOptions } from './cartesia.ts';
import type { SttLog } from './cloud-stream.ts';
import type { STT, SttFallbackEvent } from './contract.ts';
import { DeepgramStt, type DeepgramSttOptions } from './deepgram.ts';
import { FallbackStt } from './fallback.ts';
import { OpenAiBatchStt, type OpenAiBatchSttOptions } from './openai-batch.ts';
import { OpenAiRealtimeStt, type OpenAiRealtimeSttOptions } from './openai-realtime.ts';
import { type PocketsphinxOptions, PocketsphinxSTT } from './pocketsphinx.ts';

export type SttSpec =
  | { kind: 'pocketsphinx'; search: 'fast' | 'accurate' }
  | { kind: 'deepgram'; model: string }
  | { kind: 'openai-realtime'; model: string }
  | { kind: 'openai'; model: string }
  | { kind: 'assemblyai'; model: string }
  | { kind: 'cartesia'; model: string };

export class SttSpecError extends Error {
  override readonly name = 'SttSpecError';
}

const FORMS =
  'expected "local", "pocketsphinx[:fast|accurate]", "deepgram[:<model>]", "openai-realtime[:<model>]" or ' +
  '"openai[:<model>]" (e.g. "openai:whisper-1", "openai:gpt-4o-transcribe"), "assemblyai[:<speech_model>]", ' +
  '"cartesia[:<model>]"';

export const DEFAULT_STT_MODELS = {
  deepgram: 'nova-3',
  'openai-realtime': 'gpt-4o-mini-transcribe',
  openai: 'gpt-4o-mini-transcribe',
  assemblyai: 'universal-streaming-english',
  cartesia: 'ink-whisper',
} as const;

/** Parses one `stt` spec; throws SttSpecError listing the accepted forms. */
export function parseSttSpec(spec: string): SttSpec {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  const kind = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const rest = colon < 0 ? '' : trimmed.slice(colon + 1).trim();
  const bad = (why: string) => new SttSpecError(`bad stt spec "${spec}": ${why}; ${FORMS}`);
  switch (kind) {
    case 'local':
      if (rest) throw bad('"local" takes no option');
      return { kind: 'pocketsphinx', search: 'fast' };
    case 'pocketsphinx':
      if (rest && rest !== 'fast' && rest !== 'accurate') throw bad(`unknown pocketsphinx search "${rest}"`);
      return { kind: 'pocketsphinx', search: (rest || 'fast') as 'fast' | 'accurate' };
    case 'deepgram':
    case 'openai-realtime':
    case 'openai':
    case 'assemblyai':
    case 'cartesia':
      if (colon >= 0 && !rest) throw bad('empty model name after ":"');
      if (/\s/.test(rest)) throw bad(`model "${rest}" contains spaces`);
      return { kind, model: rest || DEFAULT_STT_MODELS[kind] };
    default:
      throw bad(kind ? `unknown provider "${kind}"` : 'empty spec');
  }
}

export interface CreateSttOptions {
  /** The session language (BCP-47 or ISO-639-1); each provider takes the form it needs. */
  language: string;
  /**
   * Keys come from here only: DEEPGRAM_API_KEY, OPENAI_API_KEY, ASSEMBLYAI_API_KEY, CARTESIA_API_KEY (and
   * DEEPGRAM_BASE_URL, OPENAI_BASE_URL, ASSEMBLYAI_BASE_URL, CARTESIA_STT_BASE_URL else CARTESIA_BASE_URL).
   */
  env?: NodeJS.ProcessEnv;
  log?: SttLog;
  /** Called on every fallback switch (count it as a metric). */
  onFallback?(event: SttFallbackEvent): void;
  /** Fallback on a final later than this after end of speech (ms); off by default. */
  finalLatencyBudgetMs?: number;
  /** Per-provider tuning (timeouts, retries, endpointing…); keys and URLs still come from `env`. */
  deepgram?: Partial<Omit<DeepgramSttOptions, 'apiKey'>>;
  openaiRealtime?: Partial<Omit<OpenAiRealtimeSttOptions, 'apiKey'>>;
  openai?: Partial<Omit<OpenAiBatchSttOptions, 'apiKey'>>;
  assemblyai?: Partial<Omit<AssemblyAiSttOptions, 'apiKey'>>;
  cartesia?: Partial<Omit<CartesiaSttOptions, 'apiKey'>>;
  pocketsphinx?: Partial<PocketsphinxOptions>;
  clock?: Clock;
}

/**
 * Builds the STT a spec names, or a FallbackStt for a list of them (first preferred). Throws SttSpecError for a
 * bad spec or a missing key, so a typo fails at start-up.
 */
export function createStt(spec: string | readonly string[], options: CreateSttOptions): STT {
  const specs = typeof spec === 'string' ? [spec] : spec;
  if (specs.length === 0) throw new SttSpecError(`empty stt list; ${FORMS}`);
  const parsed = specs.map(parseSttSpec);
  const providers = parsed.map((p) => createOne(p, options));
  if (providers.length === 1) return providers[0];
  return new FallbackStt(providers, {
    log: options.log,
    onFallback: options.onFallback,
    finalLatencyBudgetMs: options.finalLatencyBudgetMs,
    clock: options.clock,
  });
}

function createOne(spec: SttSpec, options: CreateSttOptions): STT {
  const env = options.env ?? process.env;
  const key = (name: string, provider: string) => {
    const value = env[name]?.trim();
    if (!value) throw new SttSpecError(`stt "${provider}" needs ${name} in the environment`);
    return value;
  };
  const common = {
    log: options.log,
    language: options.language,
    ...(options.clock ? { clock: options.clock } : {}),
  };
  switch (spec.kind) {
    case 'pocketsphinx':
      return new PocketsphinxSTT({ ...options.pocketsphinx, search: spec.search });
    case 'deepgram':
      return new DeepgramStt({
        ...common,
        ...options.deepgram,
        model: spec.model,
        apiKey: key('DEEPGRAM_API_KEY', 'deepgram'),
        baseUrl: options.deepgram?.baseUrl ?? (env.DEEPGRAM_BASE_URL || undefined),
      });
    case 'openai-realtime':
      return new OpenAiRealtimeStt({
        ...common,
        ...options.openaiRealtime,
        model: spec.model,
        apiKey: key('OPENAI_API_KEY', 'openai-realtime'),
        baseUrl: options.openaiRealtime?.baseUrl ?? (env.OPENAI_BASE_URL || undefined),
      });
    case 'openai':
      return new OpenAiBatchStt({
        ...common,
        ...options.openai,
        model: spec.model,
        apiKey: key('OPENAI_API_KEY', 'openai'),
        baseUrl: options.openai?.baseUrl ?? (env.OPENAI_BASE_URL || undefined),
      });
    case 'assemblyai':
      return new AssemblyAiStt({
        ...common,
        ...options.assemblyai,
        speechModel: spec.model,
        apiKey: key('ASSEMBLYAI_API_KEY', 'assemblyai'),
        baseUrl: options.assemblyai?.baseUrl ?? (env.ASSEMBLYAI_BASE_URL || undefined),
      });
    case 'cartesia':
      return new CartesiaStt({
        ...common,
        ...options.cartesia,
        model: spec.model,
        apiKey: key('CARTESIA_API_KEY', 'cartesia'),
        baseUrl:
          options.cartesia?.baseUrl ?? (env.CARTESIA_STT_BASE_URL || env.CARTESIA_BASE_URL || undefined),
      });
  }
}
