import { z } from 'zod';

/** `cache` in the configuration: the TTS audio cache and the response cache (src/cache/). */
export const CacheConfigSchema = z
  .object({
    tts: z
      .object({
        /** Cache synthesized sentences (every provider); a streaming-input TTS is left alone unless forced. */
        enabled: z.boolean().default(true),
        /** Wrap a streaming-input TTS (ElevenLabs' socket) too: it then gets a sentence at a time. */
        streamingEngines: z.boolean().default(false),
        memoryMb: z.number().min(1).max(4096).default(32),
        /** Folder of the on-disk store; default `$XDG_CACHE_HOME/repartee/tts` (~/.cache/...). `""`: memory only. */
        dir: z.string().optional(),
        diskMb: z.number().min(1).max(1_000_000).default(256),
        /** Fixed phrases (a greeting...) synthesized at start, with the status lines, apologies and notices. */
        phrases: z.array(z.string().min(1).max(1000)).max(1000).default([]),
        presynthesize: z.boolean().default(true),
      })
      .strict()
      .default({
        enabled: true,
        streamingEngines: false,
        memoryMb: 32,
        diskMb: 256,
        phrases: [],
        presynthesize: true,
      }),
    response: z
      .object({
        /** Answer stand-alone questions with replies already given (off by default). */
        enabled: z.boolean().default(false),
        /** `auto`: learned replies and the allow-list; `allowList`: the curated answers only. */
        mode: z.enum(['auto', 'allowList']).default('auto'),
        ttlMs: z
          .number()
          .int()
          .min(1000)
          .max(365 * 86_400_000)
          .default(86_400_000),
        maxEntries: z.number().int().min(1).max(1_000_000).default(1000),
        /** Part of every key: bump it to invalidate what the previous agent version learned. */
        agentVersion: z.string().max(200).default(''),
        /** `firstTurn`: learn only replies given with no earlier user turn; `anyTurn`: any stand-alone one. */
        storeFrom: z.enum(['firstTurn', 'anyTurn']).default('firstTurn'),
        /** Similarity matching: `openai:<model>`, `openai-compatible:<url>#<model>`, `llama:<file.gguf>`. */
        embeddings: z.string().min(1).optional(),
        threshold: z.number().min(0.5).max(1).default(0.92),
        embeddingTimeoutMs: z.number().int().min(10).max(10_000).default(300),
        allowList: z
          .array(
            z
              .object({ questions: z.array(z.string().min(1)).min(1), answer: z.string().min(1).max(2000) })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({
        enabled: false,
        mode: 'auto',
        ttlMs: 86_400_000,
        maxEntries: 1000,
        agentVersion: '',
        storeFrom: 'firstTurn',
        threshold: 0.92,
        embeddingTimeoutMs: 300,
        allowList: [],
      }),
  })
  .strict();

export type CacheConfig = z.infer<typeof CacheConfigSchema>;
