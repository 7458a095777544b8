/*
 * IOC login page: POST /api/v1/auth/login (session cookie), then go to ?next= when it is a
 * local path, else to "/". Plain ES2020; shared helpers from common.js (window.IOC).
 * ?lang=vi|en (default vi).
 */
'use strict';

(() => {
  // Shared helpers: common.js.
  const { $, pickLang, translator, rememberLang, translatePage } = IOC;

  const LANG_STORAGE_KEY = 'ioc.lang';

  const I18N = {
    vi: {
      pageTitle: 'Đăng nhập — Trung tâm Điều hành Thông minh',
      title: 'Trung tâm Điều hành Thông minh',
      subtitle: 'Giám sát Môi trường',
      heading: 'Đăng nhập',
      username: 'Tên đăng nhập',
      password: 'Mật khẩu',
      submit: 'Đăng nhập',
      submitting: 'Đang đăng nhập…',
      hint: 'Chỉ dành cho cán bộ được cấp tài khoản.',
      missing: 'Nhập tên đăng nhập và mật khẩu.',
      wrong: 'Sai tên đăng nhập hoặc mật khẩu.',
      locked: (s) => `Tài khoản tạm khóa do đăng nhập sai nhiều lần. Thử lại sau ${s} giây.`,
      unlocked: 'Có thể thử đăng nhập lại.',
      badRequest: (d) => `Yêu cầu không hợp lệ: ${d}`,
      server: (code) => `Lỗi máy chủ (${code}). Vui lòng thử lại.`,
      network: 'Không kết nối được máy chủ. Kiểm tra mạng và thử lại.',
      next: (p) => `Sau khi đăng nhập sẽ mở ${p}`,
    },
    en: {
      pageTitle: 'Log in — Intelligent Operations Center',
      title: 'Intelligent Operations Center',
      subtitle: 'Environmental Monitoring',
      heading: 'Log in',
      username: 'User name',
      password: 'Password',
      submit: 'Log in',
      submitting: 'Logging in…',
      hint: 'Authorised staff only.',
      missing: 'Enter your user name and password.',
      wrong: 'Wrong user name or password.',
      locked: (s) => `Too many failed attempts: locked. Try again in ${s} s.`,
      unlocked: 'You may try again now.',
      badRequest: (d) => `Invalid request: ${d}`,
      server: (code) => `Server error (${code}). Please try again.`,
      network: 'Cannot reach the server. Check the network and try again.',
      next: (p) => `After logging in: ${p}`,
    },
  };

  const params = new URLSearchParams(location.search);
  let lang = pickLang(LANG_STORAGE_KEY);
  let lockTimer = null;
  let lockUntil = 0;
  let lastError = null; // {key, args} to re-translate on language switch

  const form = $('login-form');
  const username = $('login-username');
  const password = $('login-password');
  const submit = $('login-submit');
  const errorBox = $('login-error');

  const t = translator(I18N, () => lang);

  /** The page to open after logging in: a local path only ("/x", never "//host" or
   *  "/\host", no control characters), else "/". */
  function safeNext(raw) {
    if (typeof raw !== 'string' || !raw.startsWith('/') || raw.startsWith('//')) return '/';
    if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
    try {
      const url = new URL(raw, location.origin);
      if (url.origin !== location.origin) return '/';
      return url.pathname + url.search + url.hash;
    } catch (_) {
      return '/';
    }
  }

  function applyLang() {
    translatePage(t, lang);
    const next = safeNext(params.get('next'));
    const nextNote = $('login-next');
    nextNote.hidden = next === '/';
    nextNote.textContent = t('next', next);
    if (lastError) showError(lastError.key, lastError.kind, ...lastError.args);
  }

  function showError(key, kind, ...args) {
    lastError = { key, kind, args };
    errorBox.textContent = t(key, ...args);
    errorBox.dataset.kind = kind;
    errorBox.hidden = false;
  }

  function clearError() {
    lastError = null;
    errorBox.hidden = true;
    errorBox.textContent = '';
    delete errorBox.dataset.kind;
  }

  function setBusy(busy) {
    submit.disabled = busy || Date.now() < lockUntil;
    submit.textContent = busy ? t('submitting') : t('submit');
    form.setAttribute('aria-busy', String(busy));
  }

  function startLockout(seconds) {
    const total = Math.max(1, Math.ceil(Number(seconds) || 1));
    lockUntil = Date.now() + total * 1000;
    clearInterval(lockTimer);
    const tick = () => {
      const left = Math.ceil((lockUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(lockTimer);
        lockTimer = null;
        submit.disabled = false;
        showError('unlocked', 'info');
        return;
      }
      submit.disabled = true;
      showError('locked', 'locked', left);
      errorBox.dataset.retryAfter = String(left);
    };
    tick();
    lockTimer = setInterval(tick, 1000);
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (Date.now() < lockUntil) return;
    const user = username.value.trim();
    if (!user || !password.value) {
      showError('missing', 'missing');
      (user ? password : username).focus();
      return;
    }
    clearError();
    setBusy(true);
    let response;
    let body = {};
    try {
      response = await fetch('/api/v1/auth/login', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username: user, password: password.value }),
      });
      body = await response.json().catch(() => ({}));
    } catch (_) {
      setBusy(false);
      showError('network', 'network');
      return;
    }
    if (response.ok) {
      document.body.dataset.loggedIn = 'true';
      location.assign(safeNext(params.get('next')));
      return;
    }
    setBusy(false);
    password.value = '';
    if (response.status === 401) {
      showError('wrong', 'wrong');
      password.focus();
    } else if (response.status === 429) {
      const header = Number(response.headers.get('Retry-After'));
      startLockout(body.retry_after_s ?? (Number.isFinite(header) ? header : 60));
    } else if (response.status === 400) {
      showError('badRequest', 'bad_request', body.error || response.statusText);
    } else {
      showError('server', 'server', response.status);
    }
  }

  form.addEventListener('submit', onSubmit);
  for (const b of document.querySelectorAll('[data-lang]')) {
    b.addEventListener('click', () => {
      lang = b.dataset.lang;
      rememberLang(LANG_STORAGE_KEY, lang);
      applyLang();
      setBusy(false);
    });
  }
  applyLang();
  document.body.dataset.ready = 'true';
})();
