/**
 * The package as users get it: build it (tsc, .d.ts), pack it (npm pack), install the tarball into a fresh
 * project outside the repository, typecheck an agent file written there against the shipped types, and run it
 * against scripted turns with repartee/testing: it answers, calls its tool, and hands over.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
let work: string | undefined;

const AGENT = `import { defineAgent, defineTool, handoff, z } from 'repartee';

export const orders: string[] = [];

const billing = defineAgent({ name: 'billing', instructions: 'You are the billing desk.' });

const placeOrder = defineTool({
  name: 'place_order',
  description: 'Order pizzas',
  parameters: z.object({ pizza: z.string(), count: z.number().int().min(1) }),
  execute: async ({ pizza, count }, { session }) => {
    orders.push(\`\${count} x \${pizza} for \${session.agent?.name}\`);
    return { ok: true, total: count * 9 };
  },
});

const toBilling = defineTool({
  name: 'to_billing',
  description: 'Transfer the caller to billing',
  parameters: z.object({}),
  execute: async () => handoff(billing),
});

export default defineAgent({ name: 'pizzeria', instructions: 'You take pizza orders.', tools: [placeOrder, toBilling] });
`;

const RUN = `import { startAgentTest, type TurnResult } from 'repartee/testing';
import agent, { orders } from './agent.ts';

const test = await startAgentTest(agent, {
  llm: [
    'Hello! What would you like?',
    { tool: 'place_order', args: { pizza: 'margherita', count: 2 } },
    'Two margheritas, 18 euros.',
    { tool: 'to_billing' },
    'Billing desk, how can I help?',
  ],
});
const turns: TurnResult[] = [];
for (const text of ['Hi there', 'Two margheritas please', 'I have a question about my bill']) turns.push(await test.user(text));
await test.close();
console.log(JSON.stringify({ resolved: import.meta.resolve('repartee'), turns, orders }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    outDir: 'out',
    rewriteRelativeImportExtensions: true,
    skipLibCheck: true,
    types: [],
  },
  include: ['*.ts'],
};

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('the npm package', () => {
  afterAll(async () => {
    // The installed project holds ~1.5 GB of dependencies: removing it takes a while on a loaded machine.
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  it('packs, installs into a fresh project, typechecks and runs an agent file there', async () => {
    work = await mkdtemp(join(tmpdir(), 'repartee-pack-'));
    const pkg = join(work, 'pkg');
    // Built into a staging copy, never into the shared tree's dist/.
    const build = await run(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist')],
      {
        cwd: repo,
        maxBuffer: 16 << 20,
      },
    ).catch((error: { stdout?: string }) => {
      // Type errors elsewhere in the tree still emit; the consumer's typecheck below judges the public types.
      console.warn(`build reported type errors:\n${String(error.stdout).slice(0, 2000)}`);
      return undefined;
    });
    void build;
    for (const file of ['index.js', 'index.d.ts', 'testing/index.js', 'testing/index.d.ts'])
      expect(await exists(join(pkg, 'dist', file)), `dist/${file}`).toBe(true);
    for (const entry of ['package.json', 'README.md', 'bin', 'src', 'web'])
      await cp(join(repo, entry), join(pkg, entry), { recursive: true });
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: pkg,
    });
    const [{ filename, files }] = JSON.parse(packed.stdout) as {
      filename: string;
      files: { path: string }[];
    }[];
    const paths = files.map((f) => f.path);
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('bin/repartee');
    expect(paths.some((p) => p.endsWith('.test.ts'))).toBe(false);

    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'my-agent', private: true, type: 'module' }),
    );
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    await writeFile(join(app, 'agent.ts'), AGENT);
    await writeFile(join(app, 'run.ts'), RUN);
    await run(
      'npm',
      ['install', join(work, filename), '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: app, env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 16 << 20 },
    );
    expect(await readdir(join(app, 'node_modules/repartee/dist'))).toContain('index.js');

    // The shipped .d.ts type the agent file (a wrong argument type fails here); compiled as a user would.
    const check = await run(process.execPath, [tsc, '-p', app], { cwd: app }).catch((e) => e);
    expect(check.stdout ?? '', 'typecheck of the agent file against the package types').toBe('');

    const { stdout } = await run(process.execPath, ['out/run.js'], { cwd: app, maxBuffer: 16 << 20 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    expect(result.resolved).toBe(`file://${app}/node_modules/repartee/dist/index.js`);
    const [hello, order, billing] = result.turns;
    expect(hello.said).toBe('Hello! What would you like?');
    expect(order.toolCalls).toEqual([
      expect.objectContaining({
        name: 'place_order',
        args: { pizza: 'margherita', count: 2 },
        isError: false,
      }),
    ]);
    expect(order.said).toBe('Two margheritas, 18 euros.');
    expect(result.orders).toEqual(['2 x margherita for pizzeria']);
    expect(billing.handoffs).toEqual([{ from: 'pizzeria', to: 'billing' }]);
    expect(billing.said).toBe('Billing desk, how can I help?');
    expect(billing.agent).toBe('billing');
  }, 900_000);
});
