// The dashboard page: overview (live sessions, latency over time per stage, distribution, outcomes, rates,
// cost), the stored sessions, one session's timeline (both audio tracks, transcript, per-turn waterfall, tool
// calls, events) and the experiments' results. Data from /api/dashboard/ (token from this page's ?token=).
// This module routes between the views: dashboard-overview.js, dashboard-session.js, dashboard-experiments.js.
import { api, el, storeState, view } from './dashboard-common.js';
import { experiments } from './dashboard-experiments.js';
import { overview, renderAlerts, sessions } from './dashboard-overview.js';
import { session } from './dashboard-session.js';

let overviewTimer;

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
