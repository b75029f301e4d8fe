// The lobby: your name, the tables (blinds, seats taken, pace, spectators)
// with Play and Watch, and a form to create a table with AI opponents.
// `GET /api/tables` answers one page at a time: the lobby shows the first
// page and a "More tables" button while the server says more follow.

import { h, chips, toast } from './cards.js';
import { identity, register, get, post } from './api.js';

const POLL_MS = 3000;

/** Tables per `GET /api/tables` page (the server's default; at most 500). */
const PAGE_SIZE = 100;

const BOT_DESCRIPTIONS = {
  'tight-aggressive': 'plays few hands, bets them hard',
  'calling-station': 'calls almost anything',
  random: 'does anything legal',
};

const DEFAULT_OPPONENTS = ['bot:tight-aggressive', 'bot:calling-station', 'bot:random'];

const BLINDS = [[1, 2], [5, 10], [25, 50], [100, 200]];

/**
 * The first `pages` pages of the lobby, following each page's `next`:
 * `{tables, more}`, `more` when the server has tables beyond them.
 */
async function loadTables(pages) {
  const tables = [];
  let after = null;
  for (let i = 0; i < pages; i += 1) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (after) query.set('after', after);
    const page = await get(`/api/tables?${query}`);
    if (page && Array.isArray(page.tables)) tables.push(...page.tables);
    // An older server without paging sends everything and no `next`.
    after = page && typeof page.next === 'string' && page.next ? page.next : null;
    if (!after) break;
  }
  return { tables, more: after != null };
}

/** Mounts the lobby into `root`; returns its unmount function. */
export function mount(root) {
  let alive = true;
  let timer = null;
  // Pages shown; "More tables" adds one. Every refresh reloads them all.
  let pages = 1;
  // Only the latest refresh renders (a click may start one while another runs).
  let generation = 0;
  const tablesBody = h('tbody', h('tr', h('td.muted', { colspan: 7 }, 'Loading tables…')));
  const more = h('button.secondary.small', {
    type: 'button',
    id: 'lobby-more',
    hidden: true,
    onclick: () => {
      pages += 1;
      more.disabled = true;
      more.textContent = 'Loading…';
      refresh();
    },
  }, 'More tables');
  const tablesPanel = h('section.panel.tables-panel',
    h('div.panel-head', h('h2', 'Tables'), h('span.muted.small', { id: 'tables-updated' }, '')),
    h('div.table-scroll', h('table.lobby-table', { id: 'lobby-tables' },
      h('thead', h('tr',
        h('th', 'Table'), h('th', 'Blinds'), h('th', 'Seats'), h('th.hide-narrow', 'Pace'),
        h('th.hide-narrow', { title: 'spectators' }, 'Watching'), h('th.hide-narrow', 'Hand'), h('th', ''))),
      tablesBody)),
    h('div.lobby-more', more));
  const side = h('div.lobby-side');
  root.append(h('div.lobby',
    h('section.intro',
      h('h1', 'No-Limit Hold\'em, live'),
      h('p.muted', 'Play against heuristic bots, LLM players and people, or watch any table. ' +
        'Every table is a live room: open one, pull up a chair, or just watch.')),
    h('div.lobby-grid', tablesPanel, side)));

  renderSide(side);

  async function refresh() {
    clearTimeout(timer);
    generation += 1;
    const mine = generation;
    try {
      const { tables, more: hasMore } = await loadTables(pages);
      if (!alive || mine !== generation) return;
      renderTables(tablesBody, tables);
      more.hidden = !hasMore;
      more.disabled = false;
      more.textContent = 'More tables';
      const stamp = document.getElementById('tables-updated');
      if (stamp) stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (!alive || mine !== generation) return;
      tablesBody.replaceChildren(h('tr', h('td.error-text', { colspan: 7 }, `Cannot load tables: ${e.message}`)));
      more.disabled = false;
      more.textContent = 'More tables';
    }
    if (alive && mine === generation) timer = setTimeout(refresh, document.hidden ? POLL_MS * 3 : POLL_MS);
  }
  refresh();

  return () => {
    alive = false;
    generation += 1;
    clearTimeout(timer);
  };
}

