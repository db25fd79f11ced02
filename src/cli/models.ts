import { listModels, pullModel } from '../providers/llm/models.ts';

export async function runModels(args: string[], options: { modelsDir?: string }): Promise<number> {
  const [sub, name] = args;
  if (sub === 'list' || sub === undefined) {
    for (const m of await listModels({ modelsDir: options.modelsDir })) {
      process.stdout.write(`${m.installed ? '*' : ' '} ${m.name}  ${m.path}\n`);
    }
    return 0;
  }
  if (sub === 'pull') {
    const result = await pullModel(name, { modelsDir: options.modelsDir, progressStream: process.stderr });
    process.stdout.write(`${result.path}\nuse it with: --llm ${result.spec}\n`);
    return 0;
  }
  process.stderr.write(`unknown models command "${sub}" (expected list or pull)\n`);
  return 1;
}
