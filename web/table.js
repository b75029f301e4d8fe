// A table: play (join as a player, sit, act, chat) or watch (join as a
// spectator). The state is a snapshot folded forward with deltas
// (table-state.js); after a dropped connection the view joins again with
// last_seq and epoch and gets what it missed (or a fresh snapshot).

import { connection } from './connection.js';
import { h, fill, reconcile, card, chips, rankName, toast } from './cards.js';
import { identity, register, me as fetchMe, forgetIdentity } from './api.js';
import { TableState } from './table-state.js';

const RETRY_MS = 2000;
const KIND_LABEL = { bot: 'bot', llm: 'LLM' };

/** Mounts a table view; `mode` is `play` or `watch`. Returns its unmount function. */
export function mount(root, { id, mode }) {
  const who = identity();
  const asPlayer = mode === 'play' && !!who;
  const state = new TableState(id);
  let alive = true;
  let stopped = false; // the table is gone: no more joins
  let rejoinTimer = null;
  let renderQueued = false;
  let acting = false;
  let waitForSeq = 0; // after an act's ack: buttons stay off until this seq arrives
  let actionsKey = '';
  let balance = null;
  const feltNodes = new Map(); // id -> {key, node}: the felt's nodes by what they show

  // ---- skeleton ----
  const title = h('h1.table-title', { id: 'table-name' }, 'Table');
  const meta = h('div.table-meta.muted', { id: 'table-meta' });
  const headActions = h('div.head-actions', { id: 'head-actions' });
  const notice = h('div.notice', { id: 'table-notice', hidden: true });
  const felt = h('div.felt', { id: 'felt' });
  const pots = h('div.pots', { id: 'pots' });
  const board = h('div.board', { id: 'board' });
  const result = h('div.hand-result', { id: 'hand-result', hidden: true });
  const center = h('div.felt-center', pots, board, result);
  felt.append(center);
  const seatLayer = h('div.seat-layer');
  felt.append(seatLayer);
  const actionBar = h('div.action-bar', { id: 'action-bar' });
  const logList = h('ol.hand-log', { id: 'hand-log' });
  const chatList = h('ul.chat-lines', { id: 'chat-lines' });
  const chatInput = h('input', {
    id: 'chat-input', maxlength: 500, autocomplete: 'off',
    placeholder: asPlayer ? 'Say something…' : 'Press Play to chat', disabled: !asPlayer,
    'aria-label': 'chat message',
  });
  const chatForm = h('form.chat-form', { id: 'chat-form', onsubmit: sendChat },
    chatInput, h('button.secondary', { type: 'submit', disabled: !asPlayer }, 'Send'));
  const page = h('section.table-page', { id: 'table-root', dataset: { mode, table: id } },
    h('header.table-head', h('div.table-titles', title, meta), headActions),
    notice,
    h('div.table-layout',
      h('div.felt-area', h('div.felt-wrap', felt), actionBar),
      h('aside.table-side',
        h('section.panel.log-panel', h('h3', 'Hand log'), logList),
        h('section.panel.chat-panel', h('h3', 'Chat'), chatList, chatForm))));
  root.append(page);
  const dialog = sitDialog();
  root.append(dialog.el);

  if (mode === 'play' && !who) showNamePrompt();
  else if (mode === 'watch') {
    setNotice(h('span', 'You are watching: hole cards stay hidden until a showdown. ',
      h('a', { href: `#/table/${id}` }, 'Play at this table')), 'info');
  }

  // ---- protocol ----
  const offMessage = connection.onMessage((msg) => {
    if (!alive || msg.table !== id) return;
    switch (msg.type) {
      case 'snapshot':
        state.applySnapshot(msg);
        page.dataset.joined = 'true';
        queueRender();
        break;
      case 'event':
        if (state.applyEvent(msg)) {
          if (msg.event && msg.event.type === 'hand_ended') refreshBalance();
          queueRender();
        }
        break;
      case 'resumed':
        state.seq = Math.max(state.seq, msg.seq);
        state.epoch = msg.epoch;
        if (state.namesMissing) refreshNames();
        queueRender();
        break;
      case 'chat':
        state.addChat(msg);
        renderChat();
        break;
      case 'reasons':
        // Sent only once the hand is over (a reason may name hole cards).
        state.addReasons(msg);
        renderLog();
        break;
      case 'presence': {
        const info = state.info.get(msg.seat);
        if (info) info.connected = !!msg.connected;
        queueRender();
        break;
      }
      case 'error':
        // Unsolicited: the table's stream ended (it reloads on the next join).
        if (msg.id == null && msg.code === 'unavailable') scheduleRejoin(300);
        break;
      default:
        break;
    }
  });
  const offOpen = connection.onOpen(() => join());
  // Actions wait while the connection is down.
  const offState = connection.onState(() => renderActions(false));
  connection.ensure();
  if (connection.isOpen) join();

  async function join({ fresh = false } = {}) {
    if (!alive || stopped) return;
    clearTimeout(rejoinTimer);
    const msg = { type: 'join', table: id, as: asPlayer ? 'player' : 'spectator' };
    if (asPlayer) msg.token = who.token;
    if (state.hasSnapshot && !fresh) {
      msg.last_seq = state.seq;
      msg.epoch = state.epoch;
    }
    try {
      const ack = await connection.request(msg);
      if (!alive) return;
      state.you = typeof ack.seat === 'number' ? ack.seat : null;
      queueRender();
    } catch (e) {
      if (!alive) return;
      switch (e.code) {
        case 'table_not_found':
          stopped = true;
          setNotice(h('span', 'This table does not exist or has closed. ', h('a', { href: '#/' }, 'Back to the lobby')), 'error');
          page.dataset.joined = 'missing';
          break;
        case 'unauthorized':
          // The kept token is unknown here (a new database): pick a name again.
          toast('Your saved name is not known to this server; pick a name again.', 'error');
          forgetIdentity();
          break;
        case 'forbidden':
          connection.restart();
          break;
        case 'disconnected':
          break; // the next `hello` joins again
        default:
          setNotice(`Cannot join yet (${e.message}); retrying…`, 'error');
          scheduleRejoin(RETRY_MS);
      }
    }
  }

  function scheduleRejoin(ms) {
    clearTimeout(rejoinTimer);
    rejoinTimer = setTimeout(() => {
      if (connection.isOpen) join();
    }, ms);
  }

  /** Seats replayed from the store come without names: take them from the table's REST view. */
  async function refreshNames() {
    try {
      const response = await fetch(`/api/tables/${encodeURIComponent(id)}`, { cache: 'no-store' });
      if (!response.ok) return;
      const body = await response.json();
      const seats = body && body.snapshot && Array.isArray(body.snapshot.seats) ? body.snapshot.seats : [];
      for (const s of seats) state.info.set(s.seat, s);
      state.namesMissing = false;
      queueRender();
    } catch {
      // Names fall back to player ids until the next snapshot.
    }
  }

  async function refreshBalance() {
    if (!asPlayer) return;
    try {
      const account = await fetchMe();
      if (account) balance = account.balance;
    } catch {
      // Shown as unknown.
    }
    window.dispatchEvent(new Event('showdown:balance'));
  }
  refreshBalance();

  async function act(action, amount) {
    if (acting) return;
    acting = true;
    renderActions(true);
    const msg = { type: 'act', table: id, action };
    if (amount != null) msg.amount = amount;
    // Name the turn: a resend never lands on a later one (stale_turn).
    if (state.clock && state.clock.turn != null) msg.turn = state.clock.turn;
    try {
      const ack = await connection.request(msg);
      waitForSeq = ack.seq || 0;
    } catch (e) {
      if (alive) {
        toast(e.message, 'error');
        if (e.code === 'illegal_action' || e.code === 'not_your_turn' || e.code === 'stale_turn') join({ fresh: true });
      }
    } finally {
      acting = false;
      if (alive) renderActions(true);
    }
  }

  async function simple(type, okText) {
    try {
      const ack = await connection.request({ type, table: id });
      if (okText) toast(typeof okText === 'function' ? okText(ack) : okText, 'success');
      refreshBalance();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async function sendChat(e) {
    e.preventDefault();
    const text = chatInput.value.trim();
    if (!text) return;
    try {
      await connection.request({ type: 'chat', table: id, text });
      chatInput.value = '';
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // ---- rendering ----
  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      if (alive) render();
    });
  }

  function render() {
    if (!state.hasSnapshot) return;
    const v = state.view;
    page.dataset.you = state.you == null ? '' : String(state.you);
    page.dataset.hand = String(v.hand);
    page.dataset.inHand = String(!!v.hand_in_progress);
    title.textContent = state.name;
    document.title = `${state.name} · Showdown`;
    const seated = v.seats.filter(Boolean).length;
    fill(meta,
      h('span', `Blinds ${chips(v.config.small_blind)}/${chips(v.config.big_blind)}`),
      v.config.ante ? h('span', `Ante ${chips(v.config.ante)}`) : null,
      h('span', v.hand ? `Hand #${v.hand}` : 'No hand yet'),
      h('span', `${seated}/${v.config.seats} seated`),
      h('span', state.settings && state.settings.pace === 'auto' ? 'fast' : 'real time'),
      mode === 'watch' ? h('span.tag.watch-tag', 'spectator') : null,
    );
    renderHeadActions();
    renderFelt();
    renderActions(false);
    renderLog();
    renderChat();
  }

  function renderHeadActions() {
    const v = state.view;
    const mine = state.you != null ? v.seats[state.you] : null;
    const items = [];
    if (mode === 'play' && mine) {
      items.push(h('button.secondary.small', {
        type: 'button', id: 'sit-out-toggle',
        onclick: () => simple(mine.sitting_out ? 'sit_in' : 'sit_out', mine.sitting_out ? 'Back in from the next hand' : 'Sitting out from the next hand'),
      }, mine.sitting_out ? 'Sit in' : 'Sit out'));
      items.push(h('button.secondary.small', {
        type: 'button', id: 'stand-up',
        onclick: () => simple('stand', (ack) => (ack.after_hand ? 'You leave when this hand ends' : `You left with ${chips(ack.cashed_out)}`)),
      }, 'Stand up'));
    }
    if (mode === 'watch') items.push(h('a.button.small.primary', { href: `#/table/${id}` }, 'Play'));
    else items.push(h('a.button.small.secondary', { href: `#/watch/${id}` }, 'Watch only'));
    items.push(h('button.secondary.small', { type: 'button', onclick: copyLink, title: 'Copy a link anyone can use to watch' }, 'Share'));
    headActions.replaceChildren(...items);
  }

  function copyLink() {
    const link = `${location.origin}${location.pathname}#/watch/${id}`;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(() => toast('Watch link copied', 'success'), () => prompt('Watch link', link));
    } else {
      prompt('Watch link', link);
    }
  }

  function renderFelt() {
    const v = state.view;
    const n = v.config.seats;
    const anchor = state.you != null ? state.you : 0;
    const winners = new Map();
    if (state.result) {
      for (const p of state.result.pots) {
        for (const w of p.winners) winners.set(w.seat, (winners.get(w.seat) || 0) + w.amount);
      }
    }
    const lastActions = new Map();
    if (v.hand_in_progress) {
      for (const a of v.actions || []) if (a.street === v.street) lastActions.set(a.seat, a);
    }
    // Nodes are rebuilt only when what they show changed, so a button
    // under the pointer survives the events of a fast table.
    const nodes = [];
    const used = new Set();
    const keyed = (id, model, build) => {
      used.add(id);
      const key = JSON.stringify(model);
      const cached = feltNodes.get(id);
      if (cached && cached.key === key) return cached.node;
      const node = build(model);
      feltNodes.set(id, { key, node });
      return node;
    };
    for (let seat = 0; seat < n; seat += 1) {
      const position = (seat - anchor + n) % n;
      const angle = Math.PI / 2 + (position * 2 * Math.PI) / n;
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const place = { '--x': `${50 + 50 * cos}%`, '--y': `${50 + 50 * sin}%` };
      const s = v.seats[seat];
      if (!s) {
        const canSit = asPlayer && state.you == null && !stopped;
        nodes.push(keyed(`seat:${seat}`, { empty: true, seat, place, canSit }, (m) => h('div.seat.empty', { dataset: { seat: m.seat }, style: m.place },
          m.canSit
            ? h('button.sit', { type: 'button', dataset: { seat: m.seat }, onclick: () => dialog.open(m.seat) }, 'Sit here', h('small', `seat ${m.seat + 1}`))
            : h('div.seat-box.empty-box', h('span.muted', `Seat ${m.seat + 1}`), h('span.muted.small', 'open')))));
        continue;
      }
      const info = state.info.get(seat) || {};
      const isYou = seat === state.you;
      const toAct = v.hand_in_progress && v.to_act === seat;
      const live = v.hand_in_progress && s.in_hand && !s.folded;
      const shown = state.result && state.result.shown.get(seat);
      const classes = ['seat'];
      if (isYou) classes.push('me');
      if (toAct) classes.push('to-act');
      if (s.folded || (!s.in_hand && v.hand_in_progress)) classes.push('out');
      if (winners.has(seat)) classes.push('winner');
      if (s.sitting_out || info.connected === false) classes.push('away');
      const name = info.name || state.seatName(seat);
      const model = {
        seat,
        place,
        classes,
        hole: s.cards ? s.cards : live ? [null, null] : [],
        name: isYou ? `${name} (you)` : name,
        title: info.player_id || s.player,
        // Bots' names already say "bot"; LLM seats go by a label or personality, so say "LLM".
        kind: info.kind === 'llm' || (info.kind === 'bot' && !/\bbot\b/i.test(name)) ? KIND_LABEL[info.kind] : null,
        stack: s.stack,
        sb: v.hand_in_progress && seat === v.small_blind,
        bb: v.hand_in_progress && seat === v.big_blind,
        status: seatStatus(s, info, lastActions.get(seat), winners.get(seat), shown, toAct),
        toAct,
        clockKey: toAct && state.clock ? state.clock.receivedAt : null,
      };
      nodes.push(keyed(`seat:${seat}`, model, (m) => h(`div.${m.classes.join('.')}`, { dataset: { seat: m.seat }, style: m.place },
        h('div.hole', m.hole.map((c) => card(c))),
        h('div.seat-box',
          h('div.seat-name', { title: m.title }, h('span.name-text', m.name), m.kind ? h('span.kind', m.kind) : null),
          h('div.seat-stack', { dataset: { stack: m.stack } }, chips(m.stack),
            m.sb ? h('span.blind-tag', { title: 'small blind' }, 'SB') : null,
            m.bb ? h('span.blind-tag', { title: 'big blind' }, 'BB') : null),
          m.status ? h(`div.seat-status.${m.status.kind}`, m.status.text) : null,
          m.toAct ? h('div.clock', { title: 'turn clock' }, h('div.clock-fill')) : null))));
      if (seat === v.button) {
        // The dealer button sits on the felt, a little clockwise of the seat's bet.
        const a2 = angle - 0.32;
        const at = { '--x': `${50 + 34 * Math.cos(a2)}%`, '--y': `${50 + 30 * Math.sin(a2)}%` };
        nodes.push(keyed('dealer', { seat, at }, (m) => h('span.dealer', { title: 'button', dataset: { seat: m.seat }, style: m.at }, 'D')));
      }
      if (s.street_bet > 0 && v.hand_in_progress) {
        const at = { '--x': `${50 + 31 * cos}%`, '--y': `${50 + 27 * sin}%` };
        nodes.push(keyed(`bet:${seat}`, { seat, at, amount: s.street_bet }, (m) => h('div.bet', { dataset: { seat: m.seat }, style: m.at },
          h('span.chip-icon', { 'aria-hidden': 'true' }), chips(m.amount))));
      }
    }
    for (const id of [...feltNodes.keys()]) if (!used.has(id)) feltNodes.delete(id);
    reconcile(seatLayer, nodes);
    updateClocks();

    // Board: five slots, the dealt ones face up.
    const cards = v.board || [];
    board.dataset.hand = String(v.hand);
    board.dataset.cards = cards.join(' ');
    const slots = [];
    for (let i = 0; i < 5; i += 1) slots.push(cards[i] ? card(cards[i]) : h('span.card.slot'));
    board.replaceChildren(...slots);

    // Pots: gathered pots in the middle, plus the total with this street's bets.
    const list = state.pots();
    const total = state.totalPot();
    const potNodes = [];
    if (v.hand_in_progress && total > 0) {
      const gathered = list.reduce((sum, p) => sum + p.amount, 0);
      if (list.length) {
        potNodes.push(h('div.pot-list', { id: 'pot-list' }, list.map((p, i) =>
          h('span.pot', { title: `eligible: ${p.eligible.map((s) => state.seatName(s)).join(', ')}` },
            `${list.length === 1 ? 'Pot' : i === 0 ? 'Main pot' : `Side pot ${i}`} ${chips(p.amount)}`))));
        if (gathered !== total) potNodes.push(h('div.pot-total', { id: 'pot-total' }, `Total ${chips(total)}`));
      } else {
        potNodes.push(h('div.pot-list', h('span.pot', { id: 'pot-total' }, `Pot ${chips(total)}`)));
      }
    }
    pots.replaceChildren(...potNodes);

    // The last hand's result stays until the next hand starts.
    const r = state.result;
    if (r && r.pots.length && !v.hand_in_progress) {
      result.hidden = false;
      result.dataset.hand = String(r.hand);
      const lines = [];
      const totals = new Map();
      for (const p of r.pots) for (const w of p.winners) totals.set(w.seat, (totals.get(w.seat) || 0) + w.amount);
      const bestRank = new Map();
      for (const p of r.pots) for (const w of p.winners) if (typeof p.rank === 'number') bestRank.set(w.seat, Math.max(bestRank.get(w.seat) ?? -1, p.rank));
      for (const [seat, amount] of totals) {
        const shown = r.shown.get(seat);
        const rank = bestRank.has(seat) ? rankName(bestRank.get(seat)) : '';
        const who = seat === state.you ? 'You' : (state.info.get(seat)?.name || state.seatName(seat));
        lines.push(h('div.result-line', { dataset: { seat } },
          h('strong', who), ` ${seat === state.you ? 'win' : 'wins'} ${chips(amount)}`,
          rank ? h('span.muted', ` · ${rank}`) : null,
          shown ? h('span.mini-cards', shown.cards.map((c) => card(c, '.mini'))) : null));
      }
      if (r.pots.length > 1) {
        const byPot = [...r.pots].sort((x, y) => x.pot - y.pot);
        lines.push(h('div.result-pots.muted.small', byPot.map((p) => `${p.pot === 0 ? 'main pot' : `side pot ${p.pot}`} ${chips(p.amount)}`).join(' · ')));
      }
      result.replaceChildren(h('div.result-title', `Hand #${r.hand}`), ...lines);
    } else {
      result.hidden = true;
      result.replaceChildren();
      delete result.dataset.hand;
    }
  }

  function seatStatus(s, info, last, won, shown, toAct) {
    if (won) return { kind: 'won', text: `won ${chips(won)}` };
    // An LLM seat on its turn is waiting for its model.
    if (toAct && info.kind === 'llm') return { kind: 'thinking', text: 'thinking…' };
    if (shown && typeof shown.rank === 'number') return { kind: 'shown', text: rankName(shown.rank) };
    if (s.sitting_out) return { kind: 'away', text: 'sitting out' };
    if (info.connected === false) return { kind: 'away', text: 'disconnected' };
    if (s.all_in && s.in_hand) return { kind: 'allin', text: 'all-in' };
    if (s.folded) return { kind: 'folded', text: 'folded' };
    if (last && last.action) {
      const a = last.action;
      const text = a.action === 'bet' ? `bet ${chips(a.to)}` : a.action === 'raise' ? `raised to ${chips(a.to)}` : a.action === 'call' ? `called ${chips(last.amount)}` : a.action;
      return { kind: 'acted', text };
    }
    return null;
  }

  /** Turn-clock bars and the "your turn" countdown, updated ten times a second. */
  function updateClocks() {
    const c = state.clock;
    const v = state.view;
    if (!c || !v || !v.hand_in_progress || v.to_act !== c.seat) return;
    const elapsed = performance.now() - c.receivedAt;
    const mainLeft = c.remaining_ms - elapsed;
    const turn = (state.settings && state.settings.turn_clock_ms) || c.remaining_ms || 1;
    let fraction;
    let label;
    let bank = false;
    if (mainLeft > 0) {
      fraction = mainLeft / turn;
      label = `${Math.ceil(mainLeft / 1000)}s`;
    } else {
      const bankLeft = Math.max(0, (c.time_bank_ms || 0) + mainLeft);
      fraction = c.time_bank_ms ? bankLeft / c.time_bank_ms : 0;
      label = c.time_bank_ms ? `time bank ${Math.ceil(bankLeft / 1000)}s` : '0s';
      bank = true;
    }
    fraction = Math.max(0, Math.min(1, fraction));
    const fill = seatLayer.querySelector(`.seat[data-seat="${c.seat}"] .clock-fill`);
    if (fill) {
      fill.style.width = `${(fraction * 100).toFixed(1)}%`;
      fill.classList.toggle('bank', bank);
      fill.classList.toggle('low', !bank && fraction < 0.25);
    }
    const mine = document.getElementById('my-clock');
    if (mine && c.seat === state.you) {
      mine.textContent = label;
      mine.classList.toggle('bank', bank);
    }
  }
  const clockTimer = setInterval(updateClocks, 100);

  function renderActions(force) {
    const v = state.view;
    if (!v) return;
    const legal = state.legal();
    const myTurn = v.hand_in_progress && state.you != null && v.to_act === state.you;
    const offline = !connection.isOpen;
    const waiting = acting || state.seq < waitForSeq || offline;
    const key = JSON.stringify([mode, state.you, v.hand, v.street, v.to_act, legal, waiting, offline, !!v.seats[state.you ?? -1]]);
    if (!force && key === actionsKey) return;
    actionsKey = key;
    actionBar.dataset.turn = String(myTurn);
    if (mode === 'watch' || !asPlayer) {
      actionBar.hidden = true;
      actionBar.replaceChildren();
      return;
    }
    actionBar.hidden = false;
    const mine = state.you != null ? v.seats[state.you] : null;
    if (!mine) {
      actionBar.replaceChildren(h('div.action-wait', 'Pick an open seat to sit down.'));
      return;
    }
    if (!myTurn) {
      let text = 'Waiting for the next hand…';
      if (v.hand_in_progress) {
        if (!mine.in_hand) text = 'You are not in this hand.';
        else if (mine.folded) text = 'You folded. Next hand soon.';
        else if (v.to_act != null) text = `Waiting for ${state.seatName(v.to_act)}…`;
        else text = 'Dealing…';
      } else if (mine.sitting_out) {
        text = 'You are sitting out. Press "Sit in" to play the next hand.';
      }
      actionBar.replaceChildren(h('div.action-wait', text), hint());
      return;
    }
    const disabled = waiting;
    const buttons = [];
    if (legal.fold) buttons.push(actButton('fold', 'Fold', 'F', disabled, () => act('fold')));
    if (legal.check) buttons.push(actButton('check', 'Check', 'C', disabled, () => act('check')));
    if (legal.call != null) {
      const call = actButton('call', `Call ${chips(legal.call)}`, 'C', disabled, () => act('call'));
      call.dataset.amount = String(legal.call);
      buttons.push(call);
    }
    const range = legal.bet || legal.raise;
    const kind = legal.bet ? 'bet' : 'raise';
    let sizing = null;
    if (range) {
      const sizes = quickSizes(kind, range);
      let amount = range.min;
      const slider = h('input', { type: 'range', id: 'bet-slider', min: range.min, max: range.max, step: 1, value: amount, 'aria-label': `${kind} to`, disabled: range.min === range.max || disabled });
      const input = h('input', { type: 'number', id: 'bet-amount', min: range.min, max: range.max, step: 1, value: amount, inputmode: 'numeric', 'aria-label': `${kind} amount`, disabled });
      const go = actButton(kind, '', 'R', disabled, () => act(kind, clamp(Number(input.value))));
      const label = () => {
        const allIn = amount === range.max;
        go.querySelector('.label').textContent = `${kind === 'bet' ? 'Bet' : 'Raise to'} ${chips(amount)}${allIn ? ' (all-in)' : ''}`;
      };
      const clamp = (x) => Math.min(range.max, Math.max(range.min, Number.isFinite(x) ? Math.round(x) : range.min));
      const set = (x, from) => {
        amount = clamp(x);
        if (from !== slider) slider.value = String(amount);
        if (from !== input) input.value = String(amount);
        label();
      };
      slider.addEventListener('input', () => set(Number(slider.value), slider));
      input.addEventListener('input', () => {
        const x = Number(input.value);
        if (Number.isFinite(x) && x >= range.min && x <= range.max) set(x, input);
      });
      input.addEventListener('change', () => set(Number(input.value)));
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          set(Number(input.value));
          act(kind, amount);
        }
      });
      label();
      buttons.push(go);
      sizing = h('div.sizing',
        h('div.quick', sizes.map(([text, to]) => h('button.secondary.small', {
          type: 'button', disabled, dataset: { size: text }, onclick: () => set(to),
        }, text))),
        h('div.amount', slider, input));
    }
    fill(actionBar,
      h('div.turn-line', h('strong', 'Your turn'), h('span.my-clock', { id: 'my-clock' }, ''),
        offline ? h('span.muted', 'reconnecting…') : null),
      h('div.buttons', buttons),
      sizing,
      hint());
    updateClocks();
  }

  function actButton(action, text, key, disabled, onclick) {
    return h(`button.act.act-${action}`, { type: 'button', dataset: { action }, disabled, onclick, title: `${text || action} (${key})` },
      h('span.label', text), h('kbd', key));
  }

  function hint() {
    return h('div.key-hint.muted.small', 'Keys: F fold · C check/call · R bet/raise (Enter sends)');
  }

  /** ½ pot, pot and all-in as "to" amounts within the legal range. */
  function quickSizes(kind, range) {
    const v = state.view;
    const mine = v.seats[state.you];
    const pot = state.totalPot();
    const toCall = Math.max(0, v.current_bet - mine.street_bet);
    const clamp = (x) => Math.min(range.max, Math.max(range.min, Math.round(x)));
    const potTo = (fraction) => (kind === 'bet'
      ? mine.street_bet + fraction * pot
      : v.current_bet + fraction * (pot + toCall));
    return [['½ pot', clamp(potTo(0.5))], ['Pot', clamp(potTo(1))], ['All-in', range.max]];
  }

  function renderLog() {
    const stick = logList.scrollTop + logList.clientHeight >= logList.scrollHeight - 8;
    logList.replaceChildren(...state.log.map((l) => h(`li.log-${l.kind}`, l.text)));
    if (stick) logList.scrollTop = logList.scrollHeight;
  }

  function renderChat() {
    const stick = chatList.scrollTop + chatList.clientHeight >= chatList.scrollHeight - 8;
    if (!state.chat.length) {
      chatList.replaceChildren(h('li.muted.small', 'No messages yet.'));
      return;
    }
    chatList.replaceChildren(...state.chat.map((c) => h(`li${c.player_id ? '' : '.ai'}`,
      h('span.from', c.from || '?'), ' ', h('span.text', c.text))));
    if (stick) chatList.scrollTop = chatList.scrollHeight;
  }

  function setNotice(content, kind) {
    notice.hidden = false;
    notice.className = `notice ${kind}`;
    notice.replaceChildren(content);
  }

  function showNamePrompt() {
    const input = h('input', { id: 'table-name-input', maxlength: 32, placeholder: 'your name', 'aria-label': 'display name' });
    const form = h('form.inline-form', {
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await register(input.value.trim());
        } catch (err) {
          toast(err.message, 'error');
        }
      },
    }, h('span', 'Pick a display name to sit down: '), input, h('button.primary.small', { type: 'submit' }, 'Continue'));
    setNotice(form, 'info');
  }

  // ---- sit dialog ----
  function sitDialog() {
    const amount = h('input', { type: 'number', id: 'buyin-input', step: 1, required: true, inputmode: 'numeric' });
    const range = h('p.muted.small');
    const error = h('p.error-text', { role: 'alert' });
    const heading = h('h2', 'Sit down');
    let seat = null;
    const el = h('dialog.sit-dialog', { id: 'sit-dialog' },
      h('form', {
        method: 'dialog',
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          try {
            const ack = await connection.request({ type: 'sit', table: id, seat, buy_in: Number(amount.value) });
            state.you = ack.seat;
            el.close();
            toast(`You sit in seat ${ack.seat + 1} with ${chips(ack.stack)}`, 'success');
            refreshBalance();
            queueRender();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      heading,
      h('label.field', h('span', 'Buy-in'), amount),
      range,
      error,
      h('div.dialog-buttons',
        h('button.secondary', { type: 'button', onclick: () => el.close() }, 'Cancel'),
        h('button.primary', { type: 'submit', id: 'sit-confirm' }, 'Sit down'))));
    return {
      el,
      open(s) {
        seat = s;
        const min = state.settings ? state.settings.min_buy_in : 1;
        const max = state.settings ? state.settings.max_buy_in : 1;
        const affordable = balance == null ? max : Math.min(max, balance);
        amount.min = String(min);
        amount.max = String(max);
        amount.value = String(Math.max(min, affordable));
        heading.textContent = `Sit in seat ${s + 1}`;
        range.textContent = `Between ${chips(min)} and ${chips(max)}${balance == null ? '' : `; your balance is ${chips(balance)}`}.`;
        error.textContent = '';
        el.showModal();
        amount.focus();
        amount.select();
      },
    };
  }

  // ---- keyboard ----
  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const t = e.target;
    const typing = t && ((t.tagName === 'INPUT' && t.type !== 'range') || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (typing || dialog.el.open) return;
    const legal = state.legal();
    const key = e.key.toLowerCase();
    const waiting = acting || state.seq < waitForSeq || !connection.isOpen;
    if (waiting) return;
    if (key === 'f' && legal.fold) act('fold');
    else if (key === 'c' && legal.call != null) act('call');
    else if ((key === 'c' || key === 'k') && legal.check) act('check');
    else if ((key === 'r' || key === 'b') && (legal.bet || legal.raise)) {
      const input = document.getElementById('bet-amount');
      if (input) {
        input.focus();
        input.select();
      }
    } else return;
    e.preventDefault();
  }
  document.addEventListener('keydown', onKey);

  return () => {
    alive = false;
    clearTimeout(rejoinTimer);
    clearInterval(clockTimer);
    offMessage();
    offOpen();
    offState();
    document.removeEventListener('keydown', onKey);
    if (dialog.el.open) dialog.el.close();
    if (connection.isOpen) connection.send({ type: 'leave', table: id });
    document.title = 'Showdown';
  };
}