function renderTables(body, tables) {
  if (!tables.length) {
    body.replaceChildren(h('tr', h('td.empty-cell', { colspan: 7 }, 'No tables yet. Create one to start playing.')));
    return;
  }
  const me = identity();
  body.replaceChildren(...tables.map((t) => {
    const seated = typeof t.seated === 'number' ? t.seated : null;
    const full = seated != null && seated >= t.seats;
    return h('tr', { dataset: { tableId: t.id } },
      h('td', h('a.table-name', { href: `#/watch/${t.id}` }, t.name),
        t.live ? null : h('span.tag', { title: 'stored, not in memory: it loads when opened' }, 'idle')),
      h('td.num', `${chips(t.small_blind)}/${chips(t.big_blind)}`, t.ante ? h('span.muted', ` ante ${chips(t.ante)}`) : null),
      h('td.num', seated == null ? `? / ${t.seats}` : `${seated} / ${t.seats}`,
        t.humans ? h('span.muted.small.hide-narrow', ` (${t.humans} ${t.humans === 1 ? 'person' : 'people'})`) : null),
      h('td.hide-narrow', t.pace === 'auto' ? 'fast' : 'real time'),
      h('td.num.hide-narrow', chips(t.spectators ?? 0)),
      h('td.num.hide-narrow', t.hand ? `#${t.hand}` : '—'),
      h('td.actions',
        h('a.button.small', {
          href: `#/table/${t.id}`,
          class: full || !me ? 'secondary' : 'primary',
          title: me ? 'Open the table to sit down and play' : 'Pick a name first',
          dataset: { action: 'play' },
        }, 'Play'),
        h('a.button.small.secondary', { href: `#/watch/${t.id}`, dataset: { action: 'watch' } }, 'Watch')));
  }));
}

function renderSide(side) {
  const me = identity();
  if (!me) {
    side.replaceChildren(nameCard());
    return;
  }
  side.replaceChildren(createCard());
}

/** "Pick a display name": registers once and keeps the token in this browser. */
function nameCard() {
  const input = h('input', {
    id: 'name-input', name: 'name', maxlength: 32, required: true, autocomplete: 'nickname',
    placeholder: 'e.g. Alice', 'aria-label': 'display name',
  });
  const error = h('p.error-text', { role: 'alert' });
  const button = h('button.primary', { type: 'submit', id: 'name-submit' }, 'Continue');
  const form = h('form.panel.name-card', {
    onsubmit: async (e) => {
      e.preventDefault();
      const name = input.value.trim();
      if (!name) {
        error.textContent = 'Type a name first.';
        return;
      }
      button.disabled = true;
      error.textContent = '';
      try {
        const player = await register(name);
        toast(`Welcome, ${player.name}: you have ${chips(player.balance)} chips.`, 'success');
      } catch (err) {
        error.textContent = err.message;
        button.disabled = false;
      }
    },
  },
  h('h2', 'Pick a display name'),
  h('p.muted', 'You need one to play and chat; it stays on this browser. Watching needs none.'),
  h('div.row', input, button),
  error);
  return form;
}

