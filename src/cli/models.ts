import { listModels, pullModel } from '../providers/llm/models.ts';

export async function runModels(args: string[], options: { modelsDir?: string }): Promise<number> {
  const [sub, name] = args;
  if (sub === 'list' || sub === undefined) {
    for (const m of await listModels({ modelsDir: options.modelsDir })) {
      const tag = m.default ? '  (recommended for a 2-core CPU)' : m.sha256 ? '' : '  (no pinned checksum)';
      process.stdout.write(
        `${m.installed ? '*' : ' '} ${m.name.padEnd(24)} ${String(m.approxSizeMiB ?? '?').padStart(5)} MiB  ${m.description}${tag}\n` +
          `    ${m.path}\n`,
      );
    }
    process.stdout.write(
      '* = downloaded. repartee models pull [NAME] fetches one (default: the recommended).\n',
    );
    return 0;
  }
  if (sub === 'pull') {
    const result = await pullModel(name, { modelsDir: options.modelsDir, progressStream: process.stderr });
    if (!result.verified) process.stderr.write(`note: ${result.name} has no pinned checksum; not verified\n`);
    process.stdout.write(`${result.path}\nuse it with: --llm ${result.spec}\n`);
    return 0;
  }
  process.stderr.write(`unknown models command "${sub}" (expected list or pull)\n`);
  return 1;
}
