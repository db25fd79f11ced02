/** What a chaos scenario is given and gives back. */

import type { ServeProcess } from '../../serve-process.ts';
import type { FaultLlm } from './fault-llm.ts';

export type ChaosForm = 'short' | 'full';

export interface ScenarioContext {
  server: ServeProcess;
  llm: FaultLlm;
  form: ChaosForm;
  /** Resolves when the canary has played all its turns: a scenario that holds connections holds them until then. */
  canaryDone: Promise<void>;
  /** The server's peak RSS so far: scenarios that add load stop adding it past `rssGuardBytes`. */
  peakRssBytes(): number;
  rssGuardBytes: number;
}

export interface Scenario {
  name: string;
  /** One line: what the misbehaving clients do. */
  what: string;
  /** Runs the misbehaviour; resolves with what it observed (counts, close codes, answers), for the report. */
  run(ctx: ScenarioContext): Promise<Record<string, string | number>>;
  /**
   * The misbehaviour fills the server's capacity (it may be refused past the cap): it starts once the canary is
   * admitted, as a call already in progress when the server fills up would be. Others start first, with a head start.
   */
  startsAfterCanary?: boolean;
  /**
   * What the server must have done about the misbehaviour (dropped the client, ended its sessions), judged from
   * what `run` observed: undefined when it did, else what it failed to do. A row passes only if it did.
   */
  expected?(observed: Record<string, string | number>): string | undefined;
}
