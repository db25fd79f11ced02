import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HttpEndpoint, serveStreamableHttp } from '../../src/tools/docs-server/http.ts';
import { DocumentRoot } from '../../src/tools/docs-server/root.ts';
import { createDocsServer } from '../../src/tools/docs-server/server.ts';
import { textOf } from './docs-client.ts';

// The lost-update races of issue 13: several writers of one document, none of whose changes may vanish.

let base: string;
let endpoint: HttpEndpoint;
const clients: Client[] = [];

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-docs-lost-'));
  const root = await DocumentRoot.open(base);
  endpoint = await serveStreamableHttp(() => createDocsServer(root), { port: 0 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await endpoint.close();
  await rm(base, { recursive: true, force: true });
});

async function httpClient(): Promise<Client> {
  const client = new Client({ name: `writer-${clients.length}`, version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint.url)));
  clients.push(client);
  return client;
}

const versionIn = (readAnswer: string) => {
  const match = /version ([0-9a-f]{16})/.exec(readAnswer);
  if (!match) throw new Error(`no version in: ${readAnswer.slice(-200)}`);
  return match[1];
};

/** What an agent does: read, change one word on the text it read, and on a conflict read again and redo. */
async function editWord(
  client: Client,
  file: string,
  oldText: string,
  newText: string,
): Promise<{ conflicts: number }> {
  let conflicts = 0;
  for (let attempt = 0; attempt < 200; attempt++) {
    const read = (await client.callTool({ name: 'read', arguments: { path: file } })) as CallToolResult;
    expect(read.isError, textOf(read)).toBeFalsy();
    const baseVersion = versionIn(textOf(read));
    const edited = (await client.callTool({
      name: 'edit',
      arguments: { path: file, baseVersion, edits: [{ oldText, newText }] },
    })) as CallToolResult;
    if (!edited.isError) {
      expect(textOf(edited)).toMatch(/^Updated /);
      return { conflicts };
    }
    // Only a conflict may be retried, and it must tell the model to read again.
    expect(textOf(edited)).toMatch(
      /changed since version [0-9a-f]{16} \(current version [0-9a-f]{16}\)|changed by another program|replaced by someone else|being saved by another program/,
    );
    expect(textOf(edited)).toMatch(/read it again|try again/i);
    conflicts++;
  }
  throw new Error(`${oldText}: still conflicting after 200 attempts`);
}

