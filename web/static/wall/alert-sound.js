/*
 * An optional short tone when a critical alert opens while the wall is watched (issue #14 item
 * 8). Made with the Web Audio API (one oscillator, a falling two-note chirp of ~0.45 s): no
 * audio file, no network.
 *
 * On or off: the bell toggle in the header, remembered in this browser (localStorage); without a
 * choice there, the server's default (web.alert_sound, in the snapshot as `alert_sound`).
 *
 * Which alerts: an `opened` alert event (a new alert, or a resolved one reopened) of severity
 * critical, open, neither silenced nor flapping, raised less than MAX_AGE_MS ago, and not
 * already on the wall. Alerts of a snapshot (page load, resync) never sound, nor do events
 * replayed after a long break (too old), and each opening sounds once.
 *
 * Browsers keep audio off until the user interacts with the page: a tone due before that shows
 * the hint "Bấm để bật âm thanh / Click to enable sound" instead; a click on it (or anywhere)
 * enables sound. State for tests and styling: data-sound (on/off) and data-sound-blocked on
 * the toggle, data-tones (tones started) on the body.
 */

const STORAGE_KEY = 'ioc.wall.alertSound';
const MAX_AGE_MS = 60_000;   // an opening older than this (a replay after a break) is not sounded
const MIN_GAP_MS = 1500;      // several criticals at once: one tone
const BLOCKED_CHECK_MS = 800; // audio not running this long after a tone: blocked

export const ALERT_SOUND_I18N = {
  vi: {
    alertSoundOn: 'Âm báo cảnh báo nghiêm trọng: đang bật (bấm để tắt)',
    alertSoundOff: 'Âm báo cảnh báo nghiêm trọng: đang tắt (bấm để bật)',
    alertSoundBlocked: 'Bấm để bật âm thanh',
    alertSoundBlockedTitle: 'Trình duyệt chặn âm thanh cho đến khi có thao tác trên trang',
  },
  en: {
    alertSoundOn: 'Sound for critical alerts: on (click to turn off)',
    alertSoundOff: 'Sound for critical alerts: off (click to turn on)',
    alertSoundBlocked: 'Click to enable sound',
    alertSoundBlockedTitle: 'The browser blocks sound until the page is clicked',
  },
};

const BELL = 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6v-5a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z';

/** The toggle's bell (an SVG: no emoji font needed), struck through when off. */
function bellIcon(on) {
  const { svgEl } = window.IOC;
  const icon = svgEl('svg', { viewBox: '0 0 24 24', class: 'alert-sound-icon', 'aria-hidden': 'true' });
  icon.append(svgEl('path', { d: BELL, fill: 'currentColor' }));
  if (!on) icon.append(svgEl('path', { d: 'M3 3l18 18', stroke: 'currentColor', 'stroke-width': 2.2, 'stroke-linecap': 'round' }));
  return icon;
}

function readChoice() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'on' || value === 'off' ? value : null;
  } catch {
    return null; // storage disabled: the server's default
  }
}

function storeChoice(value) {
  try { localStorage.setItem(STORAGE_KEY, value); } catch { /* not remembered */ }
}

/**
 * t          the wall's translator
 * nowMs()    the server-corrected time
 * parseTime  ISO time → ms
 */
export function createAlertSound({ t, nowMs, parseTime }) {
  const { $, setText } = window.IOC;
  const toggle = $('alert-sound-toggle');
  const hint = $('alert-sound-hint');
  let serverDefault = false;
  let choice = readChoice();
  let context = null;
  let lastToneAt = -Infinity;
  let tones = 0;
  const sounded = new Set();

  const enabled = () => (choice ?? (serverDefault ? 'on' : 'off')) === 'on';

  function audio() {
    if (!context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      context = new Context();
    }
    return context;
  }

  /** A user gesture: audio may start now. */
  function unlock() {
    if (!enabled()) return;
    const ctx = audio();
    if (ctx && ctx.state !== 'running') ctx.resume().catch(() => {});
    showBlocked(false);
  }

  function showBlocked(blocked) {
    hint.hidden = !blocked;
    toggle.dataset.soundBlocked = String(blocked);
  }

  /** May audio play now: running, or resumable (the page has had a user gesture). */
  function allowed(ctx) {
    return ctx.state === 'running' || navigator.userActivation?.hasBeenActive !== false;
  }

  function tone() {
    const ctx = audio();
    if (!ctx) return;
    if (!allowed(ctx)) {
      showBlocked(true);
      return;
    }
    if (ctx.state !== 'running') {
      ctx.resume().catch(() => {});
      // a browser that reports no user activation API, or refuses anyway: say so
      setTimeout(() => { if (ctx.state !== 'running') showBlocked(true); }, BLOCKED_CHECK_MS);
    }
    const start = ctx.currentTime + 0.02;
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    oscillator.type = 'triangle';
    oscillator.frequency.setValueAtTime(988, start);
    oscillator.frequency.setValueAtTime(740, start + 0.2);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.35, start + 0.02);
    gain.gain.setValueAtTime(0.35, start + 0.18);
    gain.gain.exponentialRampToValueAtTime(0.05, start + 0.2);
    gain.gain.exponentialRampToValueAtTime(0.35, start + 0.22);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.45);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.47);
    lastToneAt = performance.now();
    tones += 1;
    document.body.dataset.tones = String(tones);
    showBlocked(false);
  }

  function render() {
    const on = enabled();
    toggle.dataset.sound = on ? 'on' : 'off';
    toggle.setAttribute('aria-pressed', String(on));
    toggle.replaceChildren(bellIcon(on));
    const label = t(on ? 'alertSoundOn' : 'alertSoundOff');
    toggle.title = label;
    toggle.setAttribute('aria-label', label);
    setText(hint, t('alertSoundBlocked'));
    hint.title = t('alertSoundBlockedTitle');
    if (!on) showBlocked(false);
  }

  toggle.addEventListener('click', (event) => {
    event.stopPropagation();
    choice = enabled() ? 'off' : 'on';
    storeChoice(choice);
    render();
    unlock();
  });
  hint.addEventListener('click', unlock);
  for (const type of ['pointerdown', 'keydown']) {
    document.addEventListener(type, () => { if (!hint.hidden || context?.state === 'suspended') unlock(); }, true);
  }
  render();

  return {
    /** The server's default (snapshot `alert_sound`), used while this browser has no choice. */
    configure(defaultOn) {
      serverDefault = Boolean(defaultOn);
      render();
    },
    /** An alert frame (before the wall applies it); `known`: the alert is on the wall already. */
    alertEvent(event, alert, known) {
      if (event !== 'opened' || known || alert.severity !== 'critical' || alert.state !== 'open'
        || alert.silenced || alert.flapping) return;
      // raised by the book (a reopening: its latest firing); a replay after a break is older
      const times = [alert.raised_at, alert.last_seen, alert.opened_at].map(parseTime).filter((ms) => ms != null);
      if (!times.length || nowMs() - Math.max(...times) > MAX_AGE_MS) return;
      const key = `${alert.id}|${alert.opened_at}|${alert.flaps ?? 0}`;
      if (sounded.has(key)) return;
      sounded.add(key);
      if (enabled() && performance.now() - lastToneAt >= MIN_GAP_MS) tone();
    },
    render,
  };
}
