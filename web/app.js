// The client's entry point: hash routes, the top bar (who you are, your
// balance) and the connection banner.
//
//   #/                  lobby
//   #/table/ID          play at a table (sit, act, chat)
//   #/watch/ID          watch a table as a spectator (shareable link)
//   #/experiments       experiments and their progress
//   #/experiments/ID    one experiment's results and chart

import { connection } from './connection.js';
import { h, chips } from './cards.js';
import { identity, onIdentity, forgetIdentity, me } from './api.js';
import * as lobby from './lobby.js';
import * as table from './table.js';
import * as experiments from './experiments.js';

const routes = [
  [/^\/?$/, () => ['lobby', (el) => lobby.mount(el)]],
  [/^\/table\/([A-Za-z0-9_]{1,64})$/, (m) => ['lobby', (el) => table.mount(el, { id: m[1], mode: 'play' })]],
  [/^\/watch\/([A-Za-z0-9_]{1,64})$/, (m) => ['lobby', (el) => table.mount(el, { id: m[1], mode: 'watch' })]],
  [/^\/experiments\/?$/, () => ['experiments', (el) => experiments.mountList(el)]],
  [/^\/experiments\/([A-Za-z0-9_-]{1,64})$/, (m) => ['experiments', (el) => experiments.mountDetail(el, m[1])]],
];

let unmount = null;

function route() {
  const path = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  const view = document.getElementById('view');
  if (unmount) {
    try {
      unmount();
    } catch (e) {
      console.warn('unmount failed', e);
    }
    unmount = null;
  }
  view.replaceChildren();
  window.scrollTo(0, 0);
  let nav = null;
  let mounted = false;
  for (const [pattern, make] of routes) {
    const m = path.match(pattern);
    if (!m) continue;
    const [section, mount] = make(m);
    nav = section;
    unmount = mount(view) || null;
    mounted = true;
    break;
  }
  if (!mounted) {
    view.append(h('section.panel.empty-state', h('h1', 'Nothing here'),
      h('p', 'This link does not lead anywhere. '), h('a.button', { href: '#/' }, 'Back to the lobby')));
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === nav);
  }
}

/** The top bar's "who am I": name, balance, and a way to forget the token. */
async function renderMe() {
  const box = document.getElementById('me');
  const who = identity();
  if (!who) {
    delete box.dataset.player;
    box.replaceChildren(h('span.muted', 'Not signed in'));
    return;
  }
  if (box.dataset.player !== who.id) {
    box.dataset.player = who.id;
    box.replaceChildren(h('span.me-name', { title: `player ${who.id}` }, who.name));
  }
  try {
    const account = await me();
    if (!account) return;
    box.replaceChildren(
      h('span.me-name', { title: `player ${account.id}` }, account.name),
      h('span.me-balance', { title: 'balance (chips not at a table)', id: 'me-balance' }, chips(account.balance)),
      h('button.link', {
        type: 'button',
        title: 'Forget this name on this browser',
        onclick: () => {
          if (confirm(`Forget "${account.name}" on this browser? You will pick a new name.`)) forgetIdentity();
        },
      }, 'Sign out'),
    );
  } catch {
    // The name stays shown; the balance comes back on the next refresh.
  }
}

// Views announce balance changes (sitting down, standing up, a hand's end).
window.addEventListener('showdown:balance', () => renderMe());

let bannerTimer = null;

function banner(state, detail) {
  const el = document.getElementById('conn-banner');
  clearTimeout(bannerTimer);
  if (state === 'reconnecting') {
    el.dataset.state = 'reconnecting';
    el.textContent = detail.attempt > 1
      ? `Connection lost — reconnecting… (attempt ${detail.attempt})`
      : 'Connection lost — reconnecting…';
  } else if (state === 'open' && detail.reconnected) {
    // Counted on <body> so a test (or a curious person) can tell it happened.
    document.body.dataset.reconnects = String(Number(document.body.dataset.reconnects || 0) + 1);
    el.dataset.state = 'reconnected';
    el.textContent = 'Reconnected';
    bannerTimer = setTimeout(() => {
      el.dataset.state = 'hidden';
      el.textContent = '';
    }, 4000);
  } else if (state === 'open') {
    el.dataset.state = 'hidden';
    el.textContent = '';
  }
}

connection.onState(banner);
onIdentity(() => {
  renderMe();
  // One connection acts for one player: a new name needs a new connection.
  if (connection.ws) connection.restart();
  route();
});
window.addEventListener('hashchange', route);
renderMe();
route();
