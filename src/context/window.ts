import type { ChatMessage, TokenCounter } from '../providers/llm/contract.ts';
import type { HistoryItem } from './history.ts';
import type { ContextPolicyOptions } from './policy.ts';
import { currentUserText, type HistoryRelevance } from './relevance.ts';
import type { ContextStats, SummaryState } from './stats.ts';
import type { MessageTokens } from './tokens.ts';

export type { ContextStats, SummaryState } from './stats.ts';

export const SUMMARY_HEADING = 'Summary of the earlier conversation:';

export interface ContextPrompt {
  messages: ChatMessage[];
  stats: ContextStats;
  /** Tokens and messages (after the instructions) before the hard limits: what the watermarks compare. */
  fullTokens: number;
  fullMessages: number;
  /** History items up to this id are out of the prompt (sticky, so the prompt's prefix stays put). */
  prunedUntilId: number;
  /** The prompt exceeded a hard limit and had to drop older messages. */
  overLimit: boolean;
}

/** Message objects derived from history items, made once each so their token counts are cached too. */
export class DerivedMessages {
  private readonly stubs = new WeakMap<HistoryItem, ChatMessage>();
  private readonly withSummary = new WeakMap<SummaryState, { source: HistoryItem; message: ChatMessage }>();
  private readonly standalone = new WeakMap<SummaryState, ChatMessage>();
  private readonly clips = new WeakMap<ChatMessage, { maxTokens: number; message: ChatMessage }>();

  /**
   * `message` with its content cut to about `maxTokens` tokens and a marker that says so (made once per size, so
   * a clip that still fits keeps the prompt's prefix, and its token count, from one request to the next).
   */
  clip(message: ChatMessage, maxTokens: number, counter: TokenCounter): ChatMessage {
    const cached = this.clips.get(message);
    if (cached?.maxTokens === maxTokens) return cached.message;
    const clipped = { ...plain(message), content: clipContent(message.content, maxTokens, counter) };
    this.clips.set(message, { maxTokens, message: clipped });
    return clipped;
  }

  /** A large tool output shrunk to a stub that says what it was. */
  stub(item: HistoryItem, tokens: number): ChatMessage {
    let stub = this.stubs.get(item);
    if (!stub) {
      const head = item.content.replace(/\s+/g, ' ').slice(0, 160).trimEnd();
      const { id: _id, createdAtMs: _at, ...message } = item;
      stub = {
        ...message,
        content: `[Tool output shrunk to save context: ${tokens} tokens that began "${head}…"]`,
      };
      this.stubs.set(item, stub);
    }
    return stub;
  }

  /** The instructions with the summary after them (one system message: some chat templates allow no other). */
  instructionsWithSummary(instructions: HistoryItem, summary: SummaryState): ChatMessage {
    const cached = this.withSummary.get(summary);
    if (cached?.source === instructions) return cached.message;
    const message: ChatMessage = {
      role: 'system',
      content: `${instructions.content}\n\n${SUMMARY_HEADING} ${summary.text}`,
    };
    this.withSummary.set(summary, { source: instructions, message });
    return message;
  }

  summaryOnly(summary: SummaryState): ChatMessage {
    let message = this.standalone.get(summary);
    if (!message) {
      message = { role: 'system', content: `${SUMMARY_HEADING} ${summary.text}` };
      this.standalone.set(summary, message);
    }
    return message;
  }
}

export interface WindowInput {
  items: readonly HistoryItem[];
  summary: SummaryState | undefined;
  /** History items up to this id were dropped by an earlier prompt and stay out until a summary covers them. */
  prunedUntilId?: number;
  policy: ContextPolicyOptions;
  tokens: MessageTokens;
  derived: DerivedMessages;
  /** Recall of older turns by relevance, within `maxTokens` tokens (on top of `policy`'s recent window). */
  recall?: { relevance: HistoryRelevance; maxTokens: number };
}

