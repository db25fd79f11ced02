// The dashboard page: overview (live sessions, latency over time per stage, distribution, outcomes, rates,
// cost), the stored sessions, one session's timeline (both audio tracks, transcript, per-turn waterfall, tool
// calls, events) and the experiments' results. Data from /api/dashboard/ (token from this page's ?token=).
import { layoutWaterfall, sharedAxisMs } from '../js/waterfall-layout.js';

const token = new URLSearchParams(location.search).get('token');
const view = document.getElementById('view');
const alertsBox = document.getElementById('alerts');
const storeState = document.getElementById('store-state');
const STAGE_NAMES = {
  voiceToVoiceMs: 'voice-to-voice',
  eouDelayMs: 'end-of-turn wait',
  transcriptionDelayMs: 'STT final',
  llmTtftMs: 'LLM TTFT',
  ttsTtfaMs: 'TTS first audible',
};
const COLORS = ['#1f2937', '#f59e0b', '#8b5cf6', '#3b82f6', '#14b8a6'];
let charts = [];
let overviewTimer;

async function api(path) {
  const response = await fetch(`/api/dashboard/${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
const ms = (v) => (typeof v === 'number' ? `${Math.round(v)} ms` : '–');
const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '–');
const when = (t) => (t ? new Date(t).toLocaleString() : '–');

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function renderAlerts(alerts, store) {
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

async function overview() {
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

async function sessions() {
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

function waterfall(metrics, axisMs) {
  const { bars } = layoutWaterfall(metrics, axisMs);
  return el(
    'div',
    { class: 'wf' },
    bars.flatMap((b) => [
      el('span', {}, b.label),
      el(
        'div',
        { class: 'track' },
        b.startMs === null
          ? null
          : el('div', {
              class: `bar ${b.id}`,
              'data-stage': b.id,
              style: `left:${(100 * b.startMs) / axisMs}%;width:${Math.max(0.5, (100 * (b.endMs - b.startMs)) / axisMs)}%`,
            }),
      ),
      el('span', { class: 'num' }, ms(b.valueMs)),
    ]),
  );
}

function timeline(detail, players) {
  const origin = detail.clockOriginMs;
  const turns = detail.turnRecords.map((t) => t.record);
  const lastEvent = Math.max(0, ...detail.events.map((e) => e.atMs));
  const duration = Math.max(1000, lastEvent, ...detail.recordings.map((r) => r.durationMs));
  const W = 1000;
  const x = (t) => (W * Math.max(0, t)) / duration;
  const rows = { user: 20, agent: 45, marks: 70 };
  const shapes = [];
  for (const t of turns) {
    if (t.endOfUserSpeechAtMs === null) continue;
    const eou = t.endOfUserSpeechAtMs - origin;
    shapes.push(
      svg('line', {
        x1: x(eou),
        x2: x(eou),
        y1: 8,
        y2: 80,
        stroke: '#f59e0b',
        'stroke-dasharray': '3 2',
        class: 'eou-mark',
      }),
    );
    if (t.voiceToVoiceMs !== null)
      shapes.push(
        svg('rect', {
          x: x(eou),
          y: rows.marks - 6,
          width: Math.max(1, x(eou + t.voiceToVoiceMs) - x(eou)),
          height: 6,
          fill: '#1f2937',
          class: 'v2v-span',
        }),
      );
  }
  const starts = new Map();
  for (const e of detail.events) {
    if (e.kind === 'speechStarted') starts.set(e.data.speechId, e.atMs);
    if (e.kind === 'speechEnded' && starts.has(e.data.speechId)) {
      const from = starts.get(e.data.speechId);
      shapes.push(
        svg('rect', {
          x: x(from),
          y: rows.agent - 8,
          width: Math.max(1, x(e.atMs) - x(from)),
          height: 14,
          rx: 3,
          fill: e.data.outcome === 'interrupted' ? '#c62828' : '#14b8a6',
          class: 'agent-speech',
        }),
      );
    }
    if (e.kind === 'state' && e.data.state === 'userSpeaking') starts.set('user', e.atMs);
    if (e.kind === 'state' && e.data.state !== 'userSpeaking' && starts.has('user')) {
      const from = starts.get('user');
      starts.delete('user');
      shapes.push(
        svg('rect', {
          x: x(from),
          y: rows.user - 8,
          width: Math.max(1, x(e.atMs) - x(from)),
          height: 14,
          rx: 3,
          fill: '#6366f1',
          class: 'user-speech',
        }),
      );
    }
    if (e.kind === 'interruption' || e.kind === 'toolCall' || e.kind === 'error') {
      const color = { interruption: '#c62828', toolCall: '#3b82f6', error: '#000' }[e.kind];
      shapes.push(
        svg('circle', { cx: x(e.atMs), cy: rows.marks + 8, r: 4, fill: color, class: `mark-${e.kind}` }),
      );
    }
  }
  const ticks = [];
  const step = duration > 60_000 ? 10_000 : duration > 10_000 ? 2_000 : 1_000;
  for (let t = 0; t <= duration; t += step) {
    ticks.push(
      svg(
        'text',
        { x: x(t), y: 96, 'font-size': 10, fill: 'currentColor' },
        document.createTextNode(`${t / 1000}s`),
      ),
    );
  }
  const head = svg('line', {
    x1: 0,
    x2: 0,
    y1: 0,
    y2: 86,
    stroke: '#4f46e5',
    'stroke-width': 2,
    id: 'playhead',
  });
  const chartSvg = svg(
    'svg',
    { viewBox: `0 0 ${W} 100`, id: 'timeline', role: 'img', 'aria-label': 'session timeline' },
    svg(
      'text',
      { x: 2, y: rows.user - 10, 'font-size': 9, fill: 'currentColor' },
      document.createTextNode('user'),
    ),
    svg(
      'text',
      { x: 2, y: rows.agent - 10, 'font-size': 9, fill: 'currentColor' },
      document.createTextNode('agent'),
    ),
    ...shapes,
    ...ticks,
    head,
  );
  chartSvg.addEventListener('click', (event) => {
    const box = chartSvg.getBoundingClientRect();
    const at = ((event.clientX - box.left) / box.width) * duration;
    for (const p of players) p.currentTime = at / 1000;
  });
  for (const p of players) {
    p.addEventListener('timeupdate', () => {
      const at = x(p.currentTime * 1000);
      head.setAttribute('x1', at);
      head.setAttribute('x2', at);
    });
  }
  return chartSvg;
}

async function session(id) {
  const detail = await api(`sessions/${encodeURIComponent(id)}`);
  const players = detail.recordings.map((r) =>
    el('audio', {
      controls: '',
      preload: 'auto',
      'data-side': r.side,
      src: withToken(`/api/dashboard/sessions/${encodeURIComponent(id)}/audio/${r.side}`),
    }),
  );
  const playBoth = el(
    'button',
    {
      id: 'play-both',
      onclick: () => {
        for (const p of players) void p.play();
      },
    },
    'Play both',
  );
  const turns = detail.turnRecords.map((t) => t.record);
  const axis = sharedAxisMs(turns);
  const events = detail.events.filter((e) => e.kind !== 'state');
  view.replaceChildren(
    el(
      'section',
      { id: 'session-view', 'data-session-id': id, class: 'panel' },
      el(
        'h2',
        {},
        `Session ${id.slice(0, 8)} `,
        el(
          'span',
          { class: 'muted' },
          `${when(detail.startedAt)} · ${detail.turns} turns · v2v p50 ${ms(detail.voiceToVoiceP50Ms)}${detail.variant ? ` · ${detail.experiment}: ${detail.variant}` : ''} · ${detail.cost.promptTokens} prompt / ${detail.cost.completionTokens} completion tokens, ${detail.cost.ttsCharacters} TTS characters`,
        ),
      ),
      players.length
        ? el(
            'div',
            { class: 'players' },
            ...detail.recordings.flatMap((r, i) => [
              el('span', {}, r.side === 'user' ? 'User' : 'Agent'),
              players[i],
            ]),
            el('span', {}),
            playBoth,
          )
        : el('p', { class: 'muted' }, 'Not recorded (store.recordAudio is off).'),
      el('div', { class: 'timeline' }, timeline(detail, players)),
    ),
    el(
      'section',
      { class: 'panel', id: 'turns' },
      el('h2', {}, 'Turns'),
      ...turns.map((t) =>
        el(
          'div',
          { class: 'turn', 'data-turn-id': t.turnId },
          el(
            'div',
            { class: 'texts' },
            el('div', {}, el('strong', {}, 'User: '), t.userTranscript),
            el(
              'div',
              {},
              el('strong', {}, 'Agent: '),
              t.agentText,
              el('span', { class: 'muted' }, ` (${t.outcome})`),
            ),
          ),
          waterfall(t, axis),
        ),
      ),
    ),
    el(
      'section',
      { class: 'panel' },
      el('h2', {}, 'Events'),
      el(
        'div',
        { class: 'events', id: 'events' },
        ...events.map((e) =>
          el(
            'div',
            { 'data-kind': e.kind },
            `${(e.atMs / 1000).toFixed(2)} s  ${e.kind}  ${JSON.stringify(e.data)}`,
          ),
        ),
      ),
    ),
  );
}

const interval = (i) =>
  i.value === null ? '–' : `${Math.round(i.value)} [${Math.round(i.low)}, ${Math.round(i.high)}]`;

async function experiments() {
  const { experiments: list } = await api('experiments');
  if (list.length === 0) {
    view.replaceChildren(
      el('div', { class: 'panel' }, el('p', { class: 'muted' }, 'No experiments are configured.')),
    );
    return;
  }
  view.replaceChildren(
    ...list.map((e) =>
      el(
        'div',
        { class: 'panel' },
        el(
          'h2',
          {},
          `${e.experiment} `,
          el(
            'span',
            { class: 'muted' },
            `${e.metric}, ${Math.round(e.confidence * 100)} % bootstrap intervals over sessions`,
          ),
        ),
        el(
          'table',
          { class: 'experiment', 'data-experiment': e.experiment },
          el(
            'tr',
            {},
            ['variant', 'sessions', 'turns', 'p50 [CI]', 'p95 [CI]'].map((h) => el('th', {}, h)),
          ),
          ...e.variants.map((v) =>
            el(
              'tr',
              { 'data-variant': v.variant },
              el('td', {}, v.variant),
              el('td', { class: 'num' }, v.sessions),
              el('td', { class: 'num' }, v.turns),
              el('td', { class: 'num p50' }, interval(v.p50)),
              el('td', { class: 'num p95' }, interval(v.p95)),
            ),
          ),
        ),
        el(
          'p',
          { class: e.verdict ? 'verdict' : 'verdict none' },
          e.verdict ?? 'No significant difference yet: the intervals of the difference include 0.',
        ),
      ),
    ),
  );
}

async function pollAlerts() {
  try {
    const data = await api(`overview?since=${Date.now() - 60_000}`);
    renderAlerts(data.alerts, data.store);
  } catch (error) {
    storeState.textContent = `dashboard API: ${error.message}`;
    storeState.classList.add('bad');
  }
}

async function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  try {
    if (hash.startsWith('/session/')) await session(decodeURIComponent(hash.slice('/session/'.length)));
    else if (hash === '/sessions') await sessions();
    else if (hash === '/experiments') await experiments();
    else await overview();
    document.body.dataset.view = hash;
  } catch (error) {
    view.replaceChildren(el('div', { class: 'panel', id: 'error' }, `Could not load: ${error.message}`));
  }
}

window.addEventListener('hashchange', route);
clearInterval(overviewTimer);
overviewTimer = setInterval(() => {
  if ((location.hash.replace(/^#/, '') || '/') === '/') route();
  else pollAlerts();
}, 2000);
route();
