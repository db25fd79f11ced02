import { PIPELINE_SAMPLE_RATE } from '../../../src/audio/frame.ts';
import { G711_SAMPLE_RATE, g711Decode, g711Encode } from '../../../src/audio/g711.ts';
import { Resampler } from '../../../src/audio/resampler.ts';
import type { STT } from '../../../src/providers/stt/contract.ts';
import type { TurnDetector } from '../../../src/providers/turn/contract.ts';
import { createTurnDetector } from '../../../src/providers/turn/spec.ts';
import type { VAD } from '../../../src/providers/vad/contract.ts';
import type { Split } from '../dataset.ts';
import { type DetectorRow, splitTable } from '../report.ts';
import { tradeOff } from '../sweep.ts';
import { observe, scoreAudio } from './audio-level.ts';
import type { AudioTurn } from './clips.ts';

/**
 * The phone-channel row of level 2: every clip goes through what a phone call does to it before the session
 * hears it — down to 8 kHz, G.711 μ-law and back (the Twilio/Telnyx wire), up to the pipeline's 16 kHz again —
 * and is then observed and scored exactly as the wideband clips are. The same clips, the same detectors, the
 * same sweep: the difference between the two rows is the channel.
 */
export async function throughPhone(turn: AudioTurn): Promise<AudioTurn> {
  const narrow = await Resampler.resampleClip(turn.samples, PIPELINE_SAMPLE_RATE, G711_SAMPLE_RATE);
  const wire = g711Decode('mulaw', g711Encode('mulaw', narrow));
  const back = await Resampler.resampleClip(wire, G711_SAMPLE_RATE, PIPELINE_SAMPLE_RATE);
  return { ...turn, samples: back };
}

export async function phoneChannelTable(
  split: Split,
  turns: readonly AudioTurn[],
  providers: { vad: VAD; stt: STT },
  detectors: readonly { spec: string; detector: TurnDetector | string }[],
  concurrency: number,
  log: (line: string) => void,
): Promise<{ table: string; fronts: Map<string, ReturnType<typeof tradeOff>> }> {
  const started = Date.now();
  const phoneTurns = await Promise.all(turns.map(throughPhone));
  const runs = await observe(
    phoneTurns,
    { ...providers, detector: createTurnDetector('fixed') },
    concurrency,
  );
  log(
    `audio ${split} phone: ${phoneTurns.length} clips observed in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  const rows: DetectorRow[] = [];
  const fronts = new Map<string, ReturnType<typeof tradeOff>>();
  let noEnd = 0;
  let holds = 0;
  for (const { spec, detector } of detectors) {
    if (typeof detector === 'string') {
      rows.push({ detector: spec, error: detector, tradeOff: undefined as never, cost: undefined as never });
      continue;
    }
    const scored = await scoreAudio(detector, phoneTurns, runs);
    noEnd = scored.noEnd;
    holds = scored.scored.reduce((n, t) => n + t.holds.length, 0);
    const result = tradeOff(scored.scored);
    fronts.set(spec, result);
    rows.push({ detector: spec, tradeOff: result, cost: scored.cost });
  }
  const summary = `The ${split} clips (${phoneTurns.length}) through 8 kHz G.711 μ-law and back before the session; ${holds} pauses the VAD heard inside turns; ${noEnd} turns with no verdict at the end.`;
  return { table: splitTable({ title: `${split}, phone channel (μ-law 8 kHz)`, summary, rows }), fronts };
}
