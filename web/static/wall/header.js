/*
 * The wall's header and banners: the clock (the server's time in Asia/Ho_Chi_Minh, with a note
 * when this computer's clock is far off), the time of the last data, the connection indicator,
 * the "connection lost" banner (retry countdown) and the "data not updating" banner (connected,
 * but nothing arrives). The feed's phases come from wall/connection.js.
 */

const CLOCK_SKEW_SHOWN_MS = 5000;  // a larger server clock skew is shown by the clock

/**
 * state   the wall's state (wall.js), read only: lastDataAt, serverOffsetMs
 * feed    the websocket feed (wall/connection.js)
 * fmt     the wall's formatters (wall/format.js)
 */
export function createHeader({ state, feed, fmt }) {
  const { $, setText, formatDate, formatClock: formatTime } = window.IOC;
  const { t, nowMs, formatRelative, formatWeekday } = fmt;

  function renderClock() {
    const now = nowMs();
    setText($('clock-time'), formatTime(now));
    setText($('clock-date'), formatDate(now));
    setText($('clock-weekday'), formatWeekday(now));
  }

  function renderLastUpdate() {
    setText($('last-update-time'), formatTime(state.lastDataAt));
    setText($('last-update-age'), state.lastDataAt ? `(${formatRelative(state.lastDataAt)})` : '');
  }

  function renderConnectionState() {
    const phase = feed.phase;
    document.body.dataset.connected = feed.connected ? 'true' : 'false';
    document.body.dataset.feed = phase;

    $('conn-indicator').dataset.state = phase;
    setText($('conn-label'), t({ live: 'connLive', stale: 'connStale', lost: 'connLost' }[phase] ?? 'connConnecting'));

    // The banner appears once a connection was lost or the first attempt failed.
    const banner = $('conn-banner');
    const showBanner = phase === 'lost';
    if (banner.hidden === showBanner) banner.hidden = !showBanner;
    if (showBanner) {
      let detail;
      if (feed.retryAt) {
        const seconds = Math.max(0, Math.ceil((feed.retryAt - Date.now()) / 1000));
        detail = t('bannerRetryIn', seconds, feed.attempt + 1);
      } else {
        detail = t('bannerRetrying', Math.max(1, feed.attempt));
      }
      if (feed.disconnectedAt) detail += t('bannerSince', formatTime(feed.disconnectedAt + state.serverOffsetMs));
      setText($('conn-banner-detail'), detail);
    }

    // Connected, but nothing arrives: the server (or the path to it) is frozen.
    const staleBanner = $('stale-banner');
    const showStale = phase === 'stale';
    if (staleBanner.hidden === showStale) staleBanner.hidden = !showStale;
    if (showStale) {
      setText($('stale-banner-title'), t('staleTitle'));
      setText($('stale-banner-detail'), t('staleDetail', Math.floor(feed.silentForMs / 1000)));
    }
  }

  /** The server's clock is shown; a large skew of this computer's clock is said. */
  function renderClockSkew() {
    const skew = $('clock-skew');
    const seconds = Math.round(state.serverOffsetMs / 1000);
    const show = Math.abs(state.serverOffsetMs) >= CLOCK_SKEW_SHOWN_MS;
    skew.hidden = !show;
    if (show) setText(skew, t('clockSkew', `${seconds > 0 ? '+' : '−'}${Math.abs(seconds)}`));
  }

  return { renderClock, renderLastUpdate, renderConnectionState, renderClockSkew };
}
