import type { ChatMessage } from '../providers/llm/contract.ts';
import { DEFAULT_PROVIDER_FAILURE } from './options.ts';

/** Shared by src/agent/session.test.ts and src/agent/session-interruption.test.ts (not a test file). */

/** What the TTS synthesized for replies (a session may also synthesize its apology at start, to keep it ready). */
export const replySegments = (segments: readonly string[]) =>
  segments.filter((text) => text !== DEFAULT_PROVIDER_FAILURE.apology);

export const lastUser = (messages: readonly ChatMessage[]) =>
  messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
export const STORY =
  'Once upon a time there was a small fox who lived in a quiet forest. Every morning the fox ran to the river to drink. ' +
  'One day the river was gone and the fox had to find out why. It walked for many days over hills and through fields. ' +
  'At last it found a beaver dam and asked the beavers to share. The beavers agreed and the river came back. The end.';
