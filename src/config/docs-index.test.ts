import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configuredDocsIndex } from './docs-index.ts';

describe('configuredDocsIndex', () => {
  it('one shared index per docs folder; none when off or unreadable, said once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-docs-index-'));
    try {
      await writeFile(join(dir, 'faq.md'), '# FAQ\n\nOpening hours are nine to five on weekdays.\n');
      const warnings: string[] = [];
      const warn = (m: string) => warnings.push(m);
      const a = await configuredDocsIndex({ docsRoot: dir }, warn);
      const b = await configuredDocsIndex({ docsRoot: `${dir}/` }, warn);
      expect(a).toBeDefined();
      expect(b).toBe(a);
      expect(a?.search('when are you open')[0]?.source).toBe('faq.md');
      expect(
        await configuredDocsIndex({ docsRoot: dir, context: { retrievalTokens: 0 } }, warn),
      ).toBeUndefined();
      expect(await configuredDocsIndex({}, warn)).toBeUndefined();
      const missing = join(dir, 'missing');
      expect(await configuredDocsIndex({ docsRoot: missing }, warn)).toBeUndefined();
      expect(await configuredDocsIndex({ docsRoot: missing }, warn)).toBeUndefined();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('unavailable');
      a?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
