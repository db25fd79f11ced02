/** Every chaos scenario, in the order the suite runs them. */
import type { Scenario } from './scenario.ts';
import {
  frozenClients,
  gracefulClose,
  idleConnections,
  killedClients,
  rapidConnects,
  slowConsumer,
} from './scenarios-clients.ts';
import { garbageFrames, sdpOffers, slowloris } from './scenarios-input.ts';
import { llmFaults } from './scenarios-providers.ts';

export const CLIENT_SCENARIOS: Scenario[] = [
  gracefulClose,
  killedClients,
  frozenClients,
  slowConsumer,
  rapidConnects,
  idleConnections,
];
export const INPUT_SCENARIOS: Scenario[] = [garbageFrames, sdpOffers, slowloris, llmFaults];
export const ALL_SCENARIOS: Scenario[] = [...CLIENT_SCENARIOS, ...INPUT_SCENARIOS];

/** A short key for `--only`: the scenario's name in kebab case. */
export const scenarioKey = (scenario: Scenario) =>
  scenario.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
