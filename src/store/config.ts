import { z } from 'zod';

/**
 * `store` in the configuration: where conversations are kept. SQLite (a file, one process) by default;
 * `url: "postgres://…"` for a shared archive several servers write to (src/store/postgres.ts).
 */
export const StoreConfigSchema = z
  .object({
    /** Off: nothing is kept (the dashboard shows live sessions and alerts only). */
    enabled: z.boolean().default(true),
    /** The SQLite file, created with its folder when missing; `:memory:` keeps nothing across restarts. */
    path: z.string().min(1).default('./repartee-data/conversations.db'),
    /** A PostgreSQL database instead of the file: `postgres://user:password@host:5432/db` (tables made on first use). */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'store.url must be a postgres:// or postgresql:// URL')
      .optional(),
    /** Sessions older than this many days are deleted with their turns, events and recordings. 0: forever. */
    retentionDays: z.number().min(0).max(36_500).default(30),
    /** Past this size (MB) the oldest sessions are deleted until the file fits. 0: no limit. */
    maxMegabytes: z.number().min(0).max(10_000_000).default(2_000),
    /**
     * Record both sides of every conversation (Opus, about 3 kB/s per side) for the dashboard's replay. Off by
     * default: recordings hold people's voices; tell callers they are recorded, and keep `retentionDays` short.
     */
    recordAudio: z.boolean().default(false),
  })
  .strict();

export type StoreConfig = z.infer<typeof StoreConfigSchema>;
