/**
 * npm run bench:turns — end-of-turn detection in eot-bench's framing: how often the agent would cut in during a
 * pause inside a user's turn (a false cut-off) against how long it leaves the user waiting after the real end.
 * Level 1 scores the labelled transcripts at each pause; level 2 plays real and synthesized speech through the
 * real AgentSession (Silero VAD, pocketsphinx) on the virtual clock. Both splits are reported separately: dev
 * (what the detectors were fitted on) and heldout (never fitted or tuned on). See bench/README.md.
 *
 *   npm run bench:turns
 *   npm run bench:turns -- --only transcripts          # level 1 only (seconds)
 *   npm run bench:turns -- --detectors fixed,wordlist  # a subset
 *   npm run bench:turns -- --synth-per-category 2      # a smaller audio set
 *   npm run bench:turns -- --phone dev,heldout         # phone-channel rows (μ-law 8 kHz) for these splits
 *   npm run bench:turns -- --splits heldout            # audio level on one split only
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadSharedModel, unloadSharedModels } from '../src/providers/llm/llama-models.ts';
import { PocketsphinxSTT } from '../src/providers/stt/pocketsphinx.ts';
import type { TurnDetector } from '../src/providers/turn/contract.ts';
import { createTurnDetector, TURN_DETECTOR_SPECS } from '../src/providers/turn/spec.ts';
import { createSileroVad } from '../src/providers/vad/silero.ts';
import { observe, scoreAudio } from './turns/audio/audio-level.ts';
import { type AudioTurn, librivoxTurns, pickTurns, synthTurns } from './turns/audio/clips.ts';
import { phoneChannelTable } from './turns/audio/phone-channel.ts';
import { validate } from './turns/audio/validate.ts';
import { loadSplit, SPLITS, type Split } from './turns/dataset.ts';
import {
  type DetectorRow,
  headlineTable,
  machineText,
  policyText,
  type SplitTable,
  splitTable,
  type ValidationRow,
  validationTable,
} from './turns/report.ts';
import { pointWithin, tradeOff } from './turns/sweep.ts';
import { scoreTranscripts } from './turns/transcript-level.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'transcripts,audio,validate' },
    detectors: { type: 'string' },
    'synth-per-category': { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '2' },
    // Splits whose clips are also run through the phone channel (8 kHz μ-law and back); `none` for none.
    phone: { type: 'string', default: 'heldout' },
    // Splits of the audio level (the transcript level always runs both).
    splits: { type: 'string', default: SPLITS.join(',') },
    'llm-model': { type: 'string', default: 'test/fixtures/models/stories260K.gguf' },
    // Detectors played through the session again at their chosen policy (default: the default detector only;
    // the replayed sweep matched the session to within 15 ms and the same cut-offs on every row checked).
    validate: { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('./results/turns.md', import.meta.url)) },
  },
});
const only = new Set((values.only ?? '').split(','));
const phoneSplits = new Set((values.phone ?? '').split(','));
const audioSplits = SPLITS.filter((split) => (values.splits ?? '').split(',').includes(split));
// The llm signal needs a loaded GGUF; `combined+llm` is `combined` with it (off in the default configuration).
const llamaModel = values['llm-model'] ? await loadSharedModel(resolve(values['llm-model'])) : undefined;
const specs = values.detectors
  ? values.detectors.split(',')
  : [
      'fixed',
      'wordlist',
      ...TURN_DETECTOR_SPECS.filter((s) => s !== 'fixed' && s !== 'wordlist'),
      'combined+llm',
    ];
const perCategory = Number(values['synth-per-category']);
if (!(perCategory >= 0))
  throw new Error(`--synth-per-category must be a number >= 0, got ${values['synth-per-category']}`);
const concurrency = Math.max(1, Number(values.concurrency) || 1);
const log = (line: string) => process.stderr.write(`${line}\n`);

function detectorFor(spec: string): TurnDetector | string {
  const warn = (message: string) => log(`[${spec}] ${message}`);
  try {
    if (spec === 'combined+llm') {
      if (!llamaModel) return 'needs --llm-model';
      return createTurnDetector('combined', { warn, llamaModel, llm: { threads: 1 } });
    }
    return createTurnDetector(spec, { warn, ...(spec === 'llm' ? { llamaModel, llm: { threads: 1 } } : {}) });
  } catch (error) {
    return `could not start: ${(error as Error).message}`;
  }
}
const detectors = specs.map((spec) => ({ spec, detector: detectorFor(spec) }));

const sections: string[] = [];
const started = Date.now();

if (only.has('transcripts')) {
  const tables: string[] = [];
  for (const split of SPLITS) {
    const turns = loadSplit(split);
    const rows: DetectorRow[] = [];
    for (const { spec, detector } of detectors) {
      if (typeof detector === 'string') {
        rows.push({
          detector: spec,
          error: detector,
          tradeOff: undefined as never,
          cost: undefined as never,
        });
        continue;
      }
      const { scored, cost } = await scoreTranscripts(detector, turns);
      rows.push({ detector: spec, tradeOff: tradeOff(scored), cost });
      log(`transcripts ${split} ${spec} done`);
    }
    const holds = turns.reduce((n, t) => n + t.pauses.length, 0);
    tables.push(
      splitTable({
        title: split,
        summary: `${turns.length} turns, ${holds} holds.`,
        rows,
      } satisfies SplitTable),
    );
  }
  sections.push(
    [
      '### Level 1: transcripts (prefixes at each labelled pause)',
      '',
      ...tables.flatMap((t) => [t, '']),
    ].join('\n'),
  );
}

const audioTurns = new Map<Split, AudioTurn[]>();
const observations = new Map<Split, Awaited<ReturnType<typeof observe>>>();
const audioFronts = new Map<string, ReturnType<typeof tradeOff>>();
const vad = createSileroVad();
// Interims only matter to the session when a final never comes; fewer of them halve the decoder's work here.
const stt = new PocketsphinxSTT({ interimIntervalMs: 480 });

if (only.has('audio') || only.has('validate')) {
  for (const split of audioSplits) {
    const turns = [
      ...(await librivoxTurns(split)),
      ...(await synthTurns(pickTurns(loadSplit(split), perCategory))),
    ];
    audioTurns.set(split, turns);
    const started = Date.now();
    const observer = createTurnDetector('fixed');
    observations.set(
      split,
      await observe(turns, { vad, stt, detector: observer }, concurrency, (done) => {
        if (done % 20 === 0) log(`audio ${split}: observed ${done} of ${turns.length}`);
      }),
    );
    log(`audio ${split}: ${turns.length} clips observed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const tables: string[] = [];
  for (const split of audioSplits) {
    const turns = audioTurns.get(split) as AudioTurn[];
    const runs = observations.get(split) as Awaited<ReturnType<typeof observe>>;
    const rows: DetectorRow[] = [];
    let noEnd = 0;
    let holds = 0;
    for (const { spec, detector } of detectors) {
      if (typeof detector === 'string') {
        rows.push({
          detector: spec,
          error: detector,
          tradeOff: undefined as never,
          cost: undefined as never,
        });
        continue;
      }
      const scored = await scoreAudio(detector, turns, runs);
      noEnd = scored.noEnd;
      holds = scored.scored.reduce((n, t) => n + t.holds.length, 0);
      const result = tradeOff(scored.scored);
      audioFronts.set(`${split}:${spec}`, result);
      rows.push({ detector: spec, tradeOff: result, cost: scored.cost });
    }
    const kinds = ['librivox-natural', 'librivox-inserted', 'synth'].map(
      (k) => `${turns.filter((t) => t.kind === k).length} ${k}`,
    );
    const summary = `${turns.length} clips (${kinds.join(', ')}); ${holds} pauses the VAD heard inside turns; ${noEnd} turns with no verdict at the end (no final transcript: counted as a 2 s wait).`;
    tables.push(splitTable({ title: split, summary, rows }));
    if (only.has('audio') && phoneSplits.has(split)) {
      const phone = await phoneChannelTable(split, turns, { vad, stt }, detectors, concurrency, log);
      tables.push(phone.table);
      for (const [spec, front] of phone.fronts) audioFronts.set(`${split}-phone:${spec}`, front);
    }
  }
  if (only.has('audio')) {
    sections.push(
      [
        '### Level 2: audio through the session (policy swept on the observed pauses)',
        '',
        ...tables.flatMap((t) => [t, '']),
      ].join('\n'),
    );
  }
}

const validationRows: ValidationRow[] = [];
if (only.has('validate')) {
  const wanted = values.validate
    ? values.validate.split(',')
    : [specs.includes('combined') ? 'combined' : (specs.at(-1) as string)];
  for (const spec of [...new Set(wanted)]) {
    const entry = detectors.find((d) => d.spec === spec);
    const front = audioFronts.get(`dev:${spec}`);
    if (!entry || typeof entry.detector === 'string' || !front) continue;
    const chosen = pointWithin(front.front, 0.05);
    if (!chosen) {
      log(`validate ${spec}: no swept policy reaches 5 % cut-offs on dev audio`);
      continue;
    }
    const row: ValidationRow = { detector: spec, policy: chosen.policy, splits: [] };
    for (const split of audioSplits) {
      const turns = audioTurns.get(split) as AudioTurn[];
      const runs = observations.get(split) as Awaited<ReturnType<typeof observe>>;
      const result = await validate(entry.detector, chosen.policy, turns, runs, { vad, stt }, concurrency);
      row.splits.push({ split, ...result });
      log(`validate ${spec} ${split}: ${policyText(chosen.policy)} done`);
    }
    validationRows.push(row);
  }
  if (validationRows.length > 0) {
    sections.push(
      [
        '### Level 2: audio through the session at the operating point chosen on dev audio',
        '',
        'Each clip played once more through a fresh session configured with the policy that the dev-audio sweep picked for ≤ 5 % cut-offs; the figures are what the session did. The heldout rows are the honest ones: that policy was chosen without them.',
        '',
        validationTable(validationRows),
        '',
      ].join('\n'),
    );
  }
}

const headlineRows = ['fixed', 'combined'].flatMap((detector) =>
  SPLITS.flatMap((split) =>
    [split, `${split}-phone`].flatMap((key) => {
      const result = audioFronts.get(`${key}:${detector}`);
      const label = key === split ? split : `${split}, phone μ-law 8 kHz`;
      return result ? [{ detector, split: label, tradeOff: result }] : [];
    }),
  ),
);
if (headlineRows.length > 0) {
  sections.unshift(
    ['### Headline (audio through the session, policy swept)', '', headlineTable(headlineRows), ''].join(
      '\n',
    ),
  );
}

await Promise.all(
  detectors.map(({ detector }) => (typeof detector === 'string' ? undefined : detector.close?.())),
);
stt.dispose();
await unloadSharedModels();

const header = [
  '# Turn-taking benchmark (`npm run bench:turns`)',
  '',
  `Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineText()}, in ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  '',
  'False cut-offs: share of turns in which the agent would have committed during a pause inside the turn (turns with no inner pause count too). Wait: mean silence after the real end of the turn before the commit. "At 300 ms wait" and "wait at 5 % cut-offs" read the Pareto front of the policy sweep (min delay × max delay × shape of the probability → delay curve, adaptation to the user off), interpolated linearly between its points. "Policy defaults" is `DEFAULT_ENDPOINTING_POLICY` unswept. µs per call: wall time of one detector call.',
  '',
].join('\n');
const text = `${header}\n${sections.join('\n')}`;
mkdirSync(dirname(values.out as string), { recursive: true });
writeFileSync(values.out as string, text);
process.stdout.write(`${text}\nwrote ${values.out}\n`);
process.exit(0);
