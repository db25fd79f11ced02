/**
 * bench/results/local.md from bench:local's results: the tables a reader needs to check the defaults (voice, STT
 * search, padding, CMN), dev and held-back side by side. Figures only; what they mean is said once, here.
 */

import type { PaddingRow } from './conversation.ts';
import { languagesReport } from './languages.ts';
import type { RoundTripRow } from './roundtrip.ts';
import type { ModeFigures } from './stt.ts';

const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(1)} %`);
const ms = (v: unknown) => (typeof v === 'number' ? String(Math.round(v * 10) / 10) : '-');

export function localReport(results: Record<string, unknown>): string {
  const out: string[] = [];
  const machine = results.machine as { cpus: number; model: string; node: string };
  out.push('# bench:local results', '');
  out.push(
    `Measured ${String(results.date).slice(0, 10)} on ${machine.cpus} × ${machine.model}, Node ${machine.node}` +
      `${results.quick ? ' (--quick: a third of the sentences, fewer padding points)' : ''}, while other work shared the CPU (timings are loaded-machine figures; WER is not affected by load).`,
    '',
    'Every choice below is made on the **dev** split only; the **held-back** split (sentences and recordings written',
    'or assigned separately and never used to choose) is reported beside it. Regenerate with `npm run bench:local`.',
    '',
  );
  const rt = results.ttsRoundTrip as { rows?: RoundTripRow[]; chosen?: string; search?: string } | undefined;
  if (rt?.rows) {
    out.push(
      `## Voice: TTS → STT round-trip WER (pocketsphinx ${rt.search} search)`,
      '',
      'Own sentences (bench/local/sentences: numbers, names, questions, long sentences, addresses, everyday',
      'replies): 36 dev, 30 held-back. Lower is clearer for the recogniser.',
      '',
      '| engine:voice | dev WER | held-back WER |',
      '| --- | --- | --- |',
    );
    const engines = [...new Set(rt.rows.map((r) => r.engine))];
    for (const engine of engines) {
      const of = (split: string) => rt.rows?.find((r) => r.engine === engine && r.split === split);
      const cell = (r?: RoundTripRow) => (r?.wer ? pct(r.wer.wer) : `unavailable (${r?.error ?? '?'})`);
      out.push(
        `| ${engine}${engine === rt.chosen ? ' **(dev pick)**' : ''} | ${cell(of('dev'))} | ${cell(of('heldback'))} |`,
      );
    }
    out.push('');
  }
  const tts = results.tts as { engines?: Record<string, unknown>[]; sentences?: number } | undefined;
  if (tts?.engines) {
    out.push(
      `## Time to first audible sample per engine (median of ${tts.sentences} dev sentences)`,
      '',
      'TTFB: first frame after the text is flushed. Leading silence: audio below -40 dBFS before the first audible',
      'sample. TTFA untrimmed = TTFB + that silence (what the ear got before the trimmer); TTFA trimmed: through',
      '`trimLeadingSilence` (what `ttsTtfaMs` counts now).',
      '',
      '| engine | TTFB ms | leading silence ms | TTFA untrimmed ms | TTFA trimmed ms | trimmed ms | RTF |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const e of tts.engines)
      out.push(
        e.error
          ? `| ${e.engine} | unavailable: ${e.error} | | | | | |`
          : `| ${e.engine} | ${ms(e.ttfbMedianMs)} | ${ms(e.leadingSilenceMedianMs)} | ${ms(e.ttfaUntrimmedMedianMs)} | ${ms(e.ttfaMedianMs)} | ${ms(e.trimmedMedianMs)} | ${e.realTimeFactor} |`,
      );
    out.push('');
  }
  const stt = results.stt as { figures?: ModeFigures[]; chosen?: string } | undefined;
  if (stt?.figures) {
    out.push(
      '## STT search mode on real speech (streaming pocketsphinx)',
      '',
      'dev: LibriVox 0870, 0880, 0930; alsa-utils Front_Left, Front_Right, Rear_Left, Side_Right; cards 001, 003;',
      'goforward. held-back: LibriVox 0890, 0920; alsa Front_Center, Rear_Center, Rear_Right, Side_Left; cards 002,',
      '004, 005.',
      '',
      '| split | search | words | WER | final p50 ms | decode RTF |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const f of stt.figures)
      out.push(
        `| ${f.split} | ${f.search}${f.split === 'dev' && f.search === stt.chosen ? ' **(dev pick)**' : ''} | ${f.words} | ${pct(f.wer)} | ${ms(f.finalLatencyMs.p50)} | ${f.decodeRealTimeFactor} |`,
      );
    out.push('');
  }
  const conv = results.conversation as
    | { padding?: PaddingRow[]; paddingPick?: PaddingRow; cmn?: Record<string, number | string>[] }
    | undefined;
  if (conv?.padding) {
    out.push(
      '## Padding around each turn (fast search, CMN reset per turn)',
      '',
      'The turn is the speech span with `lead` ms before and `trail` ms after, cut from the clip in quiet room noise.',
      '',
      '| split | lead ms | trail ms | WER |',
      '| --- | --- | --- | --- |',
    );
    const pick = conv.paddingPick;
    for (const r of conv.padding)
      out.push(
        `| ${r.split} | ${r.leadMs} | ${r.trailMs} | ${pct(r.wer)}${r.split === 'dev' && pick && r.leadMs === pick.leadMs && r.trailMs === pick.trailMs ? ' **(dev pick)**' : ''} |`,
      );
    out.push('');
  }
  if (conv?.cmn) {
    out.push(
      '## Cepstral-mean estimate at the start of a turn (fast search, dev-picked padding)',
      '',
      'model init: reset to the model’s `-cmninit`; after another speaker: the decoder last heard codec2’s radio',
      'speakers (codec2-examples); after this speaker: it last heard another turn of the same speaker.',
      '',
      '| split | model init | after another speaker | after this speaker |',
      '| --- | --- | --- | --- |',
    );
    for (const r of conv.cmn)
      out.push(
        `| ${r.split} | ${pct(r.modelInit as number)} | ${pct(r.afterAnotherSpeaker as number)} | ${pct(r.afterThisSpeaker as number)} |`,
      );
    out.push('');
  }
  out.push(...languagesReport(results.languages as Record<string, unknown> | undefined));
  return `${out.join('\n')}\n`;
}
