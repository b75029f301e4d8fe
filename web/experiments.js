// Experiments: the list with live progress, and one experiment's results
// (bb/100 with its 95% interval, cost) and cumulative winnings chart.
//
// Live progress comes over the WebSocket (`watch_experiments`, then an
// `experiment` message per change); a server that does not know that
// message (`unknown_type`) is polled instead, every 2 seconds.

import { connection } from './connection.js';
import { h, chips, duration } from './cards.js';
import { get } from './api.js';
import { lineChart, PALETTE } from './chart.js';

const POLL_MS = 2000;
const FINISHED = new Set(['done', 'budget_reached', 'degraded', 'cancelled', 'failed']);
const STATUS_TEXT = {
  pending: 'pending', running: 'running', paused: 'paused', done: 'done',
  budget_reached: 'budget reached', degraded: 'degraded (LLM fell back)', cancelled: 'cancelled', failed: 'failed',
};

/**
 * Follows experiment changes: `onChange(experiment)` for each pushed one,
 * `onPoll()` every 2 s while the server cannot push. Returns a stop function.
 */
function follow({ onChange, onPoll }) {
  let alive = true;
  let pushing = false;
  let pollTimer = null;

  const poll = async () => {
    if (!alive || pushing) return;
    try {
      await onPoll();
    } finally {
      if (alive && !pushing) pollTimer = setTimeout(poll, POLL_MS);
    }
  };
  const startPolling = () => {
    pushing = false;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, POLL_MS);
  };
  const subscribe = async () => {
    try {
      await connection.request({ type: 'watch_experiments' });
      if (!alive) return;
      pushing = true;
      clearTimeout(pollTimer);
      // Changes made between the first load and the subscription.
      onPoll();
    } catch (e) {
      if (alive) startPolling();
      if (e.code !== 'unknown_type' && e.code !== 'disconnected') console.warn('watch_experiments:', e.message);
    }
  };
  const offMessage = connection.onMessage((msg) => {
    if (alive && msg.type === 'experiment' && msg.experiment && typeof msg.experiment === 'object') onChange(msg.experiment);
  });
  const offOpen = connection.onOpen(subscribe);
  const offState = connection.onState((state) => {
    // While disconnected nothing is pushed: poll until the next `hello`.
    if (state !== 'open' && pushing) startPolling();
  });
  startPolling();
  connection.ensure();
  if (connection.isOpen) subscribe();
  return () => {
    alive = false;
    clearTimeout(pollTimer);
    offMessage();
    offOpen();
    offState();
    if (pushing && connection.isOpen) connection.send({ type: 'unwatch_experiments' });
  };
}

/** Fetches the list; a server without the experiments API has none. */
async function fetchList() {
  try {
    const body = await get('/api/experiments');
    return { list: Array.isArray(body && body.experiments) ? body.experiments : [], available: true };
  } catch (e) {
    if (e.status === 404) return { list: [], available: false };
    throw e;
  }
}

/** The list page. */
export function mountList(root) {
  let alive = true;
  const byId = new Map();
  let available = true;
  const list = h('div.experiment-list', { id: 'experiments-list' }, h('p.muted', 'Loading experiments…'));
  root.append(h('section.experiments',
    h('div.page-head', h('h1', 'Experiments'),
      h('p.muted', 'Bulk AI-vs-AI runs: progress while they run, per-agent results when they finish.')),
    list));

  function render() {
    if (!byId.size) {
      list.replaceChildren(h('div.panel.empty-state', { id: 'experiments-empty' },
        h('h2', 'No experiments yet'),
        h('p.muted', 'Run one with ', h('code', 'showdown experiment run docs/experiment.example.toml'),
          '; it appears here with live progress.'),
        available ? null : h('p.muted.small', 'This server does not list experiments over its API yet.')));
      return;
    }
    const items = [...byId.values()].sort((a, b) => (b.created_at_ms || 0) - (a.created_at_ms || 0));
    list.replaceChildren(...items.map((x) => experimentCard(x, true)));
  }

  async function load() {
    try {
      const got = await fetchList();
      if (!alive) return;
      available = got.available;
      byId.clear();
      for (const x of got.list) if (x && x.id != null) byId.set(String(x.id), x);
      render();
    } catch (e) {
      if (alive) list.replaceChildren(h('p.error-text', `Cannot load experiments: ${e.message}`));
    }
  }
  load();
  const stop = follow({
    onChange: (x) => {
      if (x.id == null) return;
      byId.set(String(x.id), { ...byId.get(String(x.id)), ...x });
      render();
    },
    // Without the experiments API nothing can appear: stop asking.
    onPoll: () => (available ? load() : undefined),
  });
  return () => {
    alive = false;
    stop();
  };
}

