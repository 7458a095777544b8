/*
 * The wall's feed: one websocket, reconnected with backoff, and how alive it is.
 *
 * Liveness is measured on this page's own monotonic clock (performance.now()), never on the
 * server's clock nor on Date.now(): what counts is the time since the last frame of any kind.
 *
 *   connecting  no frame yet on the first attempt
 *   live        a frame arrived within STALE_AFTER_HEARTBEATS heartbeat intervals
 *   stale       nothing for longer, the socket still open: a frozen server (or path to it);
 *               the first frame after the silence makes it live again
 *   lost        the socket closed or failed, or nothing for max(LOST_AFTER_MS,
 *               LOST_AFTER_HEARTBEATS intervals): reconnecting with backoff
 *
 * The server names its heartbeat interval (snapshot `heartbeat_s`, heartbeat `interval_s`):
 * the page passes it to heartbeatsEvery().
 */

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
const LOST_AFTER_MS = 20000;
const LOST_AFTER_HEARTBEATS = 3;
const STALE_AFTER_HEARTBEATS = 2;
const DEFAULT_HEARTBEAT_MS = 2500;  // the server's default, until it names its own

/**
 * socketUrl()    the URL of each attempt (it may name the last seq seen)
 * onFrame(data)  every frame's text
 * onChange()     the state changed (connected, stale, lost, a retry scheduled)
 * onClosed()     the socket closed or failed (a refused handshake may be an expired login)
 */
export function createFeed({ socketUrl, onFrame, onChange, onClosed }) {
  let socket = null;
  let backoffMs = RECONNECT_MIN_MS;
  let attempt = 0;
  let retryTimer = null;
  let retryAt = null;       // Date.now() of the next attempt, for the countdown
  let everConnected = false;
  let connected = false;
  let disconnectedAt = null;  // Date.now() when the connection was lost
  let heartbeatMs = DEFAULT_HEARTBEAT_MS;
  let lastFrameAt = null;   // performance.now() of the last frame (or of the attempt's start)
  let stale = false;
  let staleTimer = null;
  let lostTimer = null;

  const staleAfterMs = () => STALE_AFTER_HEARTBEATS * heartbeatMs;
  const lostAfterMs = () => Math.max(LOST_AFTER_MS, LOST_AFTER_HEARTBEATS * heartbeatMs);
  const silentForMs = () => (lastFrameAt == null ? 0 : performance.now() - lastFrameAt);

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    retryAt = null;
    attempt += 1;
    onChange();

    let opened;
    try {
      opened = new WebSocket(socketUrl());
    } catch (err) {
      console.warn('[wall] websocket construction failed', err);
      scheduleReconnect();
      return;
    }
    socket = opened;
    lastFrameAt = performance.now();
    armTimers();  // also bounds an attempt that never opens nor fails

    opened.addEventListener('message', (event) => {
      if (opened !== socket) return;
      lastFrameAt = performance.now();
      const wasLive = connected && !stale;
      if (!connected) {
        connected = true;
        disconnectedAt = null;
        everConnected = true;
        backoffMs = RECONNECT_MIN_MS;
        attempt = 0;
      }
      stale = false;
      armTimers();
      if (!wasLive) onChange();
      onFrame(event.data);
    });
    const onLost = () => {
      if (opened !== socket) return;
      lose();
      onClosed();
    };
    opened.addEventListener('close', onLost);
    opened.addEventListener('error', onLost);
  }

  /** Both deadlines count from the last frame; a timer firing early is armed again. */
  function armTimers() {
    clearTimeout(staleTimer);
    clearTimeout(lostTimer);
    if (lastFrameAt == null) return;
    if (connected && !stale) staleTimer = setTimeout(checkStale, staleAfterMs() - silentForMs());
    lostTimer = setTimeout(checkLost, lostAfterMs() - silentForMs());
  }

  function checkStale() {
    if (silentForMs() < staleAfterMs()) { armTimers(); return; }
    console.warn('[wall] no frame for', Math.round(silentForMs()), 'ms: data is stale');
    stale = true;
    onChange();
  }

  function checkLost() {
    if (silentForMs() < lostAfterMs()) { armTimers(); return; }
    console.warn('[wall] no frame for', Math.round(silentForMs()), 'ms; reconnecting');
    lose();
  }

  function lose() {
    const closing = socket;
    socket = null;
    clearTimeout(staleTimer);
    clearTimeout(lostTimer);
    if (closing) {
      try { closing.close(); } catch (_) { /* already closed */ }
    }
    if (connected || disconnectedAt == null) disconnectedAt = Date.now();
    connected = false;
    stale = false;
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (retryTimer) return;
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, RECONNECT_MAX_MS);
    retryAt = Date.now() + delay;
    retryTimer = setTimeout(connect, delay);
    onChange();
  }

  return {
    start: connect,

    /** Close and connect again at once (socketUrl() decides what the server sends). */
    restart() {
      const closing = socket;
      socket = null;
      if (closing) {
        try { closing.close(); } catch (_) { /* ignore */ }
      }
      connect();
    },

    /** The server's heartbeat interval, in seconds (ignored unless a positive number). */
    heartbeatsEvery(seconds) {
      if (typeof seconds !== 'number' || !(seconds > 0)) return;
      heartbeatMs = seconds * 1000;
      armTimers();
    },

    /** Send a JSON message; false when there is no open socket. */
    send(message) {
      if (!socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },

    /** 'connecting' | 'live' | 'stale' | 'lost' */
    get phase() {
      if (connected) return stale ? 'stale' : 'live';
      return everConnected || attempt > 1 ? 'lost' : 'connecting';
    },
    get connected() { return connected; },
    get everConnected() { return everConnected; },
    get attempt() { return attempt; },
    get retryAt() { return retryAt; },
    get disconnectedAt() { return disconnectedAt; },
    /** Milliseconds since the last frame, on the page's monotonic clock. */
    get silentForMs() { return silentForMs(); },
  };
}
