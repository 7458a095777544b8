/*
 * The printable monthly report. Served as /reports/monthly (officers: the province, or
 * ?enterprise=ID; GET /api/v1/reports/monthly) and as /portal/report (an enterprise's own;
 * GET /api/v1/portal/reports/monthly). URL options: ?month=YYYY-MM, ?enterprise=ID,
 * ?lang=vi|en. Times in Asia/Ho_Chi_Minh. Printing hides the controls (report.css).
 */

import { REPORT_I18N, recentMonths, reportUrl, thisMonth } from './report/strings.js';
import { exceedancesBlock, gapsBlock, ownersTable, stationsTable } from './report/tables.js';

const { $, pickLang, rememberLang, translatePage, translator, formatDateTime } = IOC;
const LANG_STORAGE_KEY = 'ioc.report.lang';
const MONTHS_OFFERED = 24;

const params = new URLSearchParams(location.search);
const state = {
  lang: pickLang(LANG_STORAGE_KEY),
  portal: location.pathname.startsWith('/portal'),
  month: /^\d{4}-\d{2}$/.test(params.get('month') || '') ? params.get('month') : thisMonth(),
  enterprise: params.get('enterprise') || '',
  report: null,
};
const t = translator(REPORT_I18N, () => state.lang);

function notice(message) {
  $('notice').textContent = message || '';
  $('notice').hidden = !message;
}

async function load() {
  const result = await IOC.api('GET', reportUrl({ ...state, format: 'json' }));
  if (result.status === 401) return;
  if (!result.ok) {
    state.report = null;
    notice(result.status === 503 ? t('dbUnavailable') : t('loadFailed', result.reason));
  } else {
    state.report = result.body;
    notice('');
  }
  render();
  document.body.dataset.ready = 'true';
}

function render() {
  translatePage(t, state.lang);
  const report = state.report;
  for (const id of ['owners', 'stations', 'exceedances', 'gaps']) $(id).replaceChildren();
  if (!report) return;
  const scope = report.enterprise
    ? `${report.enterprise_name} (${report.enterprise})` : t('province');
  $('report-scope').textContent = `${scope} — ${t('month')} ${report.month.split('-').reverse().join('/')}`;
  const end = Date.parse(report.end) - 1000;
  $('report-period').textContent = t('period', formatDateTime(report.start), formatDateTime(end));
  $('report-generated').textContent = t('generatedAt', formatDateTime(report.generated_at));
  $('report-partial').hidden = !report.partial;
  $('owners-section').hidden = report.scope !== 'province';
  if (report.scope === 'province') $('owners').append(ownersTable(report, t, state.lang));
  $('stations').append(stationsTable(report, t, state.lang));
  $('exceedances').append(exceedancesBlock(report, t, state.lang));
  $('gaps').append(gapsBlock(report, t));
}

function wire() {
  const select = $('report-month');
  const months = recentMonths(MONTHS_OFFERED);
  if (!months.includes(state.month)) months.unshift(state.month);
  select.replaceChildren(...months.map((m) => IOC.el('option', { value: m }, m)));
  select.value = state.month;
  $('report-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.month = select.value;
    const url = new URL(location.href);
    url.searchParams.set('month', state.month);
    history.replaceState(null, '', url);
    load();
  });
  $('report-print').addEventListener('click', () => window.print());
  for (const button of document.querySelectorAll('.lang-switch button')) {
    button.addEventListener('click', () => {
      state.lang = button.dataset.lang;
      rememberLang(LANG_STORAGE_KEY, state.lang);
      render();
    });
  }
}

wire();
render();
load();
