// The dashboard's overview (live sessions, latency over time per stage, distribution, outcomes, rates, cost,
// the alerts banner) and the list of stored sessions.
import { alertsBox, api, el, ms, pct, storeState, view, when } from './dashboard-common.js';

const STAGE_NAMES = {
  voiceToVoiceMs: 'voice-to-voice',
  eouDelayMs: 'end-of-turn wait',
  transcriptionDelayMs: 'STT final',
  llmTtftMs: 'LLM TTFT',
  ttsTtfaMs: 'TTS first audible',
};
const COLORS = ['#1f2937', '#f59e0b', '#8b5cf6', '#3b82f6', '#14b8a6'];
let charts = [];

export function renderAlerts(alerts, store) {
  alertsBox.replaceChildren(
    ...alerts.active.map((a) =>
      el(
        'div',
        { class: 'alert firing', 'data-rule': a.rule, 'data-state': 'firing' },
        `Alert "${a.rule}" firing: ${a.metric} ${a.stat} ${a.value} > ${a.threshold} since ${when(a.at)}`,
      ),
    ),
    ...alerts.recent
      .filter((a) => a.state === 'resolved' && !alerts.active.some((f) => f.rule === a.rule))
      .slice(-3)
      .map((a) =>
        el(
          'div',
          { class: 'alert resolved', 'data-rule': a.rule, 'data-state': 'resolved' },
          `Alert "${a.rule}" resolved at ${when(a.at)}`,
        ),
      ),
  );
  if (store) {
    storeState.textContent = `store: ${store.mode}${store.ok ? '' : ` — ${store.lastError}`}`;
    storeState.classList.toggle('bad', !store.ok || store.mode === 'memory');
  } else storeState.textContent = 'no store';
}

function card(label, value, id) {
  return el(
    'div',
    { class: 'card', id },
    el('div', { class: 'value' }, value),
    el('div', { class: 'label' }, label),
  );
}

/** A uPlot chart: `xs` are wall-clock ms (a time axis) unless `axis.time` is false. */
function chart(target, title, xs, series, axis = { time: true, y: 'ms' }) {
  const width = Math.max(360, target.clientWidth - 24);
  const data = [axis.time ? xs.map((t) => t / 1000) : xs, ...series.map((s) => s.values)];
  const plot = new window.uPlot(
    {
      title,
      width,
      height: 220,
      scales: { x: { time: axis.time } },
      axes: [{ label: axis.x }, { label: axis.y }],
      series: [
        { label: axis.time ? 'time' : axis.x },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          dash: s.dash,
        })),
      ],
    },
    data,
    target,
  );
  charts.push(plot);
}

export async function overview() {
  const data = await api(`overview?since=${Date.now() - 3_600_000}`);
  renderAlerts(data.alerts, data.store);
  for (const c of charts) c.destroy();
  charts = [];
  const stages = data.series.stages;
  const live = el(
    'table',
    { id: 'live-sessions' },
    el(
      'tr',
      {},
      el('th', {}, 'live session'),
      el('th', {}, 'state'),
      el('th', { class: 'num' }, 'turns'),
      el('th', { class: 'num' }, 'last v2v'),
      el('th', {}, 'variant'),
    ),
    ...data.live.map((s) =>
      el(
        'tr',
        { 'data-session-id': s.id },
        el('td', {}, s.id.slice(0, 8)),
        el('td', {}, s.state),
        el('td', { class: 'num' }, s.turns),
        el('td', { class: 'num' }, ms(s.lastVoiceToVoiceMs)),
        el('td', {}, s.variant ?? '–'),
      ),
    ),
  );
  const v2vChart = el('div', { id: 'chart-v2v' });
  const stageChart = el('div', { id: 'chart-stages' });
  const distChart = el('div', { id: 'chart-distribution' });
  view.replaceChildren(
    el(
      'div',
      { class: 'cards' },
      card('live sessions', data.live.length, 'card-live'),
      card('turns (last hour)', data.turns, 'card-turns'),
      card('interruption rate', pct(data.rates.interruption)),
      card('false cut-off rate', pct(data.rates.falseCutOff)),
      card('fallback rate', pct(data.rates.fallback)),
      card('error rate', pct(data.rates.error)),
      card(
        data.costPerSession.priced ? 'cost per session' : 'cost per session (set dashboard.pricing)',
        data.costPerSession.mean === null ? '–' : `$${data.costPerSession.mean.toFixed(4)}`,
      ),
    ),
    el('div', { class: 'panel' }, el('h2', {}, 'Live'), live),
    el(
      'div',
      { class: 'charts' },
      el('div', { class: 'panel' }, v2vChart),
      el('div', { class: 'panel' }, stageChart),
      el('div', { class: 'panel' }, distChart),
    ),
    el(
      'div',
      { class: 'panel', id: 'outcomes' },
      el('h2', {}, 'Outcomes'),
      Object.entries(data.outcomes).map(([k, v]) => el('span', { class: 'pill' }, `${k}: ${v}`)),
    ),
  );
  if (data.series.times.length > 0) {
    chart(v2vChart, 'Voice-to-voice p50 / p95', data.series.times, [
      { label: 'p50', values: stages.voiceToVoiceMs.p50 },
      { label: 'p95', values: stages.voiceToVoiceMs.p95, dash: [6, 4] },
    ]);
    chart(
      stageChart,
      'Stages p95',
      data.series.times,
      Object.keys(STAGE_NAMES).map((k) => ({ label: STAGE_NAMES[k], values: stages[k].p95 })),
    );
  } else v2vChart.append(el('p', { class: 'muted' }, 'No stored turns in the last hour.'));
  if (data.distribution.bins.length > 0) {
    chart(
      distChart,
      'Voice-to-voice distribution (turns per 100 ms)',
      data.distribution.bins.map((b) => b.fromMs),
      [{ label: 'turns', values: data.distribution.bins.map((b) => b.count) }],
      { time: false, x: 'voice-to-voice, ms', y: 'turns' },
    );
  }
}

export async function sessions() {
  const { sessions: list } = await api('sessions');
  view.replaceChildren(
    el(
      'div',
      { class: 'panel' },
      el('h2', {}, 'Sessions'),
      el(
        'table',
        { id: 'sessions' },
        el(
          'tr',
          {},
          ['started', 'session', 'turns', 'v2v p50', 'interrupted', 'errors', 'variant', 'recorded'].map(
            (h) => el('th', {}, h),
          ),
        ),
        ...list.map((s) =>
          el(
            'tr',
            { 'data-session-id': s.id },
            el('td', {}, when(s.startedAt)),
            el('td', {}, el('a', { class: 'session-link', href: `#/session/${s.id}` }, s.id.slice(0, 8))),
            el('td', { class: 'num' }, s.turns),
            el('td', { class: 'num' }, ms(s.voiceToVoiceP50Ms)),
            el('td', { class: 'num' }, s.interrupted),
            el('td', { class: 'num' }, s.errors),
            el('td', {}, s.variant ? `${s.experiment}: ${s.variant}` : '–'),
            el('td', {}, s.recording ? 'yes' : 'no'),
          ),
        ),
      ),
    ),
  );
}
