// Small shared helpers: building DOM nodes, cards, chip amounts and hand
// rank names.

/**
 * Creates an element: `h('div.seat.me', {title: 'x', onclick}, child, ...)`.
 * Strings become text nodes (never HTML), so server text is always safe.
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className += (el.className ? ' ' : '') + value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') {
      for (const [prop, v] of Object.entries(value)) {
        if (prop.startsWith('--')) el.style.setProperty(prop, v);
        else el.style[prop] = v;
      }
    }
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Replaces an element's children; null, false and nested arrays are handled as in `h`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * Makes `parent`'s children exactly `nodes`, in order, touching only the
 * places that differ (a node kept in place is not detached).
 */
export function reconcile(parent, nodes) {
  nodes.forEach((node, i) => {
    const current = parent.children[i];
    if (current !== node) parent.insertBefore(node, current || null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild.remove();
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value != null) el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child == null) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const SUITS = { s: '♠', h: '♥', d: '♦', c: '♣' };
const SUIT_NAMES = { s: 'spades', h: 'hearts', d: 'diamonds', c: 'clubs' };
const RANK_NAMES = { T: '10', J: 'J', Q: 'Q', K: 'K', A: 'A' };

/** A face-up card ("As") or a face-down one (null). */
export function card(code, extra = '') {
  if (typeof code !== 'string' || code.length !== 2 || !SUITS[code[1]]) {
    return h(`span.card.back${extra}`, { 'aria-label': 'hidden card' });
  }
  const rank = RANK_NAMES[code[0]] || code[0];
  const suit = code[1];
  return h(`span.card.face.suit-${suit}${extra}`, {
    dataset: { card: code },
    'aria-label': `${rank} of ${SUIT_NAMES[suit]}`,
  }, h('span.rank', rank), h('span.pip', SUITS[suit]));
}

/** A card as text: "A♠". */
export function cardText(code) {
  if (typeof code !== 'string' || code.length !== 2) return '??';
  return `${RANK_NAMES[code[0]] || code[0]}${SUITS[code[1]] || code[1]}`;
}

const CATEGORIES = [
  'High card', 'Pair', 'Two pair', 'Three of a kind', 'Straight',
  'Flush', 'Full house', 'Four of a kind', 'Straight flush',
];

/** The name of a hand rank (`(category << 12) | subrank`), or '' for null. */
export function rankName(rank) {
  if (typeof rank !== 'number') return '';
  return CATEGORIES[rank >> 12] || '';
}

const NUMBER = new Intl.NumberFormat('en-US');

/** Chips as text: 12,345. */
export function chips(n) {
  return typeof n === 'number' && Number.isFinite(n) ? NUMBER.format(n) : '—';
}

/** Seconds as "1:05" or "42s". */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** Shows a short message at the bottom of the screen. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.classList.add('leaving'), 3500);
  setTimeout(() => el.remove(), 4000);
}