/** The first `maxTokens` tokens (about) of `text`, marked as clipped; the marker counts towards `maxTokens`. */
function clipContent(text: string, maxTokens: number, counter: TokenCounter): string {
  const full = counter.countTokens(text);
  const marker = (shown: number) =>
    `\n…[clipped to fit the context: ${full} tokens, showing the first ${shown}]`;
  const budget = maxTokens - counter.countTokens(marker(full));
  if (budget <= 0 || text.length === 0) return marker(0).trimStart();
  // Proportional guesses, shrinking: a handful of tokenizer passes even for a megabyte of text.
  let end = Math.min(text.length, Math.floor((text.length * budget) / Math.max(1, full)));
  let shown = counter.countTokens(text.slice(0, end));
  while (shown > budget && end > 0) {
    end = Math.min(end - 1, Math.floor(((end * budget) / shown) * 0.97));
    shown = counter.countTokens(text.slice(0, end));
  }
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--; // never split a surrogate pair
  return `${text.slice(0, end)}${marker(counter.countTokens(text.slice(0, end)))}`;
}

/** A message without the history's bookkeeping fields. */
function plain(message: ChatMessage): ChatMessage {
  if (!('id' in message)) return message;
  const { id: _id, createdAtMs: _at, ...rest } = message as HistoryItem;
  return rest;
}

/** Index of the first message of the last `keepTurns` user turns (messages.length when none are kept). */
function keptFrom(messages: readonly ChatMessage[], keepTurns: number): number {
  let seen = 0;
  for (let i = messages.length - 1; i >= 0 && keepTurns > 0; i--) {
    if (messages[i].role === 'user' && ++seen === keepTurns) return i;
  }
  return keepTurns > 0 ? 0 : messages.length;
}

interface Unsummarized {
  /** History items after the summary (the pending message aside). */
  items: HistoryItem[];
  /** What the prompt shows for each item (the item itself or its stub), then the pending message. */
  shown: ChatMessage[];
}

/**
 * The history after the summary, as the prompt shows it: older tool outputs that the LLM has answered after are
 * shrunk to stubs when large; the last `keepTurns` turns stay verbatim.
 */
function unsummarized(input: WindowInput, pending?: ChatMessage): Unsummarized {
  const { policy, tokens, derived } = input;
  const covered = input.summary?.coveredUntilId ?? 0;
  const items = input.items.filter((m) => m.role !== 'system' && m.id > covered);
  const shown: ChatMessage[] = [...items, ...(pending ? [pending] : [])];
  const keep = keptFrom(shown, policy.keepTurns);
  let answeredAfter = false;
  for (let i = shown.length - 1; i >= 0; i--) {
    const m = shown[i];
    if (m.role === 'assistant') answeredAfter = true;
    if (m.role !== 'tool' || i >= keep || !answeredAfter || i >= items.length) continue;
    const size = tokens.text(m.content);
    if (size <= policy.toolOutputMaxTokens) continue;
    shown[i] = derived.stub(items[i], size);
  }
  return { items, shown };
}

/** The instructions as the prompt shows them, with the summary merged into the first system message. */
function pinnedMessages(input: WindowInput): ChatMessage[] {
  const system = input.items.filter((m) => m.role === 'system');
  const { summary, derived } = input;
  if (!summary) return system;
  if (system.length === 0) return [derived.summaryOnly(summary)];
  return [derived.instructionsWithSummary(system[0], summary), ...system.slice(1)];
}

/**
 * Where the prompt may start after dropping older messages: the first user message after `from`, or, inside a
 * single long turn, any message that is not a tool result (a call is never separated from its result). Never the
 * position of the last message, which is always kept.
 */
function nextCut(shown: readonly ChatMessage[], from: number): number | undefined {
  for (let k = from + 1; k < shown.length; k++) if (shown[k].role === 'user') return k;
  for (let k = from + 1; k < shown.length; k++) if (shown[k].role !== 'tool') return k;
  return undefined;
}

/**
 * The prompt for the next request: the instructions (with the summary), then the history the summary does not
 * cover, then `pending` (a user message not yet in the history). History up to `prunedUntilId` stays out. Over
 * `maxTokens` or `maxMessages`, the oldest messages leave the prompt, whole turns at a time, down to the high
 * watermarks, so that this prefix rewrite is not needed again for a while; they stay in the history for the next
 * summary to fold in.
 */
