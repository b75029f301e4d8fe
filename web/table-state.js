// One table as this client sees it: a snapshot (docs/protocol.md §4.3)
// folded forward with event deltas (§5), plus what the screen needs that
// the wire does not carry: names by seat, the hand log, the hand result,
// the pots, and the legal actions of your seat between snapshots.
//
// The legal actions follow game-core's rule (rules/betting.rs): the
// server still checks every action, and a refused one makes the view ask
// for a fresh snapshot.

import { cardText, chips, rankName } from './cards.js';

const LOG_LINES = 80;
const CHAT_LINES = 100;

const EMPTY_LEGAL = Object.freeze({ fold: false, check: false, call: null, bet: null, raise: null });

export class TableState {
  constructor(id) {
    this.id = id;
    this.name = '';
    this.hasSnapshot = false;
    this.seq = 0;
    this.epoch = null;
    this.you = null;
    this.view = null;
    this.info = new Map(); // seat -> {seat, player_id, name, kind, connected, time_bank_ms}
    this.settings = null;
    this.clock = null;
    this.spectators = 0;
    this.chat = [];
    this.log = [];
    this.result = null; // the last hand's result, kept until the next hand starts
    this.snapshotLegal = null;
    this.acted = new Set();
    this.faced = new Map();
    this.namesMissing = false;
  }

  /** Replaces everything with a snapshot. */
  applySnapshot(msg) {
    const first = !this.hasSnapshot;
    this.hasSnapshot = true;
    this.name = msg.name || this.id;
    this.seq = msg.seq;
    this.epoch = msg.epoch;
    this.you = typeof msg.you === 'number' ? msg.you : null;
    this.view = msg.view;
    this.settings = msg.settings || null;
    this.spectators = msg.spectators || 0;
    this.info = new Map((msg.seats || []).map((s) => [s.seat, s]));
    this.namesMissing = false;
    this.clock = msg.clock ? { ...msg.clock, receivedAt: performance.now() } : null;
    this.chat = Array.isArray(msg.chat) ? msg.chat.slice(-CHAT_LINES) : [];
    const v = this.view;
    this.snapshotLegal = v.legal && this.you != null && v.to_act === this.you ? v.legal : null;
    this.rebuildBetting();
    if (first) {
      this.log = [];
      this.addLog(v.hand_in_progress ? `Joined during hand #${v.hand}` : 'Joined the table', 'info');
      if (v.hand_in_progress) {
        for (const a of v.actions || []) this.addLog(this.describeAction(a.seat, a.action, a.amount, a.all_in, false), 'action');
      }
    } else {
      this.addLog('Table state refreshed', 'info');
    }
    if (!v.hand_in_progress && this.result && this.result.hand !== v.hand) this.result = null;
  }

  /** `acted` and `faced` of this street, from the hand's actions (after a snapshot). */
  rebuildBetting() {
    this.acted = new Set();
    this.faced = new Map();
    const v = this.view;
    if (!v || !v.hand_in_progress) return;
    const bb = v.config.big_blind;
    let current = v.street === 'preflop' ? bb : 0;
    let minRaise = bb;
    for (const a of v.actions || []) {
      if (a.street !== v.street) continue;
      this.trackAction(a.seat, a.action, () => current, (c, m) => {
        current = c;
        minRaise = m;
      }, () => minRaise);
    }
  }

  /** Applies game-core's bookkeeping for one decision to `acted`/`faced`. */
  trackAction(seat, action, getCurrent, setLevels, getMinRaise) {
    const kind = action && action.action;
    if ((kind === 'bet' || kind === 'raise') && typeof action.to === 'number') {
      const current = getCurrent();
      if (action.to > current) {
        const increment = action.to - current;
        if (increment >= getMinRaise()) {
          setLevels(action.to, increment);
          this.acted.clear();
        } else {
          setLevels(action.to, getMinRaise());
        }
      }
    }
    if (kind !== 'fold') this.faced.set(seat, getCurrent());
    this.acted.add(seat);
  }

