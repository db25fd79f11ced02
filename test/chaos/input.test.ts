import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosEnv, failures, runScenario, startChaos, TEST_BOUNDS } from './harness/run.ts';
import { INPUT_SCENARIOS } from './harness/scenarios.ts';

/**
 * The chaos suite's short form, part 2: bad frames, bad SDP, slow HTTP and failing LLM providers, against the
 * real server process (`repartee serve`), with a canary conversation talking through each.
 */
let env: ChaosEnv | undefined;

beforeAll(async () => {
  env = await startChaos({ form: 'short', canaryTurns: 2 });
}, 240_000);

afterAll(async () => {
  await env?.close();
});

describe('chaos: bad input and failing providers against the real server, with a canary', () => {
  it.each(INPUT_SCENARIOS.map((s) => [s.name, s] as const))(
    '%s',
    async (_name, scenario) => {
      if (!env) throw new Error('the chaos server did not start');
      const result = await runScenario(env, scenario, TEST_BOUNDS);
      expect(result.ok, `${failures(result)}\nobserved: ${JSON.stringify(result.observed)}`).toBe(true);
    },
    300_000,
  );
});
