import type { ChunkStrategy } from '../../src/agent/chunker.ts';
import { summarize } from '../../src/metrics/stats.ts';
import { runScriptedWorkload, type WorkloadOptions } from './scripted-workload.ts';

interface Variant {
  label: string;
  options: Omit<WorkloadOptions, 'turns'>;
}

const TARGET_MS = 555; // agents-js 1.9 with preemptive generation on the same workload (issue 15)

const VARIANTS: Variant[] = [
  { label: '**default** (preemptive on, first-clause)', options: {} },
  { label: 'preemptive off, first-clause', options: { preemptiveGeneration: false } },
  { label: 'preemptive on, whole sentence', options: { strategy: 'sentence' as ChunkStrategy } },
  { label: 'preemptive on, word by word', options: { strategy: 'word' as ChunkStrategy } },
  {
    label: 'preemptive off, whole sentence (before issue 15)',
    options: { preemptiveGeneration: false, strategy: 'sentence' as ChunkStrategy },
  },
  { label: 'default, user goes on after the final in every 2nd turn', options: { userGoesOn: true } },
];

/** Runs the workload per variant and prints one markdown table; the default row is checked against 555 ms. */
export async function printScriptedWorkload(turns: number): Promise<void> {
  console.log('');
  console.log(
    `scripted workload — ${turns} turns per row, real clock: STT final +50 ms after end of speech, LLM TTFT 100 ms ` +
      'then 20 tokens at 50 tok/s, streaming-input TTS TTFB 50 ms, 500 ms endpointing',
  );
  console.log(
    '| variant | end of speech → first audio p50 (ms) | p95 | ttsTtfaMs p50 | overhead p50 | LLM requests / turn | preemptive reused / discarded |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  let defaultP50: number | null = null;
  for (const variant of VARIANTS) {
    const result = await runScriptedWorkload({ turns, ...variant.options });
    const v2v = summarize(result.metrics.map((m) => m.voiceToVoiceMs));
    const ttfa = summarize(result.metrics.map((m) => m.ttsTtfaMs));
    const overhead = summarize(result.metrics.map((m) => m.pipelineOverheadMs));
    const reused = result.metrics.filter((m) => m.preemptive === 'reused').length;
    const discarded = result.metrics.filter((m) => m.preemptive === 'discarded').length;
    const f = (v: number | null) => (v === null ? '—' : v.toFixed(0));
    if (
      variant.options.preemptiveGeneration === undefined &&
      !variant.options.strategy &&
      !variant.options.userGoesOn
    )
      defaultP50 = v2v.p50;
    console.log(
      `| ${variant.label} | ${f(v2v.p50)} | ${f(v2v.p95)} | ${f(ttfa.p50)} | ${overhead.p50?.toFixed(1) ?? '—'} | ` +
        `${(result.llmRequests / Math.max(1, result.metrics.length)).toFixed(2)} ` +
        `(${result.llmRequestsAborted} aborted) | ${reused} / ${discarded} |`,
    );
  }
  console.log(
    `target: default end of speech to first audio p50 <= ${TARGET_MS} ms (agents-js with preemptive generation) -> ` +
      `${defaultP50 !== null && defaultP50 <= TARGET_MS ? 'met' : 'NOT met'} (${defaultP50?.toFixed(0) ?? '—'} ms)`,
  );
}
