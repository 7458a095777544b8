/*
 * IOC pages — helpers shared by wall, console, portal and login (load this file first:
 * <script src="/static/common.js"></script>). Plain ES2020, no dependencies. Everything is in
 * one frozen global, window.IOC; a page takes what it uses: const { el, $ } = IOC;
 *
 *   DOM        $(id), el(tag, attrs, ...children), svgEl(tag, attrs, text), setAttrs, setText
 *   Time       TIME_ZONE (Asia/Ho_Chi_Minh), zonedParts(ms), parseTime(iso),
 *              formatDate (dd/MM/yyyy), formatClock (HH:mm:ss), formatDateTime
 *   Numbers    finiteOrNull, numberFormat(lang, max, min) (a cached Intl.NumberFormat),
 *              formatNumber
 *   Language   LANGS, pickSetting / pickLang (?param=, then localStorage, then a default),
 *              translator(I18N, getLang) → t(key, ...args), rememberLang, translatePage
 *   Server     toLogin, api(method, path, body, options) → {ok, status, body, reason}, logout
 *   Feedback   showToast(message, {ms, kind}) on #toast
 */
'use strict';

window.IOC = (() => {
  // ---------------------------------------------------------------------------
  // DOM
  // ---------------------------------------------------------------------------

  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);

  /** Attributes from an object: null/false leave one out, true sets it empty. */
  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      node.setAttribute(k, v === true ? '' : String(v));
    }
  }

  /** An HTML element: el('div', {class: 'x'}, 'text', childNode, [more, nodes], ...).
   *  Children null/false are left out; arrays are spread. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children.flat()) {
      if (child == null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** An SVG element, with text content when `text` is given. */
  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    if (text != null) node.textContent = String(text);
    return node;
  }

  /** Assign textContent only when it changed (avoids needless layout work). */
  function setText(node, text) {
    const s = String(text);
    if (node.textContent !== s) node.textContent = s;
  }

  // ---------------------------------------------------------------------------
  // Time: always shown in Asia/Ho_Chi_Minh, whatever the browser's zone
  // ---------------------------------------------------------------------------

  const TIME_ZONE = 'Asia/Ho_Chi_Minh';

  const zonedFormatter = new Intl.DateTimeFormat('en-GB', {
    timeZone: TIME_ZONE,
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
    hourCycle: 'h23',
  });

  /** {year, month, day, hour, minute, second} (2-digit strings) of a time in Vietnam. */
  function zonedParts(ms) {
    const parts = {};
    for (const p of zonedFormatter.formatToParts(ms)) parts[p.type] = p.value;
    if (parts.hour === '24') parts.hour = '00';
    return parts;
  }

  /** Milliseconds since epoch from an ISO string (null if absent/invalid). */
  function parseTime(iso) {
    if (!iso) return null;
    const ms = Date.parse(iso);
    return Number.isFinite(ms) ? ms : null;
  }

  /** dd/MM/yyyy in Asia/Ho_Chi_Minh. */
  function formatDate(ms) {
    const p = zonedParts(ms);
    return `${p.day}/${p.month}/${p.year}`;
  }

  /** HH:mm:ss in Asia/Ho_Chi_Minh ('--:--:--' without a time). */
  function formatClock(ms) {
    if (ms == null) return '--:--:--';
    const p = zonedParts(ms);
    return `${p.hour}:${p.minute}:${p.second}`;
  }

  /** dd/MM/yyyy HH:mm:ss in Asia/Ho_Chi_Minh of milliseconds or an ISO string; `empty`
   *  when there is no valid time. */
  function formatDateTime(msOrIso, empty = '—') {
    const ms = typeof msOrIso === 'number' ? msOrIso : parseTime(msOrIso);
    if (ms == null || !Number.isFinite(ms)) return empty;
    return `${formatDate(ms)} ${formatClock(ms)}`;
  }

  // ---------------------------------------------------------------------------
  // Numbers
  // ---------------------------------------------------------------------------

  /** A finite number from a value that may be absent, a string or junk; else null. */
  function finiteOrNull(value) {
    if (value == null || value === '' || typeof value === 'boolean') return null;
    const num = Number(value);
    return Number.isFinite(num) ? num : null;
  }

  const numberFormats = new Map();

  /** A cached Intl.NumberFormat of a page language (vi → vi-VN, else en-US). */
  function numberFormat(lang, maxDigits, minDigits = 0) {
    const key = `${lang}:${minDigits}:${maxDigits}`;
    if (!numberFormats.has(key)) {
      numberFormats.set(key, new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-US', {
        minimumFractionDigits: minDigits, maximumFractionDigits: maxDigits,
      }));
    }
    return numberFormats.get(key);
  }

  /** A measured value with sensible precision: 2 decimals below 10, 1 below `wholeFrom`,
   *  none above. '—' without a value; a value that is not a number as it is. */
  function formatNumber(value, lang, { wholeFrom = 100 } = {}) {
    if (value == null || value === '') return '—';
    const num = Number(value);
    if (!Number.isFinite(num)) return String(value);
    const abs = Math.abs(num);
    const digits = abs >= wholeFrom ? 0 : abs >= 10 ? 1 : 2;
    return numberFormat(lang, digits).format(num);
  }

  // ---------------------------------------------------------------------------
  // Language (VI default, EN)
  // ---------------------------------------------------------------------------

  const LANGS = Object.freeze(['vi', 'en']);

  /** A page option: ?<param>= when allowed, else the one kept in localStorage, else `fallback`. */
  function pickSetting(param, storageKey, allowed, fallback) {
    const asked = new URLSearchParams(location.search).get(param);
    if (allowed.includes(asked)) return asked;
    try {
      const stored = localStorage.getItem(storageKey);
      if (allowed.includes(stored)) return stored;
    } catch (_) { /* storage may be disabled */ }
    return fallback;
  }

  /** The page language: ?lang=, then localStorage[storageKey], then 'vi'. */
  function pickLang(storageKey) {
    return pickSetting('lang', storageKey, LANGS, 'vi');
  }

  /** t(key, ...args) over a page's {vi: {...}, en: {...}} table for the language getLang()
   *  gives; a missing entry falls back to VI, then to the key; functions get the args. */
  function translator(table, getLang) {
    return function t(key, ...args) {
      const entry = table[getLang()]?.[key] ?? table.vi[key];
      if (typeof entry === 'function') return entry(...args);
      return entry ?? key;
    };
  }

  /** Keep a language choice: localStorage, and ?lang= in the address (without a reload) —
   *  always, or with onlyIfInUrl only when the address already has one. */
  function rememberLang(storageKey, lang, { onlyIfInUrl = false } = {}) {
    try { localStorage.setItem(storageKey, lang); } catch (_) { /* ignore */ }
    const url = new URL(location.href);
    if (onlyIfInUrl && !url.searchParams.has('lang')) return;
    url.searchParams.set('lang', lang);
    window.history.replaceState(null, '', url);
  }

  /** Put the page in a language: <html lang>, the title (t(titleKey)), [data-i18n] texts,
   *  [data-i18n-placeholder] placeholders and the VI/EN buttons (.lang-switch [data-lang]). */
  function translatePage(t, lang, titleKey = 'pageTitle') {
    document.documentElement.lang = lang;
    document.title = t(titleKey);
    for (const node of document.querySelectorAll('[data-i18n]')) setText(node, t(node.dataset.i18n));
    for (const node of document.querySelectorAll('[data-i18n-placeholder]')) {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    }
    for (const button of document.querySelectorAll('.lang-switch [data-lang]')) {
      const active = button.dataset.lang === lang;
      button.classList.toggle('is-active', active);
      button.setAttribute('aria-pressed', String(active));
    }
  }

  // ---------------------------------------------------------------------------
  // Server calls (same origin, the session cookie)
  // ---------------------------------------------------------------------------

  /** The login page, to come back here (path, query and fragment) afterwards. */
  function toLogin() {
    const here = location.pathname + location.search + location.hash;
    location.assign(`/login?next=${encodeURIComponent(here)}`);
  }

  /**
   * A same-origin call that never throws: {ok, status, body, reason}. A plain `body` is sent
   * as JSON, a FormData as it is. The answer's `body` is its JSON object ({} when there is
   * none); a failure has body.error (the server's, else "<status> <text>") and `reason` (the
   * server's error, else the start of its answer, else the status text; for status 0, no
   * answer at all, the network error). A 401 means the login ended: toLogin().
   * options: networkError (body.error of status 0), cache (fetch's cache mode).
   */
  async function api(method, path, body, { networkError = 'network error', cache } = {}) {
    const init = {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    };
    if (cache) init.cache = cache;
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, body: { error: networkError }, reason: String(err?.message || err) };
    }
    if (response.status === 401) {
      toLogin();
      return { ok: false, status: 401, body: { error: 'login required' }, reason: 'login required' };
    }
    const text = response.status === 204 ? '' : await response.text().catch(() => '');
    let parsed = {};
    try {
      const value = text ? JSON.parse(text) : null;
      if (value && typeof value === 'object') parsed = value;
    } catch (_) { /* not JSON */ }
    let reason = '';
    if (!response.ok) {
      reason = parsed.error || text.slice(0, 200) || response.statusText;
      if (!parsed.error) parsed.error = `${response.status} ${response.statusText}`;
    }
    return { ok: response.ok, status: response.status, body: parsed, reason };
  }

  /** End the session, then the login page (with ?next= when given). */
  async function logout(next) {
    try {
      await fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' });
    } catch (_) { /* leave anyway */ }
    location.assign(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  }

  // ---------------------------------------------------------------------------
  // Feedback
  // ---------------------------------------------------------------------------

  let toastTimer = null;

  /** Show a message in #toast for `ms`; `kind` (when given) goes to its data-kind. */
  function showToast(message, { ms = 8000, kind } = {}) {
    const box = $('toast');
    box.textContent = message;
    if (kind) box.dataset.kind = kind;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, ms);
  }

  return Object.freeze({
    SVG_NS, $, el, svgEl, setAttrs, setText,
    TIME_ZONE, zonedParts, parseTime, formatDate, formatClock, formatDateTime,
    finiteOrNull, numberFormat, formatNumber,
    LANGS, pickSetting, pickLang, translator, rememberLang, translatePage,
    toLogin, api, logout,
    showToast,
  });
})();