export function buildPrompt(input: WindowInput, pending?: ChatMessage): ContextPrompt {
  const { policy, tokens, summary } = input;
  const pinned = pinnedMessages(input);
  const { items, shown } = unsummarized(input, pending);
  const pinnedTokens = pinned.reduce((n, m) => n + tokens.count(m), tokens.counter.promptOverheadTokens);
  const sizes = shown.map((m) => tokens.count(m));
  const fullTokens = sizes.reduce((n, t) => n + t, pinnedTokens);
  const prunedUntil = input.prunedUntilId ?? 0;
  let start = 0;
  while (start < items.length && start < shown.length - 1 && items[start].id <= prunedUntil) start++;
  const sources = [...shown];
  const clipped = clipOversized(input, shown, sizes, sources, start, pinnedTokens);
  let total = sizes.reduce((n, t, i) => (i < start ? n : n + t), pinnedTokens);
  const overLimit = total > policy.maxTokens || shown.length - start > policy.maxMessages;
  if (overLimit) {
    while (total > policy.summarizeAtTokens || shown.length - start > policy.summarizeAtMessages) {
      const cut = nextCut(shown, start);
      if (cut === undefined) break;
      for (let i = start; i < cut; i++) total -= sizes[i];
      start = cut;
    }
  }
  if (total > policy.maxTokens) total = clipToBudget(input, shown, sizes, sources, start, total, clipped);
  const clippedMessages = [...clipped].filter((i) => i >= start).length;
  const kept = shown.slice(start);
  const stubbedKept = kept.filter((m, i) => start + i < items.length && m !== items[start + i]).length;
  const keptFromId = start < items.length ? items[start].id : Number.POSITIVE_INFINITY;
  const recalled = recallOlder(input, keptFromId, kept);
  total += recalled.tokens;
  const messages = [...pinned, ...recalled.messages, ...kept].map(plain);
  const dropped = Math.min(start, items.length);
  return {
    messages,
    stats: {
      contextTokens: total,
      contextMessages: messages.length,
      summarizedMessages: summary?.messages ?? 0,
      prunedMessages: dropped + stubbedKept,
      clippedMessages,
      recalledMessages: recalled.messages.length,
      summaryId: summary?.id ?? null,
      summaryDurationMs: summary?.durationMs ?? null,
    },
    fullTokens,
    fullMessages: shown.length,
    overLimit,
    prunedUntilId: dropped > 0 ? Math.max(prunedUntil, items[dropped - 1].id) : prunedUntil,
  };
}

/** The older turns (before `beforeId`, out of the prompt) most relevant to the current user turn. */
function recallOlder(input: WindowInput, beforeId: number, kept: readonly ChatMessage[]) {
  const { recall } = input;
  if (!recall) return { messages: [], tokens: 0 };
  const turns = recall.relevance.select(
    input.items,
    beforeId,
    currentUserText(kept),
    recall.maxTokens,
    input.tokens,
  );
  return { messages: turns.flatMap((t) => t.messages), tokens: turns.reduce((n, t) => n + t.tokens, 0) };
}

/**
 * Clips `shown[i]` (from its original, `sources[i]`) to about `contentTokens` tokens of content; false, leaving it
 * as it is, when the clip (its marker included) would be no smaller.
 */
function clipAt(
  input: WindowInput,
  shown: ChatMessage[],
  sizes: number[],
  sources: readonly ChatMessage[],
  i: number,
  contentTokens: number,
): boolean {
  const clip = input.derived.clip(sources[i], Math.max(0, contentTokens), input.tokens.counter);
  const size = input.tokens.count(clip);
  if (size >= sizes[i]) return false;
  shown[i] = clip;
  sizes[i] = size;
  return true;
}

/**
 * A message of the kept turns (the last `keepTurns`, at least the last one) that is bigger than half the room
 * under the high watermark — a huge tool result, a very long message — is clipped to that size, with a marker,
 * when the kept turns would not fit the budget. Cutting could not help: the cut that reaches past the message
 * would drop the user's question, or the whole turn, and a call's result can never be cut from the call. The
 * size depends only on the policy and the instructions, so a clip stays the same from one request to the next
 * (a stable prefix for a local model's KV cache). Updates `shown` and `sizes`; returns the indices clipped.
 */