/** The create-table form: seats, blinds, pace, clock, and who sits in the other seats. */
function createCard() {
  let agents = { bots: DEFAULT_OPPONENTS.map((a) => ({ agent: a, name: a.slice(4) })), llm: { enabled: false, models: [] } };
  const seats = h('select', { id: 'create-seats', name: 'seats' },
    [2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => h('option', { value: n, selected: n === 6 }, `${n} seats`)));
  const blinds = h('select', { id: 'create-blinds', name: 'blinds' },
    BLINDS.map(([sb, bb], i) => h('option', { value: i, selected: bb === 10 }, `${sb}/${bb}`)));
  const pace = h('select', { id: 'create-pace', name: 'pace' },
    h('option', { value: 'realtime', selected: true }, 'Real time'),
    h('option', { value: 'auto' }, 'Fast (no pauses)'));
  const clock = h('select', { id: 'create-clock', name: 'clock' },
    [10, 20, 30, 60].map((s) => h('option', { value: s * 1000, selected: s === 20 }, `${s}s`)));
  const name = h('input', { id: 'create-name', name: 'name', maxlength: 64, placeholder: 'optional' });
  const opponents = h('div.opponents', { id: 'create-opponents' });
  const llmNote = h('p.muted.small', { id: 'llm-note' });
  const error = h('p.error-text', { role: 'alert' });
  const submit = h('button.primary', { type: 'submit', id: 'create-submit' }, 'Create table');

  function agentOptions(selected) {
    const options = [h('option', { value: '', selected: !selected }, 'Open seat (people)')];
    options.push(h('optgroup', { label: 'Bots' }, agents.bots.map((b) =>
      h('option', { value: b.agent, selected: b.agent === selected },
        `${b.name} bot${BOT_DESCRIPTIONS[b.name] ? ` — ${BOT_DESCRIPTIONS[b.name]}` : ''}`))));
    if (agents.llm.enabled && agents.llm.models.length) {
      options.push(h('optgroup', { label: 'LLM players' }, agents.llm.models.map((m) =>
        h('option', { value: m.agent, selected: m.agent === selected }, `${m.provider}/${m.model}`))));
    }
    return options;
  }

  function renderOpponents() {
    const current = [...opponents.querySelectorAll('select')].map((s) => s.value);
    const personalities = [...opponents.querySelectorAll('input.personality')].map((i) => i.value);
    const n = Number(seats.value);
    const rows = [];
    for (let seat = 1; seat < n; seat += 1) {
      const previous = current[seat - 1];
      const chosen = previous !== undefined ? previous : (DEFAULT_OPPONENTS[seat - 1] || '');
      const select = h('select', { name: `seat-${seat}`, dataset: { seat }, 'aria-label': `seat ${seat + 1}` }, agentOptions(chosen));
      // An LLM player may be given a personality (the spec's ?personality=).
      const personality = h('input.personality', {
        name: `personality-${seat}`, maxlength: 200, placeholder: 'personality (optional), e.g. cautious grinder',
        value: personalities[seat - 1] || '', 'aria-label': `seat ${seat + 1} personality`,
      });
      const showPersonality = () => { personality.hidden = !select.value.startsWith('llm:'); };
      select.addEventListener('change', showPersonality);
      showPersonality();
      rows.push(h('div.opponent',
        h('label.seat-label', { for: `opponent-${seat}` }, `Seat ${seat + 1}`),
        select,
        personality));
      select.id = `opponent-${seat}`;
    }
    opponents.replaceChildren(h('p.small.muted', 'Seat 1 is kept for you.'), ...rows);
    llmNote.textContent = agents.llm.enabled
      ? (agents.llm.models.length ? 'LLM players play through the server\'s LLM executor.' : 'The server\'s LLM config lists no models.')
      : 'LLM players: not available (the server runs without an LLM config).';
  }

  seats.addEventListener('change', renderOpponents);
  renderOpponents();
  get('/api/agents').then((list) => {
    if (list && Array.isArray(list.bots)) {
      agents = { bots: list.bots, llm: list.llm && typeof list.llm === 'object' ? list.llm : { enabled: false, models: [] } };
      if (!Array.isArray(agents.llm.models)) agents.llm.models = [];
      renderOpponents();
    }
  }).catch(() => {
    // An older server without /api/agents: the built-in bots are offered.
  });

  return h('form.panel.create-card', {
    id: 'create-table',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      const [sb, bb] = BLINDS[Number(blinds.value)] || BLINDS[1];
      const aiSeats = [...opponents.querySelectorAll('select')]
        .filter((s) => s.value)
        .map((s) => {
          const personality = opponents.querySelector(`input[name="personality-${s.dataset.seat}"]`);
          const text = personality && !personality.hidden ? personality.value.trim() : '';
          const agent = text ? `${s.value}?personality=${encodeURIComponent(text)}` : s.value;
          return { seat: Number(s.dataset.seat), agent };
        });
      const body = {
        seats: Number(seats.value),
        small_blind: sb,
        big_blind: bb,
        pace: pace.value,
        turn_clock_ms: Number(clock.value),
        ai_seats: aiSeats,
      };
      if (name.value.trim()) body.name = name.value.trim();
      submit.disabled = true;
      try {
        const table = await post('/api/tables', body, { auth: true });
        location.hash = `#/table/${table.id}`;
      } catch (err) {
        error.textContent = err.message;
        submit.disabled = false;
      }
    },
  },
  h('h2', 'New table'),
  h('div.form-grid',
    h('label', h('span', 'Name'), name),
    h('label', h('span', 'Seats'), seats),
    h('label', h('span', 'Blinds'), blinds),
    h('label', h('span', 'Pace'), pace),
    h('label', h('span', 'Turn clock'), clock)),
  h('h3', 'Opponents'),
  opponents,
  llmNote,
  error,
  submit);
}
