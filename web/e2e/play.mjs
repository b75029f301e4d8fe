// End-to-end test of the web client in headless Chromium (Debian's
// `chromium`, driven by playwright-core). Run by server/tests/browser.rs:
//
//   node web/e2e/play.mjs BASE_URL ARTIFACTS_DIR
//
// A player (context A) picks a name in the lobby, creates a table against
// three bots, sits down and plays hands by clicking the legal buttons until
// a hand result shows; a spectator (context B) pages through the lobby with
// "More tables" (pages of one table), opens the table and must see the same
// board and never a hole card before showdown (in the DOM, and in every
// WebSocket frame it receives). Then the server is
// restarted: the script prints `RESTART` on stdout and waits for a
// `RESTARTED` line on stdin (the Rust test kills the process and starts it
// again on the same port and database). Both pages must show the
// reconnecting banner, recover without a reload and play on.
//
// Screenshots land in ARTIFACTS_DIR: lobby.png, table-mid-hand.png,
// spectator.png, table-phone.png, hand-result.png, reconnecting.png,
// experiments.png and experiment-results.png (failure-*.png on failure).
// The exit status is the verdict; uncaught page errors fail the run.

import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, artifacts] = process.argv.slice(2);
if (!base || !artifacts) {
  console.error('usage: node play.mjs BASE_URL ARTIFACTS_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const executablePath = process.env.SHOWDOWN_CHROMIUM || '/usr/bin/chromium';
const STEP = 30_000;
const started = Date.now();

const log = (...args) => console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);

// Lines from the driving test (stdin), awaited one at a time.
const stdinLines = [];
const stdinWaiters = [];
createInterface({ input: process.stdin }).on('line', (line) => {
  const waiter = stdinWaiters.shift();
  if (waiter) waiter(line.trim());
  else stdinLines.push(line.trim());
});
function nextStdinLine(timeoutMs) {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer from the test driver on stdin')), timeoutMs);
    stdinWaiters.push((line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
}

const problems = [];
let resultSaved = false;
// Network noise the browser itself prints while the server is down, or for
// an API the server does not have yet; not errors of the page's code.
const ALLOWED_CONSOLE = [/WebSocket connection to .* failed/i, /Failed to load resource/i, /ERR_CONNECTION_REFUSED/i];

function watchPage(page, label, frames) {
  page.on('pageerror', (e) => problems.push(`${label}: uncaught error: ${e.stack || e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !ALLOWED_CONSOLE.some((re) => re.test(m.text()))) {
      problems.push(`${label}: console error: ${m.text()}`);
    }
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => frames.push(typeof payload === 'string' ? payload : payload.toString('utf8')));
  });
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // CI runs as root, where Chromium's sandbox cannot start.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const pages = {};
let exitCode = 0;
try {
  await run();
  if (problems.length) throw new Error(`the pages reported errors:\n  ${problems.join('\n  ')}`);
  log('passed');
} catch (e) {
  exitCode = 1;
  console.error(`e2e failed: ${e.stack || e.message}`);
  for (const [label, page] of Object.entries(pages)) {
    try {
      await page.screenshot({ path: join(artifacts, `failure-${label}.png`), fullPage: true });
      console.error(`  screenshot: ${join(artifacts, `failure-${label}.png`)} (url ${page.url()})`);
    } catch {
      // The page may be gone.
    }
  }
  if (problems.length) console.error(`page errors:\n  ${problems.join('\n  ')}`);
} finally {
  await browser.close();
}
process.exit(exitCode);

async function run() {
  const desktop = { viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 };
  const playerContext = await browser.newContext(desktop);
  const watcherContext = await browser.newContext(desktop);
  const framesA = [];
  const framesB = [];
  const a = (pages.player = await playerContext.newPage());
  const b = (pages.spectator = await watcherContext.newPage());
  watchPage(a, 'player', framesA);
  watchPage(b, 'spectator', framesB);

  // ---- lobby: a name, then a table against three bots ----
  await a.goto(`${base}/#/`);
  await a.fill('#name-input', 'Alice');
  await a.click('#name-submit');
  await a.waitForSelector('#create-table', { timeout: STEP });
  await a.waitForFunction(() => document.querySelector('.me-balance'), null, { timeout: STEP });
  await a.selectOption('#create-seats', '4');
  await a.selectOption('select[name="seat-1"]', 'bot:calling-station');
  await a.selectOption('select[name="seat-2"]', 'bot:tight-aggressive');
  await a.selectOption('select[name="seat-3"]', 'bot:calling-station');
  await a.selectOption('#create-clock', '30000');
  await a.fill('#create-name', 'E2E table');
  await a.click('#create-submit');
  await a.waitForFunction(() => /^#\/table\/t_[0-9a-f]+$/.test(location.hash), null, { timeout: STEP });
  const tableId = a.url().split('#/table/')[1];
  log('created table', tableId);
  await a.waitForSelector('#table-root[data-joined="true"]', { timeout: STEP });

  // ---- sit down in seat 1 (index 0) ----
  await a.click('.seat.empty button.sit[data-seat="0"]');
  await a.waitForSelector('#sit-dialog[open]', { timeout: STEP });
  await a.click('#sit-confirm');
  await a.waitForSelector('#table-root[data-you="0"]', { timeout: STEP });
  const sitHand = Number(await a.getAttribute('#table-root', 'data-hand'));
  log('seated; hands played before sitting:', sitHand);

  // ---- a spectator pages through the lobby, finds the table and watches ----
  await lobbyPages(a, b, tableId);
  await b.screenshot({ path: join(artifacts, 'lobby.png') });
  await b.click(`tr[data-table-id="${tableId}"] a[data-action="watch"]`);
  await b.waitForSelector('#table-root[data-mode="watch"][data-joined="true"]', { timeout: STEP });
  if (!b.url().endsWith(`#/watch/${tableId}`)) throw new Error(`the watch link is ${b.url()}`);
  // The shareable link works on its own, in a fresh tab.
  const linkTab = await watcherContext.newPage();
  watchPage(linkTab, 'link-tab', []);
  await linkTab.goto(`${base}/#/watch/${tableId}`);
  await linkTab.waitForSelector('#table-root[data-joined="true"] .seat[data-seat="0"]', { timeout: STEP });
  await linkTab.close();

  // ---- play until a full hand ended with a result, and the board was compared mid-hand ----
  const first = await playHands(a, b, {
    until: (s) => s.fullHands >= 1 && s.compared,
    fullHandAfter: sitHand,
    compare: true,
    artifacts,
  });
  log(`played: ${first.clicks} clicks, results for hands ${first.results.join(', ')}`);
  await checkSpectatorFrames(framesA, framesB, tableId);

  // ---- the server restarts; both pages recover without a reload ----
  for (const page of [a, b]) await page.evaluate(() => { window.__e2eNoReload = 'still here'; });
  const reconnectsBefore = Number((await a.getAttribute('body', 'data-reconnects')) || 0);
  const handAtRestart = Number(await a.getAttribute('#table-root', 'data-hand'));
  console.log('RESTART');
  await Promise.all([a, b].map((page) => page.waitForSelector('#conn-banner[data-state="reconnecting"]', { timeout: STEP })));
  log('reconnecting banner shown');
  await a.screenshot({ path: join(artifacts, 'reconnecting.png') }).catch(() => {});
  const answer = await nextStdinLine(90_000);
  if (answer !== 'RESTARTED') throw new Error(`the driver answered ${JSON.stringify(answer)}`);
  for (const page of [a, b]) {
    await page.waitForFunction((n) => Number(document.body.dataset.reconnects || 0) > n, reconnectsBefore, { timeout: STEP });
    const marker = await page.evaluate(() => window.__e2eNoReload);
    if (marker !== 'still here') throw new Error('the page was reloaded');
  }
  log('reconnected without a reload');
  const after = await playHands(a, b, {
    until: (s) => s.clicks >= 1 && s.resultsAfterClick >= 1,
    fullHandAfter: handAtRestart,
    compare: false,
    keyboard: true,
    artifacts,
  });
  log(`after the restart: ${after.clicks} clicks, results for hands ${after.results.join(', ')}`);
  // The spectator follows the same table after the restart.
  const handNow = Number(await a.getAttribute('#table-root', 'data-hand'));
  await b.waitForFunction((n) => Number(document.querySelector('#table-root')?.dataset.hand) >= n, handNow, { timeout: STEP });
  await checkSpectatorFrames(framesA, framesB, tableId);

  // ---- the experiments page: the real (empty) list, then a stubbed one ----
  await b.goto(`${base}/#/experiments`);
  await b.waitForSelector('#experiments-empty, .experiment', { timeout: STEP });
  await checkExperimentPages(watcherContext);
}

/**
 * The lobby pages: two more tables are created, and the spectator's lobby
 * requests are rewritten to pages of one table, so the created table shows
 * only after following `next` with the "More tables" button; on the last
 * page the button goes away.
 */
async function lobbyPages(a, b, tableId) {
  const token = await a.evaluate(() => JSON.parse(localStorage.getItem('showdown.identity')).token);
  for (const name of ['E2E extra 1', 'E2E extra 2']) {
    const response = await fetch(`${base}/api/tables`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name, seats: 2, small_blind: 1, big_blind: 2 }),
    });
    if (response.status !== 201) throw new Error(`creating ${name}: ${response.status} ${await response.text()}`);
  }
  await b.route(/\/api\/tables\?/, (route) => {
    const url = new URL(route.request().url());
    url.searchParams.set('limit', '1');
    return route.continue({ url: url.toString() });
  });
  await b.goto(`${base}/#/`);
  const rows = () => b.$$eval('#lobby-tables tbody tr[data-table-id]', (r) => r.length);
  await b.waitForSelector('#lobby-tables tbody tr[data-table-id]', { timeout: STEP });
  let shown = await rows();
  if (shown !== 1) throw new Error(`a lobby page of one table shows ${shown} rows`);
  while (shown < 3) {
    await b.waitForSelector('#lobby-more:not([hidden]):not([disabled])', { timeout: STEP });
    await b.click('#lobby-more');
    await b.waitForFunction(
      (n) => document.querySelectorAll('#lobby-tables tbody tr[data-table-id]').length > n, shown, { timeout: STEP });
    shown = await rows();
  }
  await b.waitForSelector('#lobby-more[hidden]', { state: 'attached', timeout: STEP });
  await b.waitForSelector(`tr[data-table-id="${tableId}"]`, { timeout: STEP });
  // Polling keeps every page shown.
  await b.waitForTimeout(3500);
  if ((await rows()) !== 3) throw new Error(`after a refresh the lobby shows ${await rows()} rows, not 3`);
  log('lobby: 3 pages of one table walked with "More tables"');
}

/**
 * The experiments pages against a stubbed API (a fresh server has no
 * experiment): the list with progress bars, and a finished experiment's
 * results table and cumulative winnings chart, without page errors.
 */
async function checkExperimentPages(context) {
  const page = (pages.experiments = await context.newPage());
  watchPage(page, 'experiments', []);
  const fixture = experimentFixture();
  await page.route(/\/api\/experiments(\/.*)?$/, (route) => {
    const path = new URL(route.request().url()).pathname;
    const body = path === '/api/experiments' ? { experiments: fixture.list }
      : path === '/api/experiments/2' ? fixture.detail
        : path === '/api/experiments/2/curve' ? fixture.curve : null;
    return body
      ? route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) })
      : route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":{"code":"invalid_request","message":"no such experiment"}}' });
  });
  await page.goto(`${base}/#/experiments`);
  await page.waitForSelector('.experiment[data-experiment="1"] .progress-fill', { timeout: STEP });
  await page.screenshot({ path: join(artifacts, 'experiments.png') });
  await page.click('.experiment[data-experiment="2"] a.experiment-name');
  await page.waitForSelector('#results-table tbody tr', { timeout: STEP });
  await page.waitForSelector('#experiment-chart svg.chart path.series', { timeout: STEP });
  const rows = await page.locator('#results-table tbody tr').count();
  const lines = await page.locator('#experiment-chart path.series').count();
  if (rows !== 3 || lines !== 3) throw new Error(`experiment results: ${rows} rows, ${lines} chart lines`);
  await page.screenshot({ path: join(artifacts, 'experiment-results.png'), fullPage: true });
  await page.close();
  delete pages.experiments;
  log('experiments pages render (stubbed API): list, results and chart');
}

