/*
 * The portal's monthly report section: the enterprise's completeness per station for a month
 * (GET /api/v1/portal/reports/monthly), with CSV and XLSX downloads and the printable page
 * (/portal/report).
 */

import { onContext, translateSection } from './context.js';
import { REPORT_I18N, recentMonths, reportUrl } from '../report/strings.js';
import { exceedancesBlock, stationsTable } from '../report/tables.js';

const { $, el, translator } = IOC;
const MONTHS_OFFERED = 12;

const I18N = {
  vi: {
    ...REPORT_I18N.vi,
    reportTitle: 'Báo cáo tháng: độ đầy đủ dữ liệu',
    downloadCsv: 'Tải CSV',
    downloadXlsx: 'Tải Excel (XLSX)',
    printable: 'Bản in',
  },
  en: {
    ...REPORT_I18N.en,
    reportTitle: 'Monthly report: data completeness',
    downloadCsv: 'Download CSV',
    downloadXlsx: 'Download Excel (XLSX)',
    printable: 'Printable page',
  },
};

const state = { lang: 'vi', enterprise: '', month: recentMonths(1)[0], report: null, error: '' };
const t = translator(I18N, () => state.lang);

function links() {
  const common = { portal: true, month: state.month, enterprise: state.enterprise, lang: state.lang };
  $('report-csv').href = reportUrl({ ...common, format: 'csv' });
  $('report-xlsx').href = reportUrl({ ...common, format: 'xlsx' });
  const page = new URLSearchParams({ month: state.month, lang: state.lang });
  if (state.enterprise) page.set('enterprise', state.enterprise);
  $('report-page').href = `/portal/report?${page}`;
}

async function load() {
  links();
  const result = await IOC.api('GET', reportUrl({ portal: true, month: state.month, enterprise: state.enterprise }));
  if (result.status === 401) return;
  state.report = result.ok ? result.body : null;
  state.error = result.ok ? '' : (result.status === 503 ? t('dbUnavailable') : t('loadFailed', result.reason));
  render();
}

function render() {
  translateSection($('report'), t);
  links();
  $('report-error').textContent = state.error;
  $('report-error').hidden = !state.error;
  const body = $('report-content');
  body.replaceChildren();
  const report = state.report;
  if (!report) return;
  body.append(
    el('div', { class: 'table-scroll' }, stationsTable(report, t, state.lang)),
    el('h3', { class: 'sub-title' }, t('exceedancesTitle')),
    exceedancesBlock(report, t, state.lang),
  );
}

function wire() {
  const select = $('report-month');
  select.replaceChildren(...recentMonths(MONTHS_OFFERED).map((m) => el('option', { value: m }, m)));
  select.value = state.month;
  select.addEventListener('change', () => { state.month = select.value; load(); });
}

wire();
onContext((context) => {
  const changed = context.enterprise !== state.enterprise || (!state.report && !state.error);
  state.lang = context.lang;
  state.enterprise = context.enterprise;
  render();
  if (changed) load();
});