/** One experiment's card: name, status, progress bar and figures. */
function experimentCard(x, link) {
  const total = Number(x.hands_total) || 0;
  const done = Number(x.hands_done) || 0;
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const status = String(x.status || 'pending');
  const running = status === 'running';
  const figures = [
    `${chips(done)} / ${chips(total)} hands`,
    running && typeof x.hands_per_sec === 'number' ? `${chips(Math.round(x.hands_per_sec))} hands/s` : null,
    running && typeof x.eta_secs === 'number' ? `ETA ${duration(x.eta_secs)}` : null,
    typeof x.cost_usd === 'number' ? `$${x.cost_usd.toFixed(x.cost_usd < 1 ? 4 : 2)}` : null,
    typeof x.tokens === 'number' && x.tokens ? `${chips(x.tokens)} tokens` : null,
  ].filter(Boolean);
  const name = x.name || `experiment ${x.id}`;
  return h('article.panel.experiment', { dataset: { experiment: x.id, status } },
    h('div.experiment-head',
      link ? h('a.experiment-name', { href: `#/experiments/${encodeURIComponent(x.id)}` }, name) : h('h1.experiment-name', name),
      h(`span.status.status-${status}`, STATUS_TEXT[status] || status)),
    h('div.progress', { role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(fraction * 100) },
      h('div.progress-fill', { class: `status-${status}`, style: { width: `${(fraction * 100).toFixed(1)}%` } })),
    h('div.experiment-figures.muted.small', figures.join(' · ')));
}

/** One experiment: progress, results table and cumulative winnings chart. */
export function mountDetail(root, id) {
  let alive = true;
  let current = null;
  let loadedResultsFor = null;
  const head = h('div', { id: 'experiment-head' }, h('p.muted', 'Loading…'));
  const results = h('div', { id: 'experiment-results' });
  const chart = h('div', { id: 'experiment-chart' });
  root.append(h('section.experiments',
    h('p', h('a', { href: '#/experiments' }, '← All experiments')),
    head, results, chart));

  async function loadDetail() {
    try {
      const x = await get(`/api/experiments/${encodeURIComponent(id)}`);
      if (!alive) return;
      current = x;
      head.replaceChildren(experimentCard(x, false));
      const key = `${x.status}:${x.hands_done}`;
      if (x.results && key !== loadedResultsFor && (FINISHED.has(x.status) || loadedResultsFor == null)) {
        loadedResultsFor = key;
        results.replaceChildren(resultsView(x));
        loadCurve();
      } else if (!x.results) {
        results.replaceChildren(h('div.panel', h('p.muted', FINISHED.has(x.status)
          ? 'This experiment finished without results.'
          : 'Results appear when the experiment finishes.')));
      }
    } catch (e) {
      if (!alive) return;
      head.replaceChildren(h('div.panel.empty-state', h('h2', 'Experiment not found'),
        h('p.muted', e.status === 404 ? `There is no experiment ${id} on this server.` : e.message)));
    }
  }

  async function loadCurve() {
    try {
      const curve = await get(`/api/experiments/${encodeURIComponent(id)}/curve`);
      if (!alive) return;
      chart.replaceChildren(curveView(curve));
    } catch (e) {
      if (alive) chart.replaceChildren(h('div.panel', h('p.muted', `No chart: ${e.message}`)));
    }
  }

  loadDetail();
  const stop = follow({
    onChange: (x) => {
      if (String(x.id) !== String(id)) return;
      const wasFinished = current && FINISHED.has(current.status);
      current = { ...current, ...x };
      head.replaceChildren(experimentCard(current, false));
      if (FINISHED.has(x.status) && !wasFinished) loadDetail();
    },
    onPoll: loadDetail,
  });
  return () => {
    alive = false;
    stop();
  };
}