function experimentFixture() {
  const now = Date.now();
  const agents = ['llm:mock/mock-llm?personality=cautious', 'bot:tight-aggressive', 'bot:calling-station'];
  const base = { hands_per_sec: null, eta_secs: null, created_at_ms: now - 600_000, updated_at_ms: now };
  const list = [
    { ...base, id: 1, name: 'llm vs bots (running)', status: 'running', hands_done: 4200, hands_total: 10000, hands_per_sec: 850.4, eta_secs: 7, cost_usd: 0.0123, tokens: 45210 },
    { ...base, id: 2, name: 'three styles, 2,000 hands', status: 'done', hands_done: 2000, hands_total: 2000, cost_usd: 0.0412, tokens: 150300, created_at_ms: now - 900_000 },
  ];
  const points = [];
  const net = [0, 0, 0];
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let hands = 0; hands <= 2000; hands += 10) {
    net[0] += Math.round((random() - 0.45) * 300);
    net[1] += Math.round((random() - 0.48) * 250);
    net[2] = -net[0] - net[1];
    points.push({ hands, net: [...net] });
  }
  const agent = (name, bb, ci, extra) => ({
    agent: name, hands: 2000, net_chips: Math.round(bb * 2000 / 10), bb_per_100: bb, bb_per_100_ci95: ci, duplicate: null,
    vpip: 0.31, pfr: 0.18, aggression_factor: 1.7, went_to_showdown: 0.29, won_at_showdown: 0.52, ...extra,
  });
  const detail = {
    ...list[1],
    results: {
      agents: [
        agent(agents[0], 12.4, [3.1, 21.7]),
        agent(agents[1], 4.2, [-4.9, 13.3], { vpip: 0.19, pfr: 0.15, aggression_factor: 2.9 }),
        agent(agents[2], -16.6, [-25.8, -7.4], { vpip: 0.62, pfr: 0.02, aggression_factor: 0.3 }),
      ],
      llm: { [agents[0]]: { decisions: 5210, model_decisions: 5190, fallbacks: { timeout: 20 }, prompt_tokens: 140000, completion_tokens: 10300 } },
      models: { 'mock/mock-llm': { calls: 5200, cost_usd: 0.0412, prompt_tokens: 140000, completion_tokens: 10300 } },
      cost_usd: 0.0412,
      tokens: 150300,
    },
  };
  return { list, detail, curve: { agents, big_blind: 10, points } };
}

