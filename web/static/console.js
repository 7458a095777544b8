/*
 * IOC officer console (/console): the entry module. It holds the header, the tabs, the
 * language switch and the start-up, and wires the tabs together; each concern is a module in
 * console/:
 *
 *   core.js              page state, t() (i18n-vi.js, i18n-en.js), API calls, toasts, confirm
 *   format.js            times (Asia/Ho_Chi_Minh), numbers, rule levels, item differences
 *   problems.js          the service's problems shown next to their fields
 *   rules.js             alert rules: list, editor, live validation, save/delete, history
 *   rule-preview.js      the rule editor's backtest preview (chart: rule-chart.js)
 *   detector-rules.js    the built-in anomaly and camera rules (loaded with the rules tab)
 *   registry-editor.js   the item editor of the station and transport registries
 *   stations.js          the station registry
 *   fleet.js             the transport registry (kinds: fleet-kinds.js, zones: zone-editor.js)
 *   silences.js          alert silences
 *   history-row.js       a row of configuration history with its roll-back
 *   config-history.js    the History tab
 *   audit.js             the audit log (administrators)
 *
 * Shared page helpers from common.js (window.IOC); same-origin requests only (the session
 * cookie). Officers and admins get the page; what an admin alone may do (stations, audit)
 * follows GET /api/v1/auth/me capabilities ("administer").
 *
 * URL options: ?lang=vi|en; #rules, #stations, #fleet, #silences, #history, #audit pick the tab.
 */
import { state, t, api, toast, errorText, LANG_STORAGE_KEY } from './console/core.js';
import { rules, editor, loadDetectorRules, initRules } from './console/rules.js';
import { stations, initStations } from './console/stations.js';
import { fleet, initFleet, isFleetKind } from './console/fleet.js';
import { silences, renderSilenceOptions, initSilences } from './console/silences.js';
import { createConfigHistory } from './console/config-history.js';
import { audit, initAudit } from './console/audit.js';

const { $, rememberLang, translatePage } = IOC;

const TABS = ['rules', 'stations', 'fleet', 'silences', 'history', 'audit'];

/** After a roll-back in the History tab: reload what the change touched. */
async function afterHistoryRollback(change) {
  if (change.kind === 'rule') {
    await rules.load();
    if (editor.key === change.key) {
      if (state.rules.has(change.key)) editor.open(change.key); else editor.close();
    }
  } else if (change.kind === 'detector') {
    await loadDetectorRules();
  } else if (isFleetKind(change.kind)) {
    await fleet.load();
  } else {
    await stations.load();
  }
}

const configHistory = createConfigHistory(afterHistoryRollback);

function renderHeader() {
  const me = state.me;
  if (!me) return;
  $('user-name').textContent = me.display_name || me.username;
  $('user-name').title = me.username;
  $('user-role').textContent = t(`role_${me.role}`);
  document.body.dataset.role = me.role;
  document.body.dataset.user = me.username;
}

function showTab(name, { load = true } = {}) {
  if (!TABS.includes(name) || (name === 'audit' && !state.canAdminister)) name = 'rules';
  state.tab = name;
  for (const b of document.querySelectorAll('[data-tab]')) {
    const on = b.dataset.tab === name;
    b.classList.toggle('is-active', on);
    b.setAttribute('aria-selected', String(on));
  }
  for (const panel of document.querySelectorAll('[data-panel]')) panel.hidden = panel.dataset.panel !== name;
  document.body.dataset.tab = name;
  if (location.hash !== `#${name}`) replaceHash(`#${name}`);
  if (!load) return;
  if (name === 'rules') rules.load();
  else if (name === 'stations') stations.load();
  else if (name === 'fleet') fleet.load();
  else if (name === 'silences') { silences.load(); }
  else if (name === 'history') configHistory.load();
  else if (name === 'audit') audit.load();
}

function replaceHash(hash) {
  const url = new URL(location.href);
  url.hash = hash;
  window.history.replaceState(null, '', url);
}

function applyLang() {
  translatePage(t, state.lang);
  renderHeader();
}

function switchLang(lang) {
  state.lang = lang;
  rememberLang(LANG_STORAGE_KEY, lang);
  applyLang();
  rules.render();
  stations.render();
  silences.render();
  renderSilenceOptions();
  if (state.history.length) configHistory.render();
  if (state.audit.length) audit.render();
  if (editor.draft) {
    editor.renderTitle();
    editor.showProblems(editor.problems, editor.checkedSeq);
    if (editor.preview) editor.renderPreview();
  }
  if (stations.draft) stations.start();
  if (fleet.kind) fleet.render();
  if (fleet.draft) fleet.start();
  if (state.detectorRules) state.detectorRules.render();
}

async function start() {
  applyLang();
  for (const b of document.querySelectorAll('[data-lang]')) b.addEventListener('click', () => switchLang(b.dataset.lang));
  for (const b of document.querySelectorAll('[data-tab]')) b.addEventListener('click', () => showTab(b.dataset.tab));
  window.addEventListener('hashchange', () => {
    const name = location.hash.slice(1);
    if (name !== state.tab) showTab(name);
  });
  $('logout').addEventListener('click', () => IOC.logout());
  initRules();
  initStations();
  initFleet();
  initSilences();
  configHistory.init();
  initAudit();

  const me = await api('GET', '/api/v1/auth/me');
  if (!me.ok) {
    if (me.status !== 401) toast(t('loadFailed', errorText(me)), 'error');
    return;
  }
  state.me = me.body;
  const caps = new Set(me.body.capabilities || []);
  state.canAdminister = caps.has('administer');
  state.canConfigure = caps.has('configure');
  document.body.dataset.admin = String(state.canAdminister);
  $('rule-new').hidden = !state.canConfigure;
  document.querySelector('[data-tab="audit"]').hidden = !state.canAdminister;
  renderHeader();

  const board = await api('GET', '/api/v1/stations');
  if (board.ok) state.boardStations = board.body.stations || [];
  await Promise.all([rules.load(), stations.load()]);
  showTab(location.hash.slice(1) || 'rules', { load: false });
  if (state.tab !== 'rules' && state.tab !== 'stations') showTab(state.tab);
  document.body.dataset.ready = 'true';
}

start();
