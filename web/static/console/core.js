/*
 * The officer console's shared core: the page state, t() (VI/EN, console/i18n-*.js), and the
 * helpers every tab uses: same-origin API calls, error texts, toasts, status lines, the
 * two-click confirm button, deep copies and comparison of configuration items.
 * Shared page helpers come from common.js (window.IOC).
 */
import vi from './i18n-vi.js';
import en from './i18n-en.js';

const { pickLang, translator, showToast } = IOC;

export const LANG_STORAGE_KEY = 'ioc.lang';
export const VALIDATE_DEBOUNCE_MS = 300;
const TOAST_MS = 6000;
export const DAY_MS = 86400 * 1000;

/** Kinds officers change (the others: admins), as web/access.py CONFIG_WRITERS. */
export const OFFICER_KINDS = new Set(['rule', 'vehicle', 'driver', 'zone', 'speed_limit']);

const I18N = { vi, en };

export const state = {
  lang: pickLang(LANG_STORAGE_KEY),
  me: null,
  canAdminister: false,
  canConfigure: false,
  tab: 'rules',
  rules: new Map(), // id -> {version, item}
  boardStations: [], // GET /api/v1/stations (names, units)
  configStations: new Map(), // id -> {version, item}
  enterprises: [],
  parameterSets: [],
  silences: [],
  history: [],
  audit: [],
  detectorRules: null, // console/detector-rules.js, once the rules tab has loaded it
};

export const t = translator(I18N, () => state.lang);

export function clone(value) {
  return value == null ? value : JSON.parse(JSON.stringify(value));
}

/** An editor (rules, stations, fleet) now edits the stored item ``key`` at ``version``. */
export function editStored(editor, key, version, item) {
  Object.assign(editor, { key, isNew: false, version, original: clone(item), draft: clone(item) });
}

/** An editor now edits a new item, starting from ``draft``. */
export function editNew(editor, draft) {
  Object.assign(editor, { key: null, isNew: true, version: null, original: null, draft });
}

/** JSON with sorted keys: to compare two items. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function toast(message, kind = 'info') {
  showToast(message, { ms: TOAST_MS, kind });
}

/** A same-origin JSON call: {ok, status, body}; never throws (status 0: network). A 401
 *  means the login ended: back to the login page. */
export function api(method, path, body) {
  return IOC.api(method, path, body, { networkError: t('network') });
}

/** Error text of a failed call, with its problems when they are strings. */
export function errorText(result) {
  const problems = Array.isArray(result.body.problems)
    ? result.body.problems.map((p) => (typeof p === 'string' ? p : (p.field ? `${p.field}: ${p.message}` : p.message)))
    : [];
  return [result.body.error, ...problems].filter(Boolean).join(' — ');
}

/** A button that asks for a second click before it acts. */
export function confirmButton(button, action) {
  let armed = null;
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    if (!armed) {
      button.dataset.label = button.textContent;
      button.textContent = t('confirm');
      button.dataset.armed = 'true';
      armed = setTimeout(() => {
        armed = null;
        button.textContent = button.dataset.label;
        delete button.dataset.armed;
      }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.textContent = button.dataset.label;
    delete button.dataset.armed;
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
}

export function setStatus(node, message, kind) {
  node.textContent = message;
  node.dataset.state = kind;
}
