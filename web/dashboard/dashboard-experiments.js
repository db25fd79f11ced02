// The experiments' results: per variant, sessions, turns and p50 / p95 with bootstrap intervals, and the verdict.
import { api, el, view } from './dashboard-common.js';

const interval = (i) =>
  i.value === null ? '–' : `${Math.round(i.value)} [${Math.round(i.low)}, ${Math.round(i.high)}]`;

export async function experiments() {
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
