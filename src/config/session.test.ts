import { describe, expect, it } from 'vitest';
import { PacedAudioOutput } from '../agent/paced-output.ts';
import { MonotonicClock } from '../metrics/clock.ts';
import type { LLM } from '../providers/llm/contract.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import { SimulatedStt } from '../providers/stt/simulated.ts';
import type { TTS } from '../providers/tts/contract.ts';
import { SimulatedTts } from '../providers/tts/simulated.ts';
import { EnergyVad } from '../providers/vad/energy.ts';
import { ConfigSchema } from './config.ts';
import type { ProviderSet } from './providers.ts';
import { createConfiguredSession } from './session.ts';

/** A provider that records being closed. */
function closing<T extends object>(provider: T, log: string[], name: string): T {
  return Object.assign(provider, {
    close: async () => {
      log.push(name);
    },
  });
}

function providerSet(
  log: string[],
  perSessionTts: boolean,
): ProviderSet & { made: { tts: TTS[]; llm: LLM[] } } {
  const clock = new MonotonicClock();
  const made = { tts: [] as TTS[], llm: [] as LLM[] };
  const tts = () => new SimulatedTts({ clock, ttfb: 1, realTimeFactor: 0 });
  return {
    made,
    vad: new EnergyVad(),
    stt: new SimulatedStt({ clock, utterances: [], finalDelay: 1 }),
    tts: closing(tts(), log, 'shared tts'),
    llmSpec: 'scripted',
    createSessionLlm: async () => {
      const llm = closing(
        new ScriptedLlm({ clock, reply: () => 'Hello.' }),
        log,
        `llm ${made.llm.length + 1}`,
      );
      made.llm.push(llm);
      return llm;
    },
    ...(perSessionTts
      ? {
          createSessionTts: () => {
            const own = closing(tts(), log, `tts ${made.tts.length + 1}`);
            made.tts.push(own);
            return own;
          },
        }
      : {}),
    close: async () => {},
  };
}

describe('createConfiguredSession', () => {
  it('gives the session a TTS of its own and closes it, and its LLM, when the session closes', async () => {
    const log: string[] = [];
    const providers = providerSet(log, true);
    const config = ConfigSchema.parse({});
    const first = await createConfiguredSession(config, providers);
    const second = await createConfiguredSession(config, providers);
    expect(providers.made.tts).toHaveLength(2);
    await first.start(new PacedAudioOutput({ clock: new MonotonicClock(), realTime: false }));
    await first.say('Hi.');
    await first.close();
    expect(log.sort()).toEqual(['llm 1', 'tts 1']);
    await first.close(); // idempotent
    expect(log).toHaveLength(2);
    await second.close();
    expect(log.sort()).toEqual(['llm 1', 'llm 2', 'tts 1', 'tts 2']);
  });

  it('uses the shared TTS of a hand-built set without createSessionTts, and leaves it open', async () => {
    const log: string[] = [];
    const session = await createConfiguredSession(ConfigSchema.parse({}), providerSet(log, false));
    await session.close();
    expect(log).toEqual(['llm 1']);
  });
});
