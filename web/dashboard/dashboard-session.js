// One stored session's view: both audio tracks on a shared timeline, the transcript, each turn's waterfall,
// tool calls and events.
import { layoutWaterfall, sharedAxisMs } from '../js/waterfall-layout.js';
import { api, el, ms, svg, view, when, withToken } from './dashboard-common.js';

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

export async function session(id) {
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