describe('docs edits cannot lose an update', () => {
  it('two clients reading the same version: one edit lands, the other gets a conflict naming the current version', async () => {
    await writeFile(path.join(base, 'plan.md'), 'apples and pears\n');
    const [a, b] = [await httpClient(), await httpClient()];
    const read = (await a.callTool({ name: 'read', arguments: { path: 'plan.md' } })) as CallToolResult;
    const baseVersion = versionIn(textOf(read));
    const first = (await a.callTool({
      name: 'edit',
      arguments: { path: 'plan.md', baseVersion, edits: [{ oldText: 'apples', newText: 'plums' }] },
    })) as CallToolResult;
    const second = (await b.callTool({
      name: 'edit',
      arguments: { path: 'plan.md', baseVersion, content: 'only cherries\n' },
    })) as CallToolResult;
    expect(first.isError).toBeFalsy();
    const current = /now version ([0-9a-f]{16})/.exec(textOf(first))?.[1];
    expect(second.isError).toBe(true);
    expect(textOf(second)).toContain(
      `plan.md changed since version ${baseVersion} (current version ${current})`,
    );
    expect(textOf(second)).toContain('Read it again');
    expect(await readFile(path.join(base, 'plan.md'), 'utf8')).toBe('plums and pears\n');
    // The backup is the version that was replaced.
    expect(await readFile(path.join(base, 'plan.md.bak'), 'utf8')).toBe('apples and pears\n');
  });

  it('two MCP clients making 100 single-word edits each to one file, retrying on conflict: 0 of 200 lost', async () => {
    const words = (prefix: string) =>
      Array.from({ length: 100 }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
    const [wordsA, wordsB] = [words('a'), words('b')];
    const original = `${wordsA.map((w, i) => `${w} ${wordsB[i]}`).join('\n')}\n`;
    await writeFile(path.join(base, 'shared.md'), original);
    const [a, b] = [await httpClient(), await httpClient()];
    const run = async (client: Client, list: string[]) => {
      let conflicts = 0;
      for (const word of list)
        conflicts += (await editWord(client, 'shared.md', word, word.toUpperCase())).conflicts;
      return conflicts;
    };
    const [conflictsA, conflictsB] = await Promise.all([run(a, wordsA), run(b, wordsB)]);
    const final = await readFile(path.join(base, 'shared.md'), 'utf8');
    const lost = [...wordsA, ...wordsB].filter((w) => !final.includes(w.toUpperCase()));
    console.log(
      `two-client race: 200 edits, ${conflictsA + conflictsB} conflicts retried, ${lost.length} lost`,
    );
    expect(lost).toEqual([]);
    expect(final).toBe(original.toUpperCase());
    // The backup is the version the last edit replaced: exactly one word still in lower case.
    const backup = await readFile(path.join(base, 'shared.md.bak'), 'utf8');
    expect([...wordsA, ...wordsB].filter((w) => backup.includes(w))).toHaveLength(1);
  }, 120_000);

  it('two repartee-docs processes on one folder, 50 edits each to one file: 0 of 100 lost', async () => {
    // Between processes the file lock (flock) serialises the check-and-replace; the version check decides.
    const words = (prefix: string) =>
      Array.from({ length: 50 }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
    const [wordsA, wordsB] = [words('p'), words('q')];
    const original = `${wordsA.map((w, i) => `${w} ${wordsB[i]}`).join('\n')}\n`;
    await writeFile(path.join(base, 'two.md'), original);
    const bin = path.resolve(import.meta.dirname, '..', '..', 'bin', 'repartee-docs');
    const stdioClient = async () => {
      const client = new Client({ name: 'process', version: '1' });
      await client.connect(new StdioClientTransport({ command: bin, args: [base], stderr: 'ignore' }));
      clients.push(client);
      return client;
    };
    const [a, b] = await Promise.all([stdioClient(), stdioClient()]);
    const run = async (client: Client, list: string[]) => {
      let conflicts = 0;
      for (const word of list)
        conflicts += (await editWord(client, 'two.md', word, word.toUpperCase())).conflicts;
      return conflicts;
    };
    const [conflictsA, conflictsB] = await Promise.all([run(a, wordsA), run(b, wordsB)]);
    const final = await readFile(path.join(base, 'two.md'), 'utf8');
    const lost = [...wordsA, ...wordsB].filter((w) => !final.includes(w.toUpperCase()));
    console.log(
      `two-process race: 100 edits, ${conflictsA + conflictsB} conflicts retried, ${lost.length} lost`,
    );
    expect(lost).toEqual([]);
    expect(final).toBe(original.toUpperCase());
  }, 120_000);

  it('an outside program appending 74 lines during 50 edits: 0 lines lost', async () => {
    const tokens = Array.from({ length: 50 }, (_, i) => `item${String(i).padStart(2, '0')}`);
    await writeFile(path.join(base, 'log.md'), `${tokens.join('\n')}\n`);
    const client = await httpClient();
    // The appender opens, appends and closes per line (as `echo >> file` does). It is nudged after each edit and
    // then appends one or two lines after a random pause, so its lines land while the following edits run.
    const appender = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         let line = 0;
         let nudges = 0;
         const append = () => fs.appendFileSync(process.argv[1], 'outside line ' + line++ + '\\n');
         process.stdin.on('data', (chunk) => {
           for (let k = 0; k < chunk.length; k++) {
             const count = nudges++ < 24 ? 2 : 1;
             for (let j = 0; j < count; j++) setTimeout(append, Math.random() * 30);
           }
         });
         process.stdin.on('end', () => setTimeout(() => process.exit(line === 74 ? 0 : 3), 100));`,
        path.join(base, 'log.md'),
      ],
      { stdio: ['pipe', 'inherit', 'inherit'] },
    );
    const appenderDone = new Promise<number | null>((resolve) => appender.once('exit', resolve));
    let conflicts = 0;
    for (const token of tokens) {
      conflicts += (await editWord(client, 'log.md', token, token.toUpperCase())).conflicts;
      appender.stdin.write('.');
    }
    appender.stdin.end();
    expect(await appenderDone).toBe(0);
    const final = await readFile(path.join(base, 'log.md'), 'utf8');
    const lines = final.split('\n');
    const lostLines = Array.from({ length: 74 }, (_, i) => `outside line ${i}`).filter(
      (l) => !lines.includes(l),
    );
    const lostEdits = tokens.filter((t) => !lines.includes(t.toUpperCase()));
    console.log(
      `appender race: 50 edits, ${conflicts} conflicts retried, ` +
        `${lostLines.length} of 74 lines lost, ${lostEdits.length} edits lost`,
    );
    expect(lostLines).toEqual([]);
    expect(lostEdits).toEqual([]);
    expect(lines.filter((l) => l.startsWith('outside line'))).toHaveLength(74);
  }, 120_000);

  it('a program still holding the replaced file open appends right after the rename: its bytes are kept', async () => {
    // Such a writer (a logger with an open O_APPEND descriptor) writes into the file that was replaced. The edit
    // watches the replaced file for outsideWriteSettleMs and appends what arrives to the new file.
    const patient = await DocumentRoot.open(base, { outsideWriteSettleMs: 1000 });
    const file = path.join(base, 'held.md');
    await writeFile(file, 'first line\n');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const [dir, name] = [process.argv[1], process.argv[2]];
         const fd = fs.openSync(dir + '/' + name, 'a');
         const watcher = fs.watch(dir, (event, changed) => {
           if (changed !== name) return;
           fs.writeSync(fd, 'late line\\n');
           watcher.close();
           process.exit(0);
         });
         process.stdout.write('ready');`,
        base,
        'held.md',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const exited = new Promise<number | null>((resolve) => holder.once('exit', resolve));
    const { version } = await patient.readText('held.md');
    const written = await patient.writeText('held.md', 'FIRST LINE\n', { baseVersion: version });
    expect(await exited).toBe(0);
    expect(written.mergedBytes).toBe('late line\n'.length);
    expect(await readFile(file, 'utf8')).toBe('FIRST LINE\nlate line\n');
    expect(written.version).toBe((await patient.readText('held.md')).version);
    expect(await readFile(`${file}.bak`, 'utf8')).toBe('first line\nlate line\n');
  }, 60_000);
});
