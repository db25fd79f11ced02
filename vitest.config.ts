import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The examples import the package by name, as users do (tsconfig.json has the same paths).
  resolve: {
    alias: [
      {
        find: /^repartee\/testing$/,
        replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      },
      { find: /^repartee$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    // Native engines (llama.cpp, onnxruntime, pocketsphinx) run in forked workers; two cores, two workers.
    pool: 'forks',
    maxWorkers: 2,
  },
});