/**
 * Plays at page `a` by clicking Check or Call on each turn until
 * `until(stats)`; `b` is the spectator to compare with (once, mid-hand,
 * with a flop on the board) when `compare` is set.
 */
async function playHands(a, b, { until, fullHandAfter, compare, keyboard = false, artifacts: dir }) {
  const stats = { clicks: 0, fullHands: 0, compared: !compare, results: [], resultsAfterClick: 0 };
  let lastResult = Number((await a.getAttribute('#hand-result', 'data-hand')) || 0);
  const deadline = Date.now() + 180_000;
  while (!until(stats)) {
    if (Date.now() > deadline) throw new Error(`no progress: ${JSON.stringify(stats)}`);
    const what = await (await a.waitForFunction((last) => {
      if (document.querySelector('#action-bar button.act:not([disabled])')) return 'turn';
      const r = document.querySelector('#hand-result:not([hidden])');
      if (r && Number(r.dataset.hand) > last) return 'result';
      return false;
    }, lastResult, { timeout: 60_000, polling: 100 })).jsonValue();

    if (what === 'result') {
      lastResult = Number(await a.getAttribute('#hand-result', 'data-hand'));
      const text = await a.textContent('#hand-result');
      if (!/wins? [\d,]+/.test(text)) throw new Error(`the hand result says ${JSON.stringify(text)}`);
      stats.results.push(lastResult);
      if (lastResult > fullHandAfter) stats.fullHands += 1;
      if (stats.clicks > 0) stats.resultsAfterClick += 1;
      log(`hand #${lastResult} result: ${text.replace(/\s+/g, ' ').trim()}`);
      if (!resultSaved) {
        resultSaved = true;
        await a.screenshot({ path: join(dir, 'hand-result.png') });
      }
      continue;
    }

    const boardCount = await a.locator('#board .card[data-card]').count();
    if (!stats.compared && boardCount >= 3) {
      await compareWithSpectator(a, b, dir);
      stats.compared = true;
    }
    // Check when free; call while it costs at most a fifth of the stack
    // (so the player does not bust out of the test); otherwise fold.
    const stack = Number(await a.getAttribute('.seat.me .seat-stack', 'data-stack'));
    const callButton = a.locator('#action-bar button[data-action="call"]:not([disabled])');
    const callAmount = (await callButton.count()) ? Number(await callButton.getAttribute('data-amount')) : null;
    const action = (await a.locator('#action-bar button[data-action="check"]:not([disabled])').count()) ? 'check'
      : callAmount != null && callAmount <= stack / 5 ? 'call' : 'fold';
    const hand = await a.getAttribute('#table-root', 'data-hand');
    if (keyboard && stats.clicks === 0) {
      // The first decision after the restart goes through the keyboard shortcuts.
      await a.keyboard.press(action === 'fold' ? 'f' : 'c');
      log(`hand #${hand}: pressed the key for ${action}`);
    } else {
      await a.click(`#action-bar button[data-action="${action}"]`);
      log(`hand #${hand}: clicked ${action}`);
    }
    stats.clicks += 1;
    // The turn passes (the server's events arrive) before the next decision.
    await a.waitForFunction(() => !document.querySelector('#action-bar button.act:not([disabled])'), null, { timeout: STEP });
  }
  return stats;
}

