import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    // Native engines (llama.cpp, onnxruntime, pocketsphinx) run in forked workers; two cores, two workers.
    pool: 'forks',
    maxWorkers: 2,
  },
});
