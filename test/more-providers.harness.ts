import { PacedAudioOutput } from '../src/agent/paced-output.ts';
import type { AgentSession } from '../src/agent/session.ts';
import { readWavFile } from '../src/audio/wav.ts';
import { loadConfig } from '../src/config/config.ts';
import { type CreateProvidersOptions, createProviders, type ProviderSet } from '../src/config/providers.ts';
import { createConfiguredSession } from '../src/config/session.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import type { ToolEntry } from '../src/tools/tool.ts';
import { runFileConversation } from '../src/transport/file/file-conversation.ts';

/**
 * Sessions built exactly as `repartee serve` builds them (configuration → spec strings → providers, keys and
 * endpoints from an environment), pointed at local fake servers of the cloud providers.
 */

export const CLIP =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav';
/** The clip's words (Debian's pocketsphinx-testdata transcription). */
export const CLIP_TEXT = 'he was not an ill disposed young man';

/**
 * For sessions on the STT fakes that really hear the clip (AssemblyAI, Cartesia): they recognise with pocketsphinx
 * on this machine's CPU, so on a loaded machine their finals come 3-5 s after the end of speech, where the real
 * services' would not slow with our load. The session and the client wait for them instead of settling on an
 * interim (the 2 s and 3 s defaults are meant for real services), so a test of what the final carries tests that.
 */
export const FAKE_STT_ENDPOINTING = { finalTranscriptTimeoutMs: 10_000 };
export const FAKE_STT_TUNING = {
  assemblyai: { resultTimeoutMs: 10_000 },
  cartesia: { resultTimeoutMs: 10_000 },
};

export interface Lines {
  lines: { level: string; fields: Record<string, unknown>; message: string }[];
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  text(): string;
}

export function memoryLog(): Lines {
  const lines: Lines['lines'] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
    text: () => lines.map((l) => `${l.message} ${JSON.stringify(l.fields)}`).join('\n'),
  };
}

export interface ConfiguredSession {
  session: AgentSession;
  providers: ProviderSet;
  log: Lines;
  errors: string[];
  close(): Promise<void>;
}

/** A session from a configuration (`overrides`: llm, stt, tts, …) and an environment of keys and endpoints. */
export async function configuredSession(
  overrides: Record<string, unknown>,
  env: Record<string, string>,
  tools: readonly ToolEntry[] = [],
  sttTuning: CreateProvidersOptions['sttTuning'] = {},
): Promise<ConfiguredSession> {
  const config = await loadConfig({ file: '/nonexistent/repartee.config.json', env: {}, overrides });
  const log = memoryLog();
  const providers = await createProviders(config, { env, log, sttTuning });
  const session = await createConfiguredSession(config, providers, undefined, tools);
  const errors: string[] = [];
  session.on('error', (e) => errors.push(`${e.source}: ${e.error.message}`));
  return {
    session,
    providers,
    log,
    errors,
    close: async () => {
      await session.close();
      await providers.close();
    },
  };
}

/** Plays the LibriVox clip into the session in real time, to the end of the agent's answer. */
export async function answerClip(s: ConfiguredSession, clip = CLIP) {
  const input = await readWavFile(clip);
  const result = await runFileConversation(s.session, input, {
    pace: 'realtime',
    idleTailMs: 6000,
    maxTailMs: 30_000,
  });
  const history = s.session.history.toMessages().filter((m: ChatMessage) => m.role !== 'system');
  return { ...result, history };
}

/** Starts the session on a non-real-time output, for typed turns. */
export async function startTyped(s: ConfiguredSession) {
  const output = new PacedAudioOutput({ clock: s.session.clock, realTime: false });
  await s.session.start(output);
  /** One typed turn, to the end of its reply. */
  const turn = (text: string) =>
    new Promise<TurnMetrics>((resolve) => {
      const off = s.session.on('metrics', (m) => {
        if (m.userTranscript !== text) return;
        off();
        resolve(m);
      });
      s.session.sendText(text);
    });
  return { output, turn };
}

/** Words of a transcript, lower case, punctuation dropped. */
export const wordsOf = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z' ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