function fmt(n, digits = 1) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function pct(n) {
  return typeof n === 'number' && Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : '—';
}

/** The model key ("provider/model") of an LLM agent spec. */
function modelOf(agent) {
  if (typeof agent !== 'string' || !agent.startsWith('llm:')) return null;
  return agent.slice(4).split('?')[0];
}

/**
 * An agent's cost: its model's cost, shared out by token use when several
 * agents use one model (marked "≈"). Bots cost nothing.
 */
function agentCost(agent, results) {
  const model = modelOf(agent);
  if (!model) return { text: '$0', title: 'heuristic bot' };
  const m = results.models && results.models[model];
  if (!m || typeof m.cost_usd !== 'number') return { text: '—', title: 'no cost recorded' };
  const llm = results.llm || {};
  const sharing = Object.keys(llm).filter((a) => modelOf(a) === model);
  if (sharing.length <= 1) return { text: `$${m.cost_usd.toFixed(4)}`, title: model };
  const tokens = (a) => (Number(llm[a]?.prompt_tokens) || 0) + (Number(llm[a]?.completion_tokens) || 0);
  const all = sharing.reduce((s, a) => s + tokens(a), 0);
  const share = all > 0 ? tokens(agent) / all : 1 / sharing.length;
  return { text: `≈$${(m.cost_usd * share).toFixed(4)}`, title: `${model}, shared with ${sharing.length - 1} other agent(s) by tokens` };
}