function clipOversized(
  input: WindowInput,
  shown: ChatMessage[],
  sizes: number[],
  sources: readonly ChatMessage[],
  start: number,
  pinnedTokens: number,
): Set<number> {
  const { policy, tokens } = input;
  const clipped = new Set<number>();
  if (shown.length === 0) return clipped;
  const from = Math.max(start, Math.min(keptFrom(shown, Math.max(1, policy.keepTurns)), shown.length - 1));
  const keptTokens = sizes.slice(from).reduce((n, t) => n + t, pinnedTokens);
  if (keptTokens <= policy.maxTokens) return clipped;
  const cap = Math.max(1, Math.floor((policy.summarizeAtTokens - pinnedTokens) / 2));
  for (let i = from; i < shown.length; i++) {
    if (sizes[i] <= cap || !shown[i].content) continue;
    const overhead = sizes[i] - tokens.text(shown[i].content); // the message's format tokens and tool calls
    if (clipAt(input, shown, sizes, sources, i, cap - overhead)) clipped.add(i);
  }
  return clipped;
}

/**
 * The last resort, when cutting has done all it may and the prompt is still over `maxTokens` (e.g. instructions
 * that take most of the budget): the largest remaining messages are clipped until it fits. Returns the new total.
 */
function clipToBudget(
  input: WindowInput,
  shown: ChatMessage[],
  sizes: number[],
  sources: readonly ChatMessage[],
  start: number,
  total: number,
  clipped: Set<number>,
): number {
  const { policy, tokens } = input;
  const done = new Set<number>();
  while (total > policy.maxTokens) {
    let largest = -1;
    for (let i = start; i < shown.length; i++) {
      if (done.has(i) || !sources[i].content) continue;
      if (largest < 0 || sizes[largest] < sizes[i]) largest = i;
    }
    if (largest < 0) break;
    const before = sizes[largest];
    const content = tokens.text(shown[largest].content);
    done.add(largest);
    if (!clipAt(input, shown, sizes, sources, largest, content - (total - policy.maxTokens))) continue;
    total += sizes[largest] - before;
    clipped.add(largest);
  }
  return total;
}

export interface SummaryPlan {
  /** The oldest unsummarised history items, whole turns, to fold into the summary. */
  fold: HistoryItem[];
}

/**
 * Whether to summarise now and what: nothing until the prompt reaches a high watermark (tokens or messages); then
 * the oldest turns, as few as bring the prompt down to the low watermarks with a full-length summary in place,
 * and never any of the last `keepTurns` turns.
 */
export function planSummary(input: WindowInput): SummaryPlan | undefined {
  const { policy, tokens } = input;
  if (!policy.summarize) return undefined;
  const full = buildPrompt(input);
  if (full.fullTokens < policy.summarizeAtTokens && full.fullMessages < policy.summarizeAtMessages)
    return undefined;
  const { items, shown } = unsummarized(input);
  const keep = keptFrom(shown, policy.keepTurns);
  const instructions = input.items.filter((m) => m.role === 'system');
  let remaining =
    instructions.reduce((n, m) => n + tokens.count(m), tokens.counter.promptOverheadTokens) +
    policy.summaryMaxTokens +
    tokens.text(SUMMARY_HEADING) +
    shown.reduce((n, m) => n + tokens.count(m), 0);
  const lowMessages = Math.floor(policy.summarizeAtMessages / 2);
  // Messages already pruned from the prompt are folded in first: until a summary covers them they are lost.
  const pruned = items.filter((m) => m.id <= (input.prunedUntilId ?? 0)).length;
  let best: number | undefined;
  for (let k = 1; k <= keep && k < shown.length; k++) {
    remaining -= tokens.count(shown[k - 1]);
    if (shown[k].role !== 'user') continue;
    best = k;
    if (k >= pruned && remaining <= policy.summarizeToTokens && shown.length - k <= lowMessages) break;
  }
  return best === undefined ? undefined : { fold: items.slice(0, best) };
}
