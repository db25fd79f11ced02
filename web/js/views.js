// The page's views. Each takes its root element and exposes a few update methods; none knows the protocol.

import { layoutWaterfall, sharedAxisMs } from './waterfall-layout.js';

const STATE_LABELS = {
  idle: 'Idle',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  listening: 'Listening',
  userSpeaking: 'You are speaking',
  thinking: 'Thinking',
  speaking: 'Speaking',
};

export function agentStateView(root) {
  const label = root.querySelector('.state-label');
  return {
    set(state) {
      root.dataset.state = state;
      label.textContent = STATE_LABELS[state] ?? state;
    },
  };
}

/** The microphone level as a 0–1 meter on a dB scale (-60 dBFS … 0). */
export function micMeterView(meter) {
  return {
    set(rms) {
      const db = rms > 0 ? 20 * Math.log10(rms) : -120;
      const value = Math.min(1, Math.max(0, (db + 60) / 60));
      meter.value = value;
      meter.textContent = `${Math.round(value * 100)}%`;
    },
  };
}

/** The words of the current user turn: finals so far, then the live interim hypothesis. */
export function transcriptView(root) {
  const finalPart = root.querySelector('.final');
  const interimPart = root.querySelector('.interim');
  let finals = [];
  let turnCommitted = false;
  const render = () => {
    finalPart.textContent = finals.join(' ');
    root.classList.toggle('has-text', Boolean(finalPart.textContent || interimPart.textContent));
  };
  return {
    update(text, final) {
      if (turnCommitted) {
        finals = [];
        turnCommitted = false;
      }
      const clean = text.trim();
      if (final) {
        if (clean) finals.push(clean);
        interimPart.textContent = '';
      } else {
        // An interim carries the whole turn so far (the finals, then the words still being recognised): only
        // the part after the finals is new, or the earlier words would show twice.
        const settled = finals.join(' ');
        const fresh = settled && clean.startsWith(settled) ? clean.slice(settled.length).trim() : clean;
        interimPart.textContent = fresh ? `${finals.length ? ' ' : ''}${fresh}` : '';
      }
      render();
    },
    /** The turn went into the conversation; its words stay visible until the user speaks again. */
    commit() {
      turnCommitted = true;
      interimPart.textContent = '';
      render();
    },
    text: () => root.textContent,
  };
}

const ROLE_LABELS = { user: 'You', assistant: 'Repartee', tool: 'Tool' };

export function conversationView(list) {
  const items = new Map();
  /** The reply being spoken, per speech id: its words appear as they are heard, before the history item. */
  const speaking = new Map();
  return {
    /** A sentence of speech `speechId` started playing: it joins that reply's live entry. */
    speak(speechId, text) {
      let entry = speaking.get(speechId);
      if (!entry) {
        entry = document.createElement('li');
        entry.className = 'message assistant live';
        entry.dataset.speechId = String(speechId);
        const who = document.createElement('span');
        who.className = 'who';
        who.textContent = ROLE_LABELS.assistant;
        const body = document.createElement('p');
        body.className = 'body';
        entry.append(who, body);
        speaking.set(speechId, entry);
        list.append(entry);
      }
      const body = entry.querySelector('.body');
      body.textContent = body.textContent ? `${body.textContent} ${text.trim()}` : text.trim();
      entry.scrollIntoView({ block: 'nearest' });
    },
    add(item) {
      if (item.role === 'system') return;
      // The history item is what was heard: it takes the live entries' place.
      if (item.role === 'assistant') {
        for (const entry of speaking.values()) entry.remove();
        speaking.clear();
      }
      const entry = items.get(item.id) ?? document.createElement('li');
      entry.className = `message ${item.role}`;
      entry.dataset.id = String(item.id);
      entry.replaceChildren();
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = ROLE_LABELS[item.role] ?? item.role;
      const body = document.createElement('p');
      body.className = 'body';
      body.textContent = describe(item);
      entry.append(who, body);
      if (item.interrupted) {
        entry.classList.add('interrupted');
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = 'interrupted';
        badge.title = 'You talked over the agent; this is the part you heard.';
        who.append(' ', badge);
      }
      if (!items.has(item.id)) {
        items.set(item.id, entry);
        list.append(entry);
      }
      entry.scrollIntoView({ block: 'nearest' });
    },
    clear() {
      items.clear();
      speaking.clear();
      list.replaceChildren();
    },
  };
}

function describe(item) {
  const calls = (item.toolCalls ?? []).map((call) => `→ ${call.name}(${call.arguments})`);
  const text = item.content?.trim() ?? '';
  if (item.role === 'assistant' && !text && calls.length === 0)
    return item.interrupted ? '(nothing heard)' : '';
  return [text, ...calls].filter(Boolean).join('\n');
}

