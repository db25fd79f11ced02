import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './serve-process.ts';

const run = promisify(execFile);
let dir: string;

/** `repartee serve FILE` with a file that is not a working agent: exit 1, one line naming the file or the field. */
async function serveFails(file: string): Promise<string> {
  const result = await run(process.execPath, ['bin/repartee', 'serve', file, '--port', '0'], {
    cwd: REPO,
    env: { ...process.env, REPARTEE_LOG_LEVEL: 'warn' },
    timeout: 120_000,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
  expect(result.code).toBe(1);
  return result.stderr.trim();
}

describe('repartee serve AGENT_FILE, refused at start', () => {
  beforeAll(async () => {
    // Inside the repository (its tmp/ is ignored by git), so 'repartee' resolves as in the examples.
    await mkdir(join(REPO, 'tmp'), { recursive: true });
    dir = await mkdtemp(join(REPO, 'tmp', 'agent-files-'));
    await writeFile(
      join(dir, 'no-instructions.ts'),
      "import { defineAgent } from 'repartee';\nexport default defineAgent({ name: 'broken' } as never);\n",
    );
    await writeFile(
      join(dir, 'no-schema.ts'),
      "import { defineAgent } from 'repartee';\n" +
        "export default defineAgent({ name: 'bookings', instructions: 'Book.', tools: [{ name: 'book', " +
        "description: 'Book a table', execute: async () => 'ok' } as never] });\n",
    );
    await writeFile(join(dir, 'no-agent.ts'), 'export const answer = 42;\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names the agent and the field of a wrong definition', async () => {
    const [missing, schema] = await Promise.all([
      serveFails(relative(REPO, join(dir, 'no-instructions.ts'))),
      serveFails(relative(REPO, join(dir, 'no-schema.ts'))),
    ]);
    expect(missing).toBe(
      'repartee: agent "broken": instructions is required: a non-empty string (the system prompt while this agent is active)',
    );
    expect(schema).toMatch(/^repartee: agent "bookings": tools\[0\] \("book"\) has no parameters schema/);
  }, 180_000);

  it('names a file that exports no agent, and a file that does not exist', async () => {
    const file = relative(REPO, join(dir, 'no-agent.ts'));
    const [none, absent] = await Promise.all([serveFails(file), serveFails('tmp/no-such-agent.ts')]);
    expect(none).toBe(
      `repartee: ${file} does not export an agent: export default defineAgent({ ... }) (it exports answer)`,
    );
    expect(absent).toBe('repartee: agent file tmp/no-such-agent.ts not found');
  }, 180_000);
});