/** Mid-hand, on the player's turn: the spectator sees the same board and no hole card. */
async function compareWithSpectator(a, b, dir) {
  const board = await a.getAttribute('#board', 'data-cards');
  const hand = await a.getAttribute('#board', 'data-hand');
  await b.waitForFunction(([cards, n]) => {
    const el = document.querySelector('#board');
    return el && el.dataset.cards === cards && el.dataset.hand === n;
  }, [board, hand], { timeout: STEP });
  const mine = await a.locator('.seat.me .hole .card.face').evaluateAll((els) => els.map((e) => e.dataset.card));
  if (mine.length !== 2) throw new Error(`the player sees ${mine.length} own hole cards`);
  const seen = await b.locator('.seat .hole .card.face').evaluateAll((els) => els.map((e) => e.dataset.card));
  if (seen.length) throw new Error(`the spectator sees hole cards before showdown: ${seen.join(' ')}`);
  const backs = await b.locator('.seat .hole .card.back').count();
  if (backs < 2) throw new Error(`the spectator sees ${backs} face-down hole cards`);
  const text = await b.textContent('#table-root');
  for (const c of mine) {
    if (b && (await b.locator(`[data-card="${c}"]`).count()) && !board.split(' ').includes(c)) {
      throw new Error(`the spectator's page shows the player's card ${c}`);
    }
  }
  if (!text.includes('spectator')) throw new Error('the spectator view is not marked as such');
  await a.screenshot({ path: join(dir, 'table-mid-hand.png') });
  await b.screenshot({ path: join(dir, 'spectator.png') });
  await a.setViewportSize({ width: 390, height: 844 });
  await a.screenshot({ path: join(dir, 'table-phone.png'), fullPage: true });
  await a.setViewportSize({ width: 1280, height: 860 });
  log(`hand #${hand}: the spectator sees the same board (${board}) and no hole card`);
}