export function errorsView(root) {
  return {
    show(message, source) {
      const entry = document.createElement('div');
      entry.className = 'error';
      const text = document.createElement('span');
      text.textContent = source ? `${source}: ${message}` : message;
      const dismiss = document.createElement('button');
      dismiss.type = 'button';
      dismiss.className = 'dismiss';
      dismiss.setAttribute('aria-label', 'Dismiss this error');
      dismiss.textContent = '×';
      dismiss.onclick = () => entry.remove();
      entry.append(text, dismiss);
      root.append(entry);
      while (root.children.length > 5) root.firstElementChild.remove();
    },
    /** A tool server needs the user to authorise it (OAuth): a link to its sign-in page, shown once per link. */
    authorization(server, url) {
      let href;
      try {
        href = new URL(url);
      } catch {
        return;
      }
      if (href.protocol !== 'https:' && href.protocol !== 'http:') return; // never a javascript: link
      if ([...root.querySelectorAll('a.authorize')].some((a) => a.href === href.href)) return;
      const entry = document.createElement('div');
      entry.className = 'error authorization';
      const text = document.createElement('span');
      text.textContent = `${server} needs your authorisation: `;
      const link = document.createElement('a');
      link.className = 'authorize';
      link.href = href.href;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      link.textContent = `sign in to ${href.host}`;
      text.append(link);
      const dismiss = document.createElement('button');
      dismiss.type = 'button';
      dismiss.className = 'dismiss';
      dismiss.setAttribute('aria-label', 'Dismiss');
      dismiss.textContent = '×';
      dismiss.onclick = () => entry.remove();
      entry.append(text, dismiss);
      root.append(entry);
    },
    clear: () => root.replaceChildren(),
  };
}

const MAX_TURNS = 12;
const formatMs = (ms) => (ms === null ? '—' : `${Math.round(ms)} ms`);

/**
 * One latency waterfall per turn, newest first, all on one time scale: a turn that needs a longer axis redraws
 * the others on it (a card's width per millisecond is the same everywhere on the page).
 */
export function turnsView(list, emptyNote) {
  const cards = []; // { metrics, rows, axis, turn }, newest first
  let axisMs = 0;
  const draw = (card) => {
    const { bars, ticks } = layoutWaterfall(card.metrics, axisMs);
    card.turn.dataset.axisMs = String(axisMs);
    card.rows.replaceChildren(...bars.map((bar) => stageRow(bar, axisMs)));
    card.axis.replaceChildren(
      ...ticks.map((tick) => {
        const mark = document.createElement('span');
        mark.style.left = `${(tick / axisMs) * 100}%`;
        mark.textContent = tick === 0 ? '0' : `${Math.round(tick)}`;
        return mark;
      }),
    );
  };
  return {
    add(metrics) {
      emptyNote.hidden = true;
      const turn = document.createElement('li');
      turn.className = 'turn';
      turn.dataset.turnId = String(metrics.turnId);

      const head = document.createElement('div');
      head.className = 'turn-head';
      const title = document.createElement('h3');
      title.textContent = `Turn ${metrics.turnId}`;
      const said = document.createElement('q');
      said.className = 'turn-said';
      said.textContent = metrics.userTranscript || '(typed or no words)';
      head.append(title, said);

      const rows = document.createElement('ol');
      rows.className = 'waterfall';
      rows.setAttribute('aria-label', `Turn ${metrics.turnId} latency, from the end of your speech`);
      const axis = document.createElement('div');
      axis.className = 'axis';
      axis.setAttribute('aria-hidden', 'true');
      const foot = document.createElement('p');
      foot.className = 'turn-foot';
      foot.textContent = footnote(metrics);
      turn.append(head, rows, axis, foot);
      list.prepend(turn);

      cards.unshift({ metrics, rows, axis, turn });
      while (cards.length > MAX_TURNS) cards.pop().turn.remove();
      const needed = sharedAxisMs(cards.map((card) => card.metrics));
      if (needed !== axisMs) {
        axisMs = needed;
        for (const card of cards) draw(card);
      } else {
        draw(cards[0]);
      }
    },
  };
}

function stageRow(bar, axisMs) {
  const row = document.createElement('li');
  row.className = 'stage';
  row.dataset.stage = bar.id;
  row.dataset.metric = bar.metric;
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = bar.label;
  const track = document.createElement('span');
  track.className = 'track';
  track.setAttribute('aria-hidden', 'true');
  if (bar.startMs !== null) {
    const fill = document.createElement('span');
    fill.className = 'bar';
    fill.style.left = `${(bar.startMs / axisMs) * 100}%`;
    fill.style.width = `max(2px, ${((bar.endMs - bar.startMs) / axisMs) * 100}%)`;
    fill.title = `${bar.label}: ${Math.round(bar.startMs)}–${Math.round(bar.endMs)} ms`;
    track.append(fill);
  }
  const value = document.createElement('span');
  value.className = 'value';
  value.textContent = formatMs(bar.valueMs);
  row.append(label, track, value);
  return row;
}

function footnote(metrics) {
  const parts = [`outcome ${metrics.outcome}`];
  if (typeof metrics.pipelineOverheadMs === 'number')
    parts.push(`pipeline ${formatMs(metrics.pipelineOverheadMs)}`);
  if (typeof metrics.interruptionStopMs === 'number')
    parts.push(`stopped ${formatMs(metrics.interruptionStopMs)} after you cut in`);
  if (typeof metrics.llmTokensPerSecond === 'number')
    parts.push(`${metrics.llmTokensPerSecond.toFixed(0)} tokens/s`);
  if (metrics.preemptive && metrics.preemptive !== 'none') parts.push(`preemptive ${metrics.preemptive}`);
  return parts.join(' · ');
}