  /** Applies one `event` message; returns false when it was old (already applied). */
  applyEvent(msg) {
    if (!this.hasSnapshot || typeof msg.seq !== 'number' || msg.seq <= this.seq) return false;
    this.seq = msg.seq;
    this.snapshotLegal = null;
    const e = msg.event || {};
    const v = this.view;
    const seat = typeof e.seat === 'number' ? v.seats[e.seat] : null;
    const name = (s) => this.seatName(s);
    switch (e.type) {
      case 'seat_taken': {
        v.seats[e.seat] = {
          seat: e.seat, player: e.player, stack: e.stack, sitting_out: false, in_hand: false,
          folded: false, all_in: false, street_bet: 0, committed: 0, cards: null,
        };
        if (msg.player) this.info.set(e.seat, msg.player);
        else {
          this.info.set(e.seat, { seat: e.seat, player_id: e.player, name: null, kind: guessKind(e.player), connected: true });
          this.namesMissing = true;
        }
        this.addLog(`${name(e.seat)} sit${e.seat === this.you ? '' : 's'} down with ${chips(e.stack)}`, 'info');
        break;
      }
      case 'seat_left':
        this.addLog(`${name(e.seat)} leaves with ${chips(e.stack)}`, 'info');
        v.seats[e.seat] = null;
        this.info.delete(e.seat);
        if (this.you === e.seat) this.you = null;
        break;
      case 'sat_out':
        if (seat) seat.sitting_out = true;
        this.addLog(`${name(e.seat)} sits out`, 'info');
        break;
      case 'sat_in':
        if (seat) seat.sitting_out = false;
        this.addLog(`${name(e.seat)} is back`, 'info');
        break;
      case 'chips_added':
        if (seat) seat.stack = e.stack;
        this.addLog(`${name(e.seat)} adds ${chips(e.amount)}`, 'info');
        break;
      case 'hand_started': {
        const dealt = new Map((e.players || []).map((p) => [p.seat, p.stack]));
        v.hand = e.hand;
        v.hand_in_progress = true;
        v.button = e.button;
        v.small_blind = e.small_blind;
        v.big_blind = e.big_blind;
        v.street = 'preflop';
        v.board = [];
        v.to_act = null;
        v.current_bet = v.config.big_blind;
        v.min_raise = v.config.big_blind;
        v.actions = [];
        for (const s of v.seats) {
          if (!s) continue;
          s.in_hand = dealt.has(s.seat);
          if (s.in_hand) s.stack = dealt.get(s.seat);
          s.folded = false;
          s.all_in = false;
          s.street_bet = 0;
          s.committed = 0;
          s.cards = null;
        }
        this.acted = new Set();
        this.faced = new Map();
        this.clock = null;
        this.result = null;
        this.addLog(`Hand #${e.hand} · button: ${name(e.button)}`, 'hand');
        break;
      }
      case 'ante_posted':
        if (seat) this.putIn(seat, e.amount, false);
        break;
      case 'blind_posted':
        if (seat) this.putIn(seat, e.amount, true);
        this.addLog(`${name(e.seat)} post${e.seat === this.you ? '' : 's'} the ${e.blind} blind ${chips(e.amount)}`, 'action');
        break;
      case 'hole_cards_dealt':
        if (seat) seat.cards = e.cards;
        if (e.seat === this.you) this.addLog(`You get ${(e.cards || []).map(cardText).join(' ')}`, 'you');
        break;
      case 'turn_started':
        v.to_act = e.seat;
        this.clock = msg.clock ? { ...msg.clock, receivedAt: performance.now() } : null;
        break;
      case 'action_taken': {
        if (seat) {
          this.putIn(seat, e.amount, true);
          seat.stack = e.stack;
          seat.all_in = !!e.all_in;
          if (e.action && e.action.action === 'fold') seat.folded = true;
        }
        this.trackAction(e.seat, e.action, () => v.current_bet, (c, m) => {
          v.current_bet = c;
          v.min_raise = m;
        }, () => v.min_raise);
        v.actions.push({ street: v.street, seat: e.seat, action: e.action, amount: e.amount, all_in: e.all_in });
        v.to_act = null;
        this.clock = null;
        this.addLog(this.describeAction(e.seat, e.action, e.amount, e.all_in, e.timed_out), 'action');
        break;
      }
      case 'board_dealt':
        v.street = e.street;
        v.board = [...(v.board || []), ...(e.cards || [])];
        v.current_bet = 0;
        v.min_raise = v.config.big_blind;
        v.to_act = null;
        for (const s of v.seats) if (s) s.street_bet = 0;
        this.acted = new Set();
        this.faced = new Map();
        this.addLog(`${capitalize(e.street)}: ${v.board.map(cardText).join(' ')}`, 'board');
        break;
      case 'uncalled_bet_returned':
        if (seat) {
          seat.stack += e.amount;
          seat.street_bet = Math.max(0, seat.street_bet - e.amount);
          seat.committed = Math.max(0, seat.committed - e.amount);
          seat.all_in = seat.stack === 0;
        }
        this.addLog(`${chips(e.amount)} returned to ${name(e.seat)}`, 'info');
        break;
      case 'hand_shown':
        if (seat) seat.cards = e.cards;
        this.ensureResult().shown.set(e.seat, { cards: e.cards, rank: e.rank });
        this.addLog(`${name(e.seat)} show${e.seat === this.you ? '' : 's'} ${(e.cards || []).map(cardText).join(' ')} (${rankName(e.rank)})`, 'show');
        break;
      case 'hand_mucked':
        this.ensureResult().mucked.add(e.seat);
        this.addLog(`${name(e.seat)} muck${e.seat === this.you ? '' : 's'}`, 'info');
        break;
      case 'pot_awarded': {
        const result = this.ensureResult();
        result.pots.push({ pot: e.pot, amount: e.amount, winners: e.winners || [], rank: e.rank });
        for (const w of e.winners || []) {
          const s = v.seats[w.seat];
          if (s) s.stack += w.amount;
          this.addLog(`${name(w.seat)} win${w.seat === this.you ? '' : 's'} ${chips(w.amount)}${e.pot > 0 ? ` from side pot ${e.pot}` : ''}${typeof e.rank === 'number' ? ` with ${rankName(e.rank).toLowerCase()}` : ''}`, 'win');
        }
        break;
      }
      case 'hand_ended': {
        const result = this.ensureResult();
        result.ended = true;
        result.board = [...(v.board || [])];
        for (const st of e.stacks || []) {
          const s = v.seats[st.seat];
          if (s) s.stack = st.stack;
        }
        for (const s of v.seats) {
          if (!s) continue;
          s.street_bet = 0;
          s.committed = 0;
        }
        v.hand_in_progress = false;
        v.to_act = null;
        v.small_blind = null;
        v.big_blind = null;
        this.clock = null;
        break;
      }
      default:
        break;
    }
    return true;
  }