/**
 * Every frame the spectator received, against the player's own frames and
 * the table's public hand histories:
 * - no `hole_cards_dealt` event at all;
 * - none of the player's hole cards in any event but that seat's own
 *   `hand_shown` (board cards cannot be the same card in one hand);
 * - a snapshot taken during a hand shows no hole cards at all (a showdown's
 *   `hand_shown`, `pot_awarded` and `hand_ended` come from one command, so
 *   no snapshot falls between them); one taken between hands shows only
 *   cards that the public hand history (unshown cards are `????` there)
 *   says were shown.
 */
async function checkSpectatorFrames(framesA, framesB, tableId) {
  const parse = (frames) => frames.map((text) => {
    try {
      return { text, msg: JSON.parse(text) };
    } catch {
      return { text, msg: null };
    }
  }).filter((f) => f.msg && typeof f.msg === 'object');
  const a = parse(framesA);
  const b = parse(framesB);
  const starts = []; // [seq, hand], ascending
  for (const { msg } of [...a, ...b]) {
    if (msg.type === 'snapshot' && msg.view) starts.push([msg.seq, msg.view.hand]);
    if (msg.type === 'event' && msg.event?.type === 'hand_started') starts.push([msg.seq, msg.event.hand]);
  }
  starts.sort((x, y) => x[0] - y[0]);
  const handAt = (seq) => {
    let hand = 0;
    for (const [s, h] of starts) if (s <= seq) hand = h;
    return hand;
  };
  const secrets = new Map(); // hand -> the player's hole cards
  let you = null;
  for (const { msg } of a) {
    if (msg.type === 'ack' && (msg.of === 'join' || msg.of === 'sit') && typeof msg.seat === 'number') you = msg.seat;
    if (msg.type === 'snapshot' && typeof msg.you === 'number') {
      you = msg.you;
      const cards = msg.view?.seats?.[you]?.cards;
      if (msg.view.hand_in_progress && Array.isArray(cards)) secrets.set(msg.view.hand, cards);
    }
    if (msg.type === 'event' && msg.event?.type === 'hole_cards_dealt') secrets.set(handAt(msg.seq), msg.event.cards);
  }
  if (!secrets.size) throw new Error('the player never received hole cards');
  const response = await fetch(`${base}/api/tables/${tableId}/hands?after=0&limit=500`);
  const history = new Map(((await response.json()).hands || []).map((hand) => [hand.hand, hand.phh || '']));

  let checked = 0;
  for (const { text, msg } of b) {
    if (msg.type === 'event') {
      const e = msg.event || {};
      if (e.type === 'hole_cards_dealt') throw new Error(`the spectator received hole cards: ${text}`);
      const secret = secrets.get(handAt(msg.seq));
      if (secret && !(e.type === 'hand_shown' && e.seat === you)) {
        for (const c of secret) {
          if (text.includes(`"${c}"`)) throw new Error(`the spectator got the player's hole card ${c} before showdown: ${text}`);
        }
        checked += 1;
      }
    }
    if (msg.type === 'snapshot' && msg.view) {
      for (const seat of msg.view.seats || []) {
        if (!seat || !Array.isArray(seat.cards)) continue;
        const phh = history.get(msg.view.hand) || '';
        if (msg.view.hand_in_progress || !phh.includes(seat.cards.join(''))) {
          throw new Error(`a spectator snapshot shows seat ${seat.seat}'s cards ${seat.cards.join(' ')}, never shown at the table: ${text}`);
        }
      }
      checked += 1;
    }
  }
  log(`spectator frames: ${b.length} received, ${checked} checked for hole cards, no leak`);
}
