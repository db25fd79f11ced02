import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoreConfig } from './config.ts';
import { PostgresStore } from './postgres.ts';
import { SqliteStore } from './sqlite.ts';
import type { ConversationStore, StoreLog } from './types.ts';

const DAY_MS = 86_400_000;

/** The configured store, or undefined when it is switched off. A folder that cannot be made is logged. */
export function openStore(config: StoreConfig, log?: StoreLog): ConversationStore | undefined {
  if (!config.enabled) return undefined;
  if (config.url) {
    // Only the age: the database's size is its administrator's (quotas, VACUUM).
    return new PostgresStore({
      url: config.url,
      retention: { maxAgeMs: config.retentionDays * DAY_MS },
      log,
    });
  }
  if (config.path !== ':memory:') {
    try {
      mkdirSync(dirname(config.path), { recursive: true });
    } catch (error) {
      // The worker then fails to open the file and falls back to memory, saying so.
      log?.error({ path: config.path, err: (error as Error).message }, 'store: cannot create the folder');
    }
  }
  return new SqliteStore({
    path: config.path,
    retention: { maxAgeMs: config.retentionDays * DAY_MS, maxBytes: config.maxMegabytes * 1024 * 1024 },
    log,
  });
}
