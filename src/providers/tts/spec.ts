import type { FallbackOptions } from '../llm/fallback-rotation.ts';
import type { ProviderLog } from '../llm/openai-compatible.ts';
import {
  CARTESIA_DEFAULT_MODEL,
  CARTESIA_DEFAULT_VOICE,
  type CartesiaOptions,
  CartesiaTts,
} from './cartesia.ts';
import type { TTS } from './contract.ts';
import { AURA_DEFAULT_VOICE, type DeepgramAuraOptions, DeepgramAuraTts } from './deepgram-aura.ts';
import {
  ELEVENLABS_DEFAULT_MODEL,
  ELEVENLABS_DEFAULT_VOICE,
  type ElevenLabsOptions,
  ElevenLabsTts,
} from './elevenlabs.ts';
import { createElevenLabsHttpTts } from './elevenlabs-http.ts';
import { FallbackTts } from './fallback.ts';
import { createLocalTts, LOCAL_TTS_ENGINES, type LocalTtsEngine } from './local.ts';
import { createOpenAiTts, type OpenAiTtsOptions } from './openai.ts';

export type TtsSpec =
  | { kind: 'local' }
  | { kind: 'engine'; engine: LocalTtsEngine; voice?: string }
  | { kind: 'openai'; model: string; voice?: string }
  | { kind: 'elevenlabs' | 'elevenlabs-ws' | 'elevenlabs-http'; voiceId: string; modelId: string }
  | { kind: 'cartesia'; voiceId: string; modelId: string }
  | { kind: 'deepgram-aura'; voice: string };

export class TtsSpecError extends Error {
  override readonly name = 'TtsSpecError';
  constructor(
    readonly code: 'bad-spec' | 'missing-api-key',
    message: string,
  ) {
    super(message);
  }
}

const EXAMPLES =
  'expected "local", flite|espeak-ng|festival[:voice], "openai[:<model>[:<voice>]]" or ' +
  '"elevenlabs[:<voice_id>[:<model_id>]]" (also elevenlabs-ws:, elevenlabs-http:), "cartesia[:<voice_id>[:<model_id>]]", "deepgram-aura[:<voice>]"';

/** Parses one `tts` spec; throws TtsSpecError('bad-spec') naming the accepted forms. */
export function parseTtsSpec(spec: string): TtsSpec {
  const trimmed = spec.trim();
  const [kind, ...rest] = trimmed.split(':');
  const args = rest.map((part) => part.trim());
  const bad = (why: string) => new TtsSpecError('bad-spec', `bad tts spec "${spec}": ${why}; ${EXAMPLES}`);
  if (args.some((a) => !a)) throw bad('an empty part between colons');
  if (kind === 'local' && args.length === 0) return { kind: 'local' };
  if (LOCAL_TTS_ENGINES.includes(kind as LocalTtsEngine)) {
    if (args.length > 1) throw bad('a local engine takes one voice');
    return { kind: 'engine', engine: kind as LocalTtsEngine, ...(args[0] ? { voice: args[0] } : {}) };
  }
  if (kind === 'openai') {
    if (args.length > 2) throw bad('openai takes a model and a voice');
    return { kind, model: args[0] ?? 'gpt-4o-mini-tts', ...(args[1] ? { voice: args[1] } : {}) };
  }
  if (kind === 'elevenlabs' || kind === 'elevenlabs-ws' || kind === 'elevenlabs-http') {
    if (args.length > 2) throw bad('elevenlabs takes a voice id and a model id');
    return {
      kind,
      voiceId: args[0] ?? ELEVENLABS_DEFAULT_VOICE,
      modelId: args[1] ?? ELEVENLABS_DEFAULT_MODEL,
    };
  }
  if (kind === 'cartesia') {
    if (args.length > 2) throw bad('cartesia takes a voice id and a model id');
    return { kind, voiceId: args[0] ?? CARTESIA_DEFAULT_VOICE, modelId: args[1] ?? CARTESIA_DEFAULT_MODEL };
  }
  if (kind === 'deepgram-aura') {
    if (args.length > 1) throw bad('deepgram-aura takes one voice (model), e.g. aura-2-thalia-en');
    return { kind, voice: args[0] ?? AURA_DEFAULT_VOICE };
  }
  throw bad(kind ? `unknown provider "${kind}"` : 'empty');
}

