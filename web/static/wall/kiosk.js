/*
 * Kiosk mode (?kiosk=1): a wall display without keyboard or operator. The language switch and
 * operator controls are hidden (CSS on body[data-kiosk]), the cursor hides after a few seconds
 * without movement, and the first click asks for full screen (browsers only allow it from a
 * user gesture). The alert list and the station table page through by themselves, one page
 * every ?page_s= seconds.
 */

const KIOSK_CURSOR_MS = 3000;  // hide the cursor after this long still
const KIOSK_PAGE_MS = 9000;    // the alert list and station table turn a page

/** Start kiosk mode when the URL asks for it; returns whether it did. */
export function startKiosk() {
  const value = (new URLSearchParams(location.search).get('kiosk') || '').toLowerCase();
  if (!['1', 'true', 'yes', 'on'].includes(value)) return false;
  const body = document.body;
  body.dataset.kiosk = 'true';
  let timer = null;
  const wake = () => {
    if (body.dataset.cursor !== 'visible') body.dataset.cursor = 'visible';
    clearTimeout(timer);
    timer = setTimeout(() => { body.dataset.cursor = 'hidden'; }, KIOSK_CURSOR_MS);
  };
  for (const type of ['mousemove', 'pointerdown', 'wheel', 'touchstart', 'keydown']) {
    document.addEventListener(type, wake, { passive: true, capture: true });
  }
  wake();
  document.addEventListener('click', () => {
    const root = document.documentElement;
    if (!document.fullscreenEnabled || document.fullscreenElement || !root.requestFullscreen) return;
    try {
      root.requestFullscreen({ navigationUI: 'hide' }).catch(() => { /* refused: stay windowed */ });
    } catch (_) { /* not allowed here */ }
  }, { once: true, capture: true });
  return true;
}

/** Kiosk: milliseconds per page of the alert list and station table (?page_s=, 1–120 s). */
export function kioskPageMs() {
  const seconds = Number(new URLSearchParams(location.search).get('page_s'));
  return Number.isFinite(seconds) && seconds >= 1 && seconds <= 120 ? seconds * 1000 : KIOSK_PAGE_MS;
}
