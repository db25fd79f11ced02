import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The embedded stack must not call home. onnxruntime-node 1.30 starts Microsoft's 1DS telemetry uploader on
 * Linux; Repartee turns it off (ORT_DISABLE_TELEMETRY, set before the module loads). The proof: the real Silero
 * VAD runs inside a network namespace with no route, under strace, and no DNS lookup or connect() to a
 * non-loopback address may appear. A control run that opts back in (ORT_DISABLE_TELEMETRY=0) must show the
 * lookup, so the detector is known to see what it looks for, and it sets how long the protected run is watched.
 */

const CLIP = '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';
const PROBE = join(import.meta.dirname, 'vad-probe.ts');
/** onnxruntime skips telemetry on its own when it sees one of these: removed, so the opt-out tested is ours. */
const CI_VARIABLES = [
  'CI',
  'TF_BUILD',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TRAVIS',
  'JENKINS_URL',
  'CODEBUILD_BUILD_ID',
  'BUILDKITE',
  'TEAMCITY_VERSION',
  'APPVEYOR',
  'BITBUCKET_BUILD_NUMBER',
  'SYSTEM_TEAMFOUNDATIONCOLLECTIONURI',
  'ORT_RUNNING_UNIT_TESTS',
  'ORT_DISABLE_TELEMETRY',
];
const CONTROL_DEADLINE_MS = 120_000;
/** The protected run is watched this much longer than the control needed to call out. */
const WATCH_MARGIN_MS = 3_000;

const namespace = `repartee-tel-${process.pid}`;
let namespaceError: string | undefined;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'repartee-telemetry-'));
  try {
    execFileSync('ip', ['netns', 'add', namespace], { stdio: 'pipe' });
  } catch (error) {
    namespaceError = String((error as { stderr?: Buffer }).stderr ?? error).trim();
  }
});
afterAll(async () => {
  if (!namespaceError) execFileSync('ip', ['netns', 'delete', namespace], { stdio: 'pipe' });
  await rm(work, { recursive: true, force: true });
});