export interface CreateTtsOptions {
  /**
   * Secrets and endpoints come from here only: OPENAI_API_KEY (+ optional OPENAI_BASE_URL) for `openai`,
   * ELEVENLABS_API_KEY (+ optional ELEVENLABS_BASE_URL) for `elevenlabs`, CARTESIA_API_KEY (+ optional
   * CARTESIA_BASE_URL) for `cartesia`, DEEPGRAM_API_KEY (+ optional DEEPGRAM_TTS_BASE_URL, else DEEPGRAM_BASE_URL) for
   * `deepgram-aura`.
   * Default `process.env`.
   */
  env?: Record<string, string | undefined>;
  log?: ProviderLog;
  /** For a list: first-audio budget, when to retry the first, where fallbacks are reported. */
  fallback?: FallbackOptions;
  openai?: Partial<Omit<OpenAiTtsOptions, 'apiKey' | 'model' | 'voice'>>;
  elevenlabs?: Partial<Omit<ElevenLabsOptions, 'apiKey' | 'voiceId' | 'modelId'>>;
  cartesia?: Partial<Omit<CartesiaOptions, 'apiKey' | 'voiceId' | 'modelId'>>;
  deepgramAura?: Partial<Omit<DeepgramAuraOptions, 'apiKey' | 'voice'>>;
}

/**
 * Builds the TTS a spec, or a fallback list of specs, names. `elevenlabs:` is the WebSocket API with the HTTP
 * streaming endpoint behind it. Every entry is checked now (spec form, keys), so a mistake fails at start-up.
 */
export function createTts(spec: string | readonly string[], options: CreateTtsOptions = {}): TTS {
  const specs = typeof spec === 'string' ? [spec] : spec;
  if (specs.length === 0) throw new TtsSpecError('bad-spec', 'a tts fallback list needs at least one spec');
  const providers = specs.map((one) => createOneTts(one, options));
  return providers.length === 1
    ? providers[0]
    : new FallbackTts(providers, { log: options.log, ...options.fallback });
}

function createOneTts(spec: string, options: CreateTtsOptions): TTS {
  const parsed = parseTtsSpec(spec);
  const env = options.env ?? process.env;
  const key = (name: string) => {
    const value = env[name];
    if (!value)
      throw new TtsSpecError('missing-api-key', `tts "${spec}" needs the ${name} environment variable`);
    return value;
  };
  switch (parsed.kind) {
    case 'local':
      return createLocalTts();
    case 'engine':
      return createLocalTts({ engine: parsed.engine, voice: parsed.voice });
    case 'openai':
      return createOpenAiTts({
        log: options.log,
        ...options.openai,
        apiKey: key('OPENAI_API_KEY'),
        model: parsed.model,
        ...(parsed.voice ? { voice: parsed.voice } : {}),
        baseURL: options.openai?.baseURL ?? (env.OPENAI_BASE_URL || undefined),
        name: options.openai?.name ?? spec,
      });
    case 'cartesia':
      return new CartesiaTts({
        log: options.log,
        ...options.cartesia,
        apiKey: key('CARTESIA_API_KEY'),
        voiceId: parsed.voiceId,
        modelId: parsed.modelId,
        baseUrl: options.cartesia?.baseUrl ?? (env.CARTESIA_BASE_URL || undefined),
        name: options.cartesia?.name ?? spec,
      });
    case 'deepgram-aura':
      return new DeepgramAuraTts({
        log: options.log,
        ...options.deepgramAura,
        apiKey: key('DEEPGRAM_API_KEY'),
        voice: parsed.voice,
        baseUrl:
          options.deepgramAura?.baseUrl ?? (env.DEEPGRAM_TTS_BASE_URL || env.DEEPGRAM_BASE_URL || undefined),
        name: options.deepgramAura?.name ?? spec,
      });
    default: {
      const common = {
        log: options.log,
        ...options.elevenlabs,
        apiKey: key('ELEVENLABS_API_KEY'),
        voiceId: parsed.voiceId,
        modelId: parsed.modelId,
        baseUrl: options.elevenlabs?.baseUrl ?? (env.ELEVENLABS_BASE_URL || undefined),
      };
      if (parsed.kind === 'elevenlabs-http') return createElevenLabsHttpTts({ ...common, name: spec });
      const socket = new ElevenLabsTts({
        ...common,
        name: parsed.kind === 'elevenlabs' ? `${spec} (websocket)` : spec,
      });
      if (parsed.kind === 'elevenlabs-ws') return socket;
      const http = createElevenLabsHttpTts({ ...common, name: `${spec} (http)` });
      return new FallbackTts([socket, http], { log: options.log, ...options.fallback });
    }
  }
}
