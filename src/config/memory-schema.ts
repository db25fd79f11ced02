import { z } from 'zod';

/**
 * `memory` in the configuration: memory across conversations (docs/memory.md). Off by default; on, a session
 * whose request names a user (`?user=`, the WebSocket `config` message's `user`, a phone call's caller number)
 * remembers what that user stated and a summary of each call, in the conversation store, and offers the relevant
 * items in later conversations' prompts. A session without a user id has no memory.
 */
export const MemoryConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Tokens of each prompt the remembered items may take. */
    tokens: z.number().int().min(0).max(100_000).default(300),
    /**
     * How stated facts are found: `rule`, first-person sentences ("my … is …", "I am / I'm / I live / I like …",
     * src/context/memory-rules.ts), no model needed; `llm`, the session's LLM in the background after each reply
     * (a second context, never on the reply's path); `both`.
     */
    extract: z.enum(['rule', 'llm', 'both']).default('rule'),
    /** A summary of each call (the context summary, or the LLM's at its end) is remembered too. */
    summaries: z.boolean().default(true),
    /** At most this many of the user's newest items are loaded when a session starts. */
    maxItems: z.number().int().min(1).max(100_000).default(500),
  })
  .strict();

export type MemoryConfig = z.infer<typeof MemoryConfigSchema>;

/** User ids are chosen by clients (or are phone numbers): a bounded, key-safe alphabet. */
export const UserIdSchema = z
  .string()
  .regex(
    /^\+?[A-Za-z0-9_.@-]{1,128}$/,
    'user id must be 1 to 128 characters of A-Z a-z 0-9 _ . @ - (a leading + allowed)',
  );