  /** Chips from stack into the pot (`street`: counts toward this street's bet). */
  putIn(seat, amount, street) {
    seat.stack = Math.max(0, seat.stack - amount);
    seat.committed += amount;
    if (street) seat.street_bet += amount;
    seat.all_in = seat.stack === 0;
  }

  ensureResult() {
    if (!this.result || this.result.hand !== this.view.hand) {
      this.result = { hand: this.view.hand, pots: [], shown: new Map(), mucked: new Set(), ended: false, board: [] };
    }
    return this.result;
  }

  addLog(text, kind) {
    this.log.push({ text, kind });
    if (this.log.length > LOG_LINES) this.log.splice(0, this.log.length - LOG_LINES);
  }

  /** The reasons LLM seats gave in a finished hand (a `reasons` message), into the hand log. */
  addReasons(msg) {
    for (const r of Array.isArray(msg.reasons) ? msg.reasons : []) {
      if (typeof r.reason !== 'string' || typeof r.seat !== 'number') continue;
      this.addLog(`${this.seatName(r.seat)} thought: “${r.reason}”`, 'reason');
    }
  }

  addChat(line) {
    this.chat.push(line);
    if (this.chat.length > CHAT_LINES) this.chat.splice(0, this.chat.length - CHAT_LINES);
  }

