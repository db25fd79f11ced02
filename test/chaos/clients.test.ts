import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosEnv, failures, runScenario, startChaos, TEST_BOUNDS } from './harness/run.ts';
import { CLIENT_SCENARIOS } from './harness/scenarios.ts';

/**
 * The chaos suite's short form, part 1: clients that leave or linger badly, against the real server process
 * (`repartee serve`), with a canary conversation talking through each. The full form is `npm run chaos`.
 */
let env: ChaosEnv | undefined;

beforeAll(async () => {
  env = await startChaos({ form: 'short', canaryTurns: 2 });
}, 240_000);

afterAll(async () => {
  await env?.close();
});

describe('chaos: misbehaving clients against the real server, with a canary', () => {
  it.each(CLIENT_SCENARIOS.map((s) => [s.name, s] as const))(
    '%s',
    async (_name, scenario) => {
      if (!env) throw new Error('the chaos server did not start');
      const result = await runScenario(env, scenario, TEST_BOUNDS);
      expect(result.ok, `${failures(result)}\nobserved: ${JSON.stringify(result.observed)}`).toBe(true);
    },
    300_000,
  );
});