interface ProbeRun {
  child: ChildProcess;
  trace: string;
  home: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

const REPO = join(import.meta.dirname, '..', '..');
const VAD_PROBE = [process.execPath, '--import', 'tsx', PROBE, CLIP, String(10 * 60_000)];

function runProbe(name: string, extraEnv: Record<string, string>, command = VAD_PROBE): ProbeRun {
  const trace = join(work, `${name}.strace`);
  const home = join(work, `${name}-home`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !CI_VARIABLES.includes(key)) env[key] = value;
  }
  Object.assign(env, { HOME: home, XDG_CACHE_HOME: join(home, '.cache') }, extraEnv);
  const args = [
    'netns',
    'exec',
    namespace,
    'strace',
    '-f',
    '-qq',
    '-e',
    'trace=%network,openat',
    '-o',
    trace,
  ];
  args.push(...command);
  // Its own process group, so the whole tree (ip, strace, node) can be stopped together.
  const child = spawn('ip', args, { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    out += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, trace, home, stdout: () => out, exited };
}

function stop(run: ProbeRun): Promise<number | null> {
  if (run.child.exitCode === null && run.child.pid) {
    try {
      process.kill(-run.child.pid, 'SIGTERM');
    } catch {}
  }
  return run.exited;
}

/** Lines of an strace log that reach beyond loopback: a connect/sendto/sendmsg to a non-loopback address. */
function outboundCalls(trace: string): string[] {
  return trace.split('\n').filter((line) => {
    if (!/\b(connect|sendto|sendmsg)\(/.test(line)) return false;
    const v4 = /inet_addr\("([\d.]+)"\)/.exec(line);
    if (v4) return !v4[1].startsWith('127.');
    const v6 = /inet_pton\(AF_INET6, "([^"]+)"/.exec(line);
    if (v6) return v6[1] !== '::1';
    return false;
  });
}

/** Name resolution leaves these traces even before a packet: the resolver's configuration being read. */
function resolverReads(trace: string): string[] {
  return trace
    .split('\n')
    .filter((line) => /openat\(.*"\/etc\/(resolv\.conf|hosts|nsswitch\.conf)"/.test(line));
}

async function readTrace(path: string): Promise<string> {
  return existsSync(path) ? readFile(path, 'utf8') : '';
}

describe('no calls home', () => {
  it('the Silero VAD (onnxruntime-node) makes no DNS lookup or outbound connect', async (context) => {
    if (namespaceError) {
      context.skip(`cannot create a network namespace (needs root and iproute2): ${namespaceError}`);
    }
    try {
      execFileSync('strace', ['-V'], { stdio: 'pipe' });
    } catch {
      throw new Error('strace is missing: run scripts/setup.sh (apt-get install strace)');
    }
    const started = performance.now();
    const control = runProbe('control', { ORT_DISABLE_TELEMETRY: '0' });
    const guarded = runProbe('guarded', {});
    try {
      // The control shows what telemetry looks like here, and when it starts.
      let controlCalls: string[] = [];
      while (controlCalls.length === 0) {
        if (performance.now() - started > CONTROL_DEADLINE_MS) {
          throw new Error(
            `the control run (telemetry on) made no outbound call within ${CONTROL_DEADLINE_MS} ms; ` +
              `the detector cannot be trusted. Output: ${control.stdout()}`,
          );
        }
        if (control.child.exitCode !== null) throw new Error(`control run ended early: ${control.stdout()}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        controlCalls = outboundCalls(await readTrace(control.trace));
      }
      const controlNeededMs = performance.now() - started;
      // The guarded run, started at the same moment, is watched for longer than the control needed.
      while (performance.now() - started < controlNeededMs + WATCH_MARGIN_MS) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(guarded.child.exitCode, guarded.stdout()).toBeNull();
      await Promise.all([stop(control), stop(guarded)]);

      const guardedTrace = await readTrace(guarded.trace);
      expect(guardedTrace.length, 'strace wrote nothing for the guarded run').toBeGreaterThan(0);
      expect(outboundCalls(guardedTrace)).toEqual([]);
      expect(resolverReads(guardedTrace)).toEqual([]);
      // Telemetry on keeps a device id and an event cache; off, it never creates them.
      expect(existsSync(join(control.home, '.cache', 'Microsoft'))).toBe(true);
      expect(existsSync(join(guarded.home, '.cache', 'Microsoft'))).toBe(false);
      // Both runs really ran the VAD over speech.
      for (const run of [control, guarded]) {
        const result = JSON.parse(
          run
            .stdout()
            .split('\n')
            .find((line) => line.startsWith('{')) ?? '{}',
        );
        expect(result.starts?.length, run.stdout()).toBeGreaterThan(0);
      }
      console.log(
        `telemetry: control called out after ${Math.round(controlNeededMs)} ms (${controlCalls.length} calls, e.g. ` +
          `${controlCalls[0].trim().slice(0, 120)}); guarded run watched ${Math.round(performance.now() - started)} ms: none`,
      );
    } finally {
      await Promise.all([stop(control), stop(guarded)]);
    }
  }, 180_000);

  it('a whole local conversation (repartee talk: Silero, pocketsphinx, llama.cpp, local TTS) connects nowhere', async (context) => {
    if (namespaceError) {
      context.skip(`cannot create a network namespace (needs root and iproute2): ${namespaceError}`);
    }
    const reply = join(work, 'reply.wav');
    const talk = runProbe('talk', {}, [
      join(REPO, 'bin', 'repartee'),
      'talk',
      CLIP,
      '--out',
      reply,
      '--llm',
      'llama:test/fixtures/models/stories260K.gguf',
    ]);
    const code = await talk.exited;
    expect(code, talk.stdout().slice(-2000)).toBe(0);
    expect(talk.stdout(), talk.stdout().slice(-1500)).toMatch(/wrote \S*reply\.wav \([1-9]\d* turns?\)/);
    console.log(`talk: ${/wrote .*/.exec(talk.stdout())?.[0]}`);
    const trace = await readTrace(talk.trace);
    expect(trace.length).toBeGreaterThan(0);
    // Node reads /etc/resolv.conf when its resolver module loads; a lookup would show as a packet to port 53.
    expect(outboundCalls(trace)).toEqual([]);
    expect(existsSync(join(talk.home, '.cache', 'Microsoft'))).toBe(false);
  }, 300_000);
});
