/**
 * Language identification on short caller utterances (bench/languages/*.tsv, 12 languages, written for this
 * bench): accuracy and latency per library, on the dev split the choice was made on and on the held-back split.
 * Two settings: `open` (the library's full language set) and `allowed` (restricted to the 12 languages, as a
 * session with `languages.allowed` asks it). Runs alone: npx tsx bench/local/languages.ts [--all]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SessionLanguage } from '../../src/agent/language.ts';
import type { LanguageIdentifier } from '../../src/providers/langid/contract.ts';
import { loadEld } from '../../src/providers/langid/eld.ts';
import { TinyldIdentifier } from '../../src/providers/langid/tinyld.ts';

interface Utterance {
  language: string;
  text: string;
}

export interface LangidFigures {
  utterances: number;
  accuracy: number;
  /** Accuracy on utterances of at most two words (the hardest case, and the one hysteresis must absorb). */
  shortAccuracy: number;
  shortUtterances: number;
  perLanguage: Record<string, number>;
  p50Us: number;
  p95Us: number;
}

const here = fileURLToPath(new URL('.', import.meta.url));

export function readUtterances(split: 'dev' | 'held-back'): Utterance[] {
  const text = readFileSync(`${here}../languages/${split}.tsv`, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('#'))
    .map((line) => {
      const [language, utterance] = line.split('\t');
      return { language, text: utterance };
    });
}

function measure(identifier: LanguageIdentifier, utterances: Utterance[], allowed?: string[]): LangidFigures {
  // Warm-up: the first call loads tables and JIT-compiles the hot loop.
  for (const u of utterances.slice(0, 20)) identifier.identify(u.text, allowed);
  const times: number[] = [];
  let right = 0;
  let shortRight = 0;
  let shortCount = 0;
  const perLanguage: Record<string, [number, number]> = {};
  for (const u of utterances) {
    const t0 = performance.now();
    const guess = identifier.identify(u.text, allowed)[0]?.language;
    times.push((performance.now() - t0) * 1000);
    const ok = guess === u.language;
    if (ok) right++;
    const short = u.text.trim().split(/\s+/).length <= 2;
    if (short) {
      shortCount++;
      if (ok) shortRight++;
    }
    perLanguage[u.language] ??= [0, 0];
    perLanguage[u.language][1]++;
    if (ok) perLanguage[u.language][0]++;
  }
  times.sort((a, b) => a - b);
  const pick = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return {
    utterances: utterances.length,
    accuracy: right / utterances.length,
    shortAccuracy: shortCount ? shortRight / shortCount : 0,
    shortUtterances: shortCount,
    perLanguage: Object.fromEntries(Object.entries(perLanguage).map(([k, [r, n]]) => [k, r / n])),
    p50Us: pick(0.5),
    p95Us: pick(0.95),
  };
}

export interface SwitchFigures {
  /** Conversations: an English session allowed {en, L}, then L's utterances of the split in file order. */
  conversations: number;
  /** Of them, switched to L at all. */
  switched: number;
  /** L utterances until the switch (mean, max). */
  meanTurnsToSwitch: number;
  maxTurnsToSwitch: number;
  /** English utterances of the split, each in a fresh English session allowed {en, L}, for every L. */
  englishTurns: number;
  /** Of them, switched the session (false switches). */
  falseSwitches: number;
  /** The same English utterances with one word of L appended (a borrowed word): switches. */
  borrowedWordSwitches: number;
}

/**
 * The session's hysteresis (agent/language.ts) on typed text, with the chosen identifier: how many utterances a
 * switch takes, and how often English with one foreign word switches (it should not).
 */
function measureSwitching(identifier: LanguageIdentifier, utterances: Utterance[]): SwitchFigures {
  const languages = [...new Set(utterances.map((u) => u.language))].filter((l) => l !== 'en');
  const english = utterances.filter((u) => u.language === 'en');
  const turns: number[] = [];
  let falseSwitches = 0;
  let borrowed = 0;
  for (const language of languages) {
    const own = utterances.filter((u) => u.language === language);
    const session = new SessionLanguage({ allowed: ['en', language], initial: 'en', identifier });
    const at = own.findIndex((u) => session.observe(u.text, [])?.to === language);
    if (at >= 0) turns.push(at + 1);
    // A borrowed word: the last word of one of L's utterances ("gracias", "merci", "danke"...).
    const words = own.map((u) => u.text.trim().split(/\s+/).at(-1) as string);
    english.forEach((u, i) => {
      const fresh = () => new SessionLanguage({ allowed: ['en', language], initial: 'en', identifier });
      if (fresh().observe(u.text, [])) falseSwitches++;
      if (fresh().observe(`${u.text} ${words[i % words.length]}`, [])) borrowed++;
    });
  }
  return {
    conversations: languages.length,
    switched: turns.length,
    meanTurnsToSwitch: turns.length ? turns.reduce((a, b) => a + b, 0) / turns.length : 0,
    maxTurnsToSwitch: turns.length ? Math.max(...turns) : 0,
    englishTurns: english.length * languages.length,
    falseSwitches,
    borrowedWordSwitches: borrowed,
  };
}

