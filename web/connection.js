// The live connection: one WebSocket to /ws shared by every view, with
// request ids, acks and errors as promises, a heartbeat, and reconnection
// with backoff. Views listen to messages and to `open` (they re-join and
// resume there); the banner shows "reconnecting…" and "reconnected".

const HEARTBEAT_MS = 15000;
const PONG_TIMEOUT_MS = 10000;
const REQUEST_TIMEOUT_MS = 10000;
const BACKOFF_MS = [300, 700, 1500, 3000, 5000, 8000];

/** A refused request: `code` is the protocol's error code. */
export class ProtocolError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

class Connection {
  constructor() {
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.messageHandlers = new Set();
    this.openHandlers = new Set();
    this.stateHandlers = new Set();
    this.state = 'idle'; // idle | connecting | open | reconnecting
    this.everOpened = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.heartbeat = null;
    this.pongTimer = null;
    this.hello = null;
  }

  /** Opens the socket if it is not open or opening. */
  ensure() {
    if (this.ws || this.retryTimer) return;
    this.connect();
  }

  connect() {
    this.retryTimer = null;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws`);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    if (!this.everOpened) this.setState('connecting');
    ws.onmessage = (e) => this.receive(ws, e.data);
    ws.onclose = () => this.closed(ws);
    // An error is always followed by close, which does the work.
    ws.onerror = () => {};
  }

  receive(ws, data) {
    if (ws !== this.ws) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'hello') {
      this.hello = msg;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setState('open', { reconnected });
      this.startHeartbeat();
      for (const fn of [...this.openHandlers]) fn({ reconnected });
      return;
    }
    if (msg.type === 'pong') {
      clearTimeout(this.pongTimer);
      this.pongTimer = null;
    }
    if ((msg.type === 'ack' || msg.type === 'error' || msg.type === 'pong') && msg.id != null) {
      const waiter = this.pending.get(msg.id);
      if (waiter) {
        this.pending.delete(msg.id);
        clearTimeout(waiter.timer);
        if (msg.type === 'error') waiter.reject(new ProtocolError(msg.code, msg.message));
        else waiter.resolve(msg);
      }
    }
    for (const fn of [...this.messageHandlers]) fn(msg);
  }

  closed(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.stopHeartbeat();
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ProtocolError('disconnected', 'the connection dropped'));
    }
    this.pending.clear();
    this.scheduleRetry();
  }

  scheduleRetry() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    // Jitter spreads a server restart's reconnections out.
    const delay = base / 2 + Math.random() * base;
    this.setState(this.everOpened ? 'reconnecting' : 'connecting', { attempt: this.attempt, delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
      this.send({ type: 'ping' });
      if (!this.pongTimer) {
        // No pong: the connection is dead without a close (a lost network).
        this.pongTimer = setTimeout(() => {
          this.pongTimer = null;
          if (this.ws) this.ws.close();
        }, PONG_TIMEOUT_MS);
      }
    }, HEARTBEAT_MS);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeat);
    clearTimeout(this.pongTimer);
    this.heartbeat = null;
    this.pongTimer = null;
  }

  setState(state, detail = {}) {
    this.state = state;
    for (const fn of [...this.stateHandlers]) fn(state, detail);
  }

  get isOpen() {
    return this.state === 'open' && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a message without waiting for its reply; false when not connected. */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Sends a message with a fresh id; resolves with its ack, rejects with a ProtocolError. */
  request(message, timeoutMs = REQUEST_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new ProtocolError('disconnected', 'not connected'));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ProtocolError('timeout', 'the server did not answer'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...message, id }));
    });
  }

  /** Every server message; returns an unsubscribe function. */
  onMessage(fn) {
    this.messageHandlers.add(fn);
    return () => this.messageHandlers.delete(fn);
  }

  /** Called on each `hello` (`{reconnected}`); returns an unsubscribe function. */
  onOpen(fn) {
    this.openHandlers.add(fn);
    return () => this.openHandlers.delete(fn);
  }

  /** Connection state changes; returns an unsubscribe function. */
  onState(fn) {
    this.stateHandlers.add(fn);
    return () => this.stateHandlers.delete(fn);
  }

  /** Drops the socket and connects again (a new player identity needs a new connection). */
  restart() {
    const ws = this.ws;
    this.ws = null;
    this.everOpened = false;
    if (ws) ws.close();
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ProtocolError('disconnected', 'the connection was restarted'));
    }
    this.pending.clear();
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.stopHeartbeat();
    this.connect();
  }
}

/** The page's one connection. */
export const connection = new Connection();
