/**
 * Simulated provider profiles. `cloud` follows published figures for hosted realtime voice stacks: LLM time to
 * first token 0.4-0.7 s, TTS time to first byte about 0.33 s, realtime STT finals 10-40 ms after the end of
 * speech. `fast` is near-zero provider latency, for capacity: what is left is Repartee's own cost.
 */
import type { SimulatedProfile } from './ipc.ts';

/** Short spoken answers (1-3 s of speech): turns stay short so a run gathers many of them. */
export const SHORT_REPLIES = [
  'Sure, I can help with that.',
  'That sounds right to me.',
  'Good question. Let me think.',
  'Yes, he was rather selfish.',
  'I see what you mean.',
  'Of course. Go on.',
];

/** Replies long enough (6-9 s of speech) to be talked over. */
export const LONG_REPLIES = [
  'Well, John Dashwood meant to be generous at first. Then his wife talked him out of it, one step at a time, until almost nothing was left.',
  'It is a fair point. He was not cruel, only cold, and in that family a little coldness did a great deal of harm to his sisters.',
  'Austen is gentle with him on the surface. Underneath she is sharp: a man who is merely selfish can still ruin the people around him.',
];

export function cloudProfile(replies: readonly string[] = SHORT_REPLIES): SimulatedProfile {
  return {
    name: 'cloud',
    sttFinal: { minMs: 10, maxMs: 40 },
    sttInterimDelayMs: 150,
    llmTtft: { minMs: 400, maxMs: 700 },
    llmTokensPerSecond: 80,
    ttsTtfb: { minMs: 280, maxMs: 380 },
    ttsRealTimeFactor: 0.2,
    replies: [...replies],
  };
}

export function fastProfile(): SimulatedProfile {
  return {
    name: 'fast',
    sttFinal: 10,
    sttInterimDelayMs: 50,
    llmTtft: 20,
    llmTokensPerSecond: 500,
    ttsTtfb: 10,
    ttsRealTimeFactor: 0.05,
    replies: [...SHORT_REPLIES],
  };
}