  /** A seat's display name. */
  seatName(seat) {
    if (seat === this.you) return 'You';
    const info = this.info.get(seat);
    if (info && info.name) return info.name;
    const s = this.view && this.view.seats[seat];
    if (s && s.player) return s.player.startsWith('bot:') ? `${s.player.slice(4)} bot` : s.player;
    return `Seat ${seat + 1}`;
  }

  describeAction(seat, action, amount, allIn, timedOut) {
    const who = this.seatName(seat);
    const s = seat === this.you ? '' : 's';
    const kind = action && action.action;
    let text;
    switch (kind) {
      case 'fold': text = `${who} fold${s}`; break;
      case 'check': text = `${who} check${s}`; break;
      case 'call': text = `${who} call${s} ${chips(amount)}`; break;
      case 'bet': text = `${who} bet${s} ${chips(action.to)}`; break;
      case 'raise': text = `${who} raise${s} to ${chips(action.to)}`; break;
      default: text = `${who} act${s}`;
    }
    if (allIn) text += ' (all-in)';
    if (timedOut) text += ' (timed out)';
    return text;
  }

  /** What your seat may do now. */
  legal() {
    const v = this.view;
    if (!v || !v.hand_in_progress || this.you == null || v.to_act !== this.you) return EMPTY_LEGAL;
    if (this.snapshotLegal) return this.snapshotLegal;
    const p = v.seats[this.you];
    if (!p) return EMPTY_LEGAL;
    const toCall = Math.max(0, v.current_bet - p.street_bet);
    const maxTo = p.street_bet + p.stack;
    const reopened = !this.acted.has(this.you) || v.current_bet - (this.faced.get(this.you) || 0) >= v.min_raise;
    const callable = v.seats.some((o) => o && o.seat !== this.you && o.in_hand && !o.folded
      && o.street_bet + o.stack > v.current_bet);
    const canRaise = maxTo > v.current_bet && reopened && callable;
    const range = { min: Math.min(v.current_bet + v.min_raise, maxTo), max: maxTo };
    return {
      fold: toCall > 0,
      check: toCall === 0,
      call: toCall > 0 ? Math.min(toCall, p.stack) : null,
      bet: canRaise && v.current_bet === 0 ? range : null,
      raise: canRaise && v.current_bet > 0 ? range : null,
    };
  }

  /** Chips in the middle plus every bet in front of the seats. */
  totalPot() {
    if (!this.view) return 0;
    return this.view.seats.reduce((sum, s) => sum + (s ? s.committed : 0), 0);
  }

  /**
   * The pots gathered in the middle from earlier streets (main first, then
   * side pots), split at each live seat's commitment as game-core splits
   * them; this street's bets are shown in front of the seats.
   */
  pots() {
    const v = this.view;
    if (!v || !v.hand_in_progress) return [];
    const dealt = v.seats.filter((s) => s && s.in_hand);
    const gathered = (s) => s.committed - s.street_bet;
    const live = dealt.filter((s) => !s.folded);
    const levels = [...new Set(live.map(gathered).filter((x) => x > 0))].sort((a, b) => a - b);
    const pots = [];
    let previous = 0;
    for (const level of levels) {
      let amount = 0;
      const eligible = [];
      for (const s of dealt) {
        const total = gathered(s);
        amount += Math.min(total, level) - Math.min(total, previous);
        if (total >= level && !s.folded) eligible.push(s.seat);
      }
      if (amount > 0) pots.push({ amount, eligible });
      previous = level;
    }
    const rest = dealt.reduce((sum, s) => sum + gathered(s) - Math.min(gathered(s), previous), 0);
    if (rest > 0) {
      if (pots.length) pots[pots.length - 1].amount += rest;
      else pots.push({ amount: rest, eligible: live.map((s) => s.seat) });
    }
    return pots;
  }
}

function guessKind(player) {
  if (typeof player !== 'string') return 'human';
  if (player.startsWith('bot:')) return 'bot';
  if (player.startsWith('llm:')) return 'llm';
  return 'human';
}

function capitalize(s) {
  return typeof s === 'string' && s ? s[0].toUpperCase() + s.slice(1) : '';
}