function resultsView(x) {
  const r = x.results;
  // Sorted by name, like the chart's series, so each agent has one colour in both.
  const agents = (Array.isArray(r.agents) ? [...r.agents] : [])
    .sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0));
  const rows = agents.map((a, i) => {
    const ci = Array.isArray(a.bb_per_100_ci95) ? a.bb_per_100_ci95 : null;
    const cost = agentCost(a.agent, r);
    const dup = a.duplicate && typeof a.duplicate.bb_per_100 === 'number' ? a.duplicate : null;
    return h('tr',
      h('td', h('span.swatch', { style: { background: PALETTE[i % PALETTE.length] } }), ' ', a.agent),
      h('td.num', chips(a.hands)),
      h('td.num', { class: a.net_chips >= 0 ? 'pos' : 'neg' }, chips(a.net_chips)),
      h('td.num', { class: a.bb_per_100 >= 0 ? 'pos' : 'neg' }, fmt(a.bb_per_100, 2)),
      h('td.num.muted', ci ? `[${fmt(ci[0])}, ${fmt(ci[1])}]` : '—'),
      h('td.num.muted', dup ? `${fmt(dup.bb_per_100, 2)}${Array.isArray(dup.ci95) ? ` [${fmt(dup.ci95[0])}, ${fmt(dup.ci95[1])}]` : ''}` : '—'),
      h('td.num', pct(a.vpip)),
      h('td.num', pct(a.pfr)),
      h('td.num', fmt(a.aggression_factor, 2)),
      h('td.num', pct(a.went_to_showdown)),
      h('td.num', pct(a.won_at_showdown)),
      h('td.num', { title: cost.title }, cost.text));
  });
  const parts = [];
  if (r.status === 'degraded' || typeof r.degraded === 'string') {
    parts.push(h('section.panel.degraded', { id: 'experiment-degraded', role: 'alert' },
      h('h2', 'Stopped: the LLM seats fell back to bots'),
      h('p', 'Too many decisions were made by fallback bots instead of the model, so these results would not measure the model.'),
      h('pre.small', typeof r.degraded === 'string' ? r.degraded : '')));
  }
  const llm = r.llm && typeof r.llm === 'object' ? Object.entries(r.llm) : [];
  if (llm.length) {
    parts.push(h('section.panel', h('h2', 'Who made the LLM seats\' decisions'),
      h('div.table-scroll', h('table.results-table', { id: 'llm-table' },
        h('thead', h('tr', h('th', 'LLM agent'), h('th', 'Decisions'), h('th', { title: 'decided by the agent\'s own model' }, 'By the model'),
          h('th', { title: 'decided by another model of its fallback chain' }, 'By a fallback model'),
          h('th', { title: 'decided by the fallback bot' }, 'By a bot'), h('th', 'Bot fallbacks by reason'),
          h('th', 'Latency p50 / p99'))),
        h('tbody', llm.map(([name, s]) => {
          const other = Object.values(s.other_model_decisions || {}).reduce((a, b) => a + (Number(b) || 0), 0);
          const reasons = Object.entries(s.fallbacks || {}).map(([k, n]) => `${k} ${n}`).join(', ') || '—';
          const botShare = Number(s.fallback_share) || 0;
          return h('tr',
            h('td', name),
            h('td.num', chips(s.decisions)),
            h('td.num', `${chips(s.model_decisions)} (${pct(s.model_share)})`),
            h('td.num', chips(other)),
            h('td.num', { class: botShare > 0.05 ? 'neg' : '' }, `${chips(s.fallback_decisions)} (${pct(s.fallback_share)})`),
            h('td.small', reasons),
            h('td.num.muted', `${s.latency_ms_p50 ?? '—'} / ${s.latency_ms_p99 ?? '—'} ms`));
        }))))));
  }
  parts.unshift(h('section.panel',
    h('h2', 'Results per agent'),
    h('div.table-scroll', h('table.results-table', { id: 'results-table' },
      h('thead', h('tr', h('th', 'Agent'), h('th', 'Hands'), h('th', 'Net chips'), h('th', { title: 'big blinds won per 100 hands' }, 'bb/100'),
        h('th', '95% CI'), h('th', { title: 'duplicate-mode estimate, bb/100 [95% CI]' }, 'Duplicate'), h('th', 'VPIP'), h('th', 'PFR'),
        h('th', { title: 'aggression factor' }, 'AF'), h('th', { title: 'went to showdown' }, 'WTSD'), h('th', { title: 'won at showdown' }, 'W$SD'),
        h('th', 'Cost'))),
      h('tbody', rows))),
    h('p.muted.small', `Total cost ${typeof r.cost_usd === 'number' ? `$${r.cost_usd.toFixed(4)}` : '—'}`,
      typeof r.tokens === 'number' ? ` · ${chips(r.tokens)} tokens` : '')));
  if (parts.length > 1 && parts[1].id === 'experiment-degraded') {
    // The reason a run is not to be trusted comes first.
    parts.unshift(parts.splice(1, 1)[0]);
  }
  if (r.models && typeof r.models === 'object' && Object.keys(r.models).length) {
    parts.push(h('section.panel', h('h2', 'Models'),
      h('div.table-scroll', h('table.results-table',
        h('thead', h('tr', h('th', 'Model'), h('th', 'Calls'), h('th', 'Prompt tokens'), h('th', 'Completion tokens'), h('th', 'Cost'))),
        h('tbody', Object.entries(r.models).map(([name, m]) => h('tr',
          h('td', name), h('td.num', chips(m.calls)), h('td.num', chips(m.prompt_tokens)),
          h('td.num', chips(m.completion_tokens)), h('td.num', typeof m.cost_usd === 'number' ? `$${m.cost_usd.toFixed(4)}` : '—'))))))));
  }
  return h('div', parts);
}

function curveView(curve) {
  const agents = Array.isArray(curve && curve.agents) ? curve.agents : [];
  const points = Array.isArray(curve && curve.points) ? curve.points : [];
  const bb = Number(curve && curve.big_blind) || 1;
  // Sorted by name, like the results table, so each agent has one colour in both.
  const series = agents.map((name, i) => ({
    name,
    points: points.filter((p) => Array.isArray(p.net) && typeof p.net[i] === 'number').map((p) => [p.hands, p.net[i] / bb]),
  })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return h('section.panel', h('h2', 'Cumulative winnings'),
    lineChart(series, { xLabel: 'hands', yLabel: 'big blinds won' }));
}