/** Libraries measured only when choosing (`--all`); the report keeps the chosen one and its runner-up. */
async function extraCandidates(): Promise<LanguageIdentifier[]> {
  const { franc } = await import('franc');
  const { loadModule } = await import('cld3-asm');
  const iso3: Record<string, string> = {
    eng: 'en',
    spa: 'es',
    fra: 'fr',
    deu: 'de',
    ita: 'it',
    por: 'pt',
    nld: 'nl',
    rus: 'ru',
    ces: 'cs',
    fin: 'fi',
    cat: 'ca',
    hin: 'hi',
  };
  const to3 = Object.fromEntries(Object.entries(iso3).map(([k, v]) => [v, k]));
  const cld = (await loadModule()).create(0, 1000);
  return [
    {
      name: 'franc',
      identify: (text, allowed) => {
        const code = franc(text, { minLength: 1, ...(allowed ? { only: allowed.map((l) => to3[l]) } : {}) });
        return code === 'und' ? [] : [{ language: iso3[code] ?? code, score: 1 }];
      },
    },
    {
      name: 'cld3-asm',
      identify: (text, allowed) => {
        const found = cld.findMostFrequentLanguages(text, 12);
        const all = found.length ? found : [cld.findLanguage(text)];
        return all
          .map((r) => ({ language: r.language.split('-')[0], score: r.probability }))
          .filter((g) => g.language !== 'und' && (!allowed || allowed.includes(g.language)));
      },
    },
  ];
}

export async function benchLanguages(options: { all?: boolean } = {}): Promise<Record<string, unknown>> {
  const dev = readUtterances('dev');
  const heldBack = readUtterances('held-back');
  const allowed = [...new Set(dev.map((u) => u.language))];
  const identifiers: LanguageIdentifier[] = [await loadEld('small'), new TinyldIdentifier()];
  if (options.all) {
    for (const size of ['extrasmall', 'medium', 'large'] as const) identifiers.push(await loadEld(size));
    identifiers.push(...(await extraCandidates()));
  }
  const libraries: Record<string, unknown> = {};
  for (const identifier of identifiers) {
    const figures = {
      dev: { open: measure(identifier, dev), allowed: measure(identifier, dev, allowed) },
      heldBack: { open: measure(identifier, heldBack), allowed: measure(identifier, heldBack, allowed) },
    };
    libraries[identifier.name] = figures;
    for (const split of ['dev', 'heldBack'] as const) {
      for (const mode of ['open', 'allowed'] as const) {
        const f = figures[split][mode];
        console.log(
          `${identifier.name.padEnd(9)} ${split.padEnd(8)} ${mode.padEnd(7)} accuracy ${pct(f.accuracy)}` +
            ` (≤2 words ${pct(f.shortAccuracy)} of ${f.shortUtterances})  p50 ${f.p50Us.toFixed(0)} µs` +
            `  p95 ${f.p95Us.toFixed(0)} µs`,
        );
      }
    }
  }
  const chosen = identifiers[0];
  const switching = { dev: measureSwitching(chosen, dev), heldBack: measureSwitching(chosen, heldBack) };
  for (const [split, f] of Object.entries(switching))
    console.log(
      `switching ${split}: ${f.switched}/${f.conversations} switched, ${f.meanTurnsToSwitch.toFixed(2)} turns` +
        ` (max ${f.maxTurnsToSwitch}); false ${f.falseSwitches}/${f.englishTurns},` +
        ` borrowed word ${f.borrowedWordSwitches}/${f.englishTurns}`,
    );
  return { languages: allowed, chosen: chosen.name, libraries, switching };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchLanguages({ all: process.argv.includes('--all') });
}

/** The markdown section of bench/results/local.md for `benchLanguages`' results. */
export function languagesReport(result: Record<string, unknown> | undefined): string[] {
  const libraries = result?.libraries as
    | Record<string, Record<'dev' | 'heldBack', Record<'open' | 'allowed', LangidFigures>>>
    | undefined;
  const languages = (result?.languages as string[] | undefined) ?? [];
  if (!libraries) return [];
  const out = [
    '## Language identification on short utterances',
    '',
    `${languages.length} languages (${languages.join(', ')}), 12 utterances`,
    'each per split (bench/languages/*.tsv). open: the library’s whole language set; allowed: restricted to these.',
    `Chosen on dev: **${result?.chosen}**. Latency per utterance on this machine.`,
    '',
    '| library | split | setting | accuracy | ≤ 2 words | p50 µs | p95 µs |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, splits] of Object.entries(libraries))
    for (const split of ['dev', 'heldBack'] as const)
      for (const mode of ['open', 'allowed'] as const) {
        const f = splits[split][mode];
        out.push(
          `| ${name} | ${split} | ${mode} | ${pct(f.accuracy)} | ${pct(f.shortAccuracy)} (${f.shortUtterances}) | ${f.p50Us.toFixed(0)} | ${f.p95Us.toFixed(0)} |`,
        );
      }
  out.push('');
  const switching = result?.switching as Record<'dev' | 'heldBack', SwitchFigures> | undefined;
  if (switching) {
    out.push(
      '### Switching (hysteresis: < 2 words no evidence, 4 words of consecutive evidence switch), typed text',
      '',
      'An English session allowed {en, L} is given L’s utterances in file order; English utterances alone, and',
      'with one word of L appended (a borrowed word), each in a fresh English session.',
      '',
      '| split | switched | turns to switch (mean, max) | false switches | switches on a borrowed word |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const split of ['dev', 'heldBack'] as const) {
      const f = switching[split];
      out.push(
        `| ${split} | ${f.switched}/${f.conversations} | ${f.meanTurnsToSwitch.toFixed(2)}, ${f.maxTurnsToSwitch} | ${f.falseSwitches}/${f.englishTurns} | ${f.borrowedWordSwitches}/${f.englishTurns} |`,
      );
    }
    out.push('');
  }
  return out;
}
