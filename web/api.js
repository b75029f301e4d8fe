// REST calls and the player's identity (name and bearer token, kept in
// localStorage so a name is picked once per browser).

const IDENTITY_KEY = 'showdown.identity';

/** An error from the server: `code` is the stable machine code (docs/protocol.md §9). */
export class ApiError extends Error {
  constructor(code, message, status) {
    super(message || code);
    this.code = code;
    this.status = status;
  }
}

/** `{id, name, token}` or null. */
export function identity() {
  try {
    const value = JSON.parse(localStorage.getItem(IDENTITY_KEY) || 'null');
    if (value && typeof value.token === 'string' && typeof value.name === 'string') return value;
  } catch {
    // A broken entry is the same as none.
  }
  return null;
}

const listeners = new Set();

/** Calls `fn(identity)` whenever the identity changes; returns an unsubscribe function. */
export function onIdentity(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setIdentity(value) {
  if (value) localStorage.setItem(IDENTITY_KEY, JSON.stringify(value));
  else localStorage.removeItem(IDENTITY_KEY);
  for (const fn of listeners) fn(value);
}

/** Forgets the token (the account stays on the server, unreachable from here). */
export function forgetIdentity() {
  setIdentity(null);
}

/** Registers `name` and keeps the token. */
export async function register(name) {
  const player = await request('POST', '/api/players', { name });
  const value = { id: player.id, name: player.name, token: player.token };
  setIdentity(value);
  return { ...value, balance: player.balance };
}

/**
 * One REST call. Resolves with the JSON body; rejects with an ApiError
 * (the server's code, or `network` when the server could not be reached).
 */
export async function request(method, path, body, { auth = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth) {
    const me = identity();
    if (!me) throw new ApiError('unauthorized', 'pick a name first');
    headers.authorization = `Bearer ${me.token}`;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError('network', `cannot reach the server (${e.message})`, 0);
  }
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  if (!response.ok) {
    const err = json && json.error ? json.error : {};
    if (response.status === 401 && auth) setIdentity(null);
    throw new ApiError(err.code || `http_${response.status}`, err.message || response.statusText, response.status);
  }
  return json;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);

/** The account of the kept token, or null when there is none (a stale token is forgotten). */
export async function me() {
  if (!identity()) return null;
  try {
    return await get('/api/me', { auth: true });
  } catch (e) {
    if (e.code === 'unauthorized') return null;
    throw e;
  }
}
