// Where each stage of a turn sits on one time axis that starts at the end of the user's speech (t = 0); every
// card on the page shares one axis length, so turns compare at a glance.
// Durations are the server's measurements; start times follow the pipeline's causal order:
//   end-of-turn wait and STT both start when the user stops speaking;
//   the LLM request goes out at the end of the turn, or at the final transcript when a preemptive
//   generation was reused;
//   TTS produces its first audio right before it is handed to the transport (never before the first token);
//   transport runs from that hand-over to the first sample heard, which is voice-to-voice.

/** The waterfall's rows, in order; `metric` is the TurnMetrics field shown as the row's number. */
export const STAGES = [
  { id: 'eou', label: 'End-of-turn wait', metric: 'eouDelayMs' },
  { id: 'stt', label: 'STT', metric: 'transcriptionDelayMs' },
  { id: 'llm', label: 'LLM TTFT', metric: 'llmTtftMs' },
  { id: 'tts', label: 'TTS TTFB', metric: 'ttsTtfbMs' },
  { id: 'transport', label: 'Transport', metric: 'transportMs' },
  { id: 'v2v', label: 'Voice-to-voice', metric: 'voiceToVoiceMs' },
];

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);

/**
 * Bars for one turn's metrics: `{ id, label, metric, valueMs, startMs, endMs }` per stage, with start and end
 * null where the stage did not run or cannot be placed; plus the axis length and tick marks.
 */
export function layoutWaterfall(metrics, sharedAxisMs) {
  const value = (name) => (isNumber(metrics[name]) ? Math.max(0, metrics[name]) : null);
  const eou = value('eouDelayMs');
  const stt = value('transcriptionDelayMs');
  const ttft = value('llmTtftMs');
  const ttfb = value('ttsTtfbMs');
  const transport = value('transportMs');
  const v2v = value('voiceToVoiceMs');

  const span = (startMs, durationMs) =>
    startMs === null || durationMs === null ? [null, null] : [startMs, startMs + durationMs];
  const llmStart = metrics.preemptive === 'reused' && stt !== null ? stt : eou;
  const [llmFrom, llmTo] = span(llmStart, ttft);
  const handOver = v2v !== null && transport !== null ? v2v - transport : null;
  let ttsFrom = null;
  if (ttfb !== null) {
    const beforeHandOver = handOver !== null ? handOver - ttfb : null;
    ttsFrom = [beforeHandOver, llmTo].reduce(
      (a, b) => (b === null ? a : a === null ? b : Math.max(a, b)),
      null,
    );
  }
  const places = {
    eou: span(0, eou),
    stt: span(0, stt),
    llm: [llmFrom, llmTo],
    tts: span(ttsFrom, ttfb),
    transport: span(handOver, transport),
    v2v: span(0, v2v),
  };
  const bars = STAGES.map((stage) => {
    const [startMs, endMs] = places[stage.id];
    return { ...stage, valueMs: value(stage.metric), startMs, endMs };
  });
  const furthestMs = Math.max(1, ...bars.map((bar) => bar.endMs ?? 0));
  // Cards drawn on one shared axis (the page's turns compared at a glance) pass it in; it is never shorter
  // than this turn needs.
  const axisMs = niceCeiling(Math.max(furthestMs, sharedAxisMs ?? 0));
  return { bars, furthestMs, axisMs, ticks: ticks(axisMs) };
}

/** The one axis for a set of turns: the nice ceiling of the furthest bar among them. */
export function sharedAxisMs(metricsList) {
  return niceCeiling(Math.max(1, ...metricsList.map((metrics) => layoutWaterfall(metrics).furthestMs)));
}

/** The smallest 1, 2, 2.5 or 5 × 10^k at or above `ms`. */
export function niceCeiling(ms) {
  const magnitude = 10 ** Math.floor(Math.log10(ms));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= ms) return step * magnitude;
  return 10 * magnitude;
}

function ticks(axisMs) {
  const leading = axisMs / 10 ** Math.floor(Math.log10(axisMs));
  const count = leading === 2 ? 4 : 5;
  return Array.from({ length: count + 1 }, (_, i) => (axisMs * i) / count);
}
