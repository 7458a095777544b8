/*
 * The portal's alerts section: the enterprise's open alerts and its alert history
 * (GET /api/v1/portal/alerts — its own stations only; an admin the enterprise chosen).
 * Times in Asia/Ho_Chi_Minh.
 */

import { onContext, translateSection } from './context.js';

const { $, el, formatDateTime, translator } = IOC;
const REFRESH_MS = 60000;
const HISTORY_DAYS = 30;

const I18N = {
  vi: {
    alertsTitle: 'Cảnh báo của doanh nghiệp',
    openTitle: 'Cảnh báo đang mở',
    historyTitle: `Lịch sử cảnh báo và vượt ngưỡng (${HISTORY_DAYS} ngày)`,
    noOpen: 'Không có cảnh báo đang mở.',
    noHistory: 'Không có cảnh báo trong khoảng thời gian này.',
    station: 'Trạm', rule: 'Quy tắc', parameter: 'Thông số', severity: 'Mức độ', state: 'Trạng thái',
    opened: 'Bắt đầu', resolved: 'Kết thúc', value: 'Giá trị', peak: 'Cực trị', limit: 'Ngưỡng',
    state_open: 'Đang mở', state_acknowledged: 'Đã tiếp nhận', state_resolved: 'Đã hết',
    state_closed: 'Đã đóng',
    severity_critical: 'Nghiêm trọng', severity_warning: 'Cảnh báo', severity_info: 'Thông tin',
    loadFailed: (d) => `Không tải được cảnh báo: ${d}`,
  },
  en: {
    alertsTitle: 'The enterprise\'s alerts',
    openTitle: 'Open alerts',
    historyTitle: `Alert and exceedance history (${HISTORY_DAYS} days)`,
    noOpen: 'No open alert.',
    noHistory: 'No alert in this period.',
    station: 'Station', rule: 'Rule', parameter: 'Parameter', severity: 'Severity', state: 'State',
    opened: 'Start', resolved: 'End', value: 'Value', peak: 'Peak', limit: 'Limit',
    state_open: 'Open', state_acknowledged: 'Acknowledged', state_resolved: 'Resolved',
    state_closed: 'Closed',
    severity_critical: 'Critical', severity_warning: 'Warning', severity_info: 'Info',
    loadFailed: (d) => `Could not load the alerts: ${d}`,
  },
};

const state = { lang: 'vi', enterprise: '', answer: null, error: '' };
const t = translator(I18N, () => state.lang);

async function load() {
  const query = new URLSearchParams({ days: String(HISTORY_DAYS) });
  if (state.enterprise) query.set('enterprise', state.enterprise);
  const result = await IOC.api('GET', `/api/v1/portal/alerts?${query}`);
  if (result.status === 401) return;
  state.answer = result.ok ? result.body : null;
  state.error = result.ok ? '' : t('loadFailed', result.reason);
  render();
}

function row(alert, withEnd) {
  const n = (value) => IOC.formatNumber(value, state.lang);
  return el('tr', {
    'data-testid': withEnd ? 'portal-alert-history-row' : 'portal-open-alert',
    'data-alert-id': alert.id, 'data-station-id': alert.station_id, 'data-state': alert.state,
  },
  el('td', null, alert.station_name, el('div', { class: 'muted small mono' }, alert.station_id)),
  el('td', null, alert.rule_name),
  el('td', { class: 'mono' }, alert.parameter),
  el('td', null, el('span', { class: `chip severity-${alert.severity}` }, t(`severity_${alert.severity}`))),
  el('td', null, t(`state_${alert.state}`)),
  el('td', { class: 'mono small nowrap' }, formatDateTime(alert.opened_at)),
  withEnd ? el('td', { class: 'mono small nowrap' }, formatDateTime(alert.resolved_at)) : null,
  el('td', { class: 'num' }, n(alert.value)),
  el('td', { class: 'num' }, n(alert.peak)),
  el('td', { class: 'num' }, n(alert.limit)));
}

function heads(withEnd) {
  return el('tr', null, ...['station', 'rule', 'parameter', 'severity', 'state', 'opened',
    ...(withEnd ? ['resolved'] : []), 'value', 'peak', 'limit'].map((k) => el('th', null, t(k))));
}

function render() {
  const section = $('alerts');
  translateSection(section, t);
  $('alerts-error').textContent = state.error;
  $('alerts-error').hidden = !state.error;
  const open = state.answer?.open || [];
  const history = state.answer?.history || [];
  $('open-alerts-head').replaceChildren(heads(false));
  $('open-alerts-rows').replaceChildren(...open.map((a) => row(a, false)));
  $('open-alerts-empty').hidden = open.length > 0;
  $('alert-history-head').replaceChildren(heads(true));
  $('alert-history-rows').replaceChildren(...history.map((a) => row(a, true)));
  $('alert-history-empty').hidden = history.length > 0;
}

let timer = null;
onContext((context) => {
  const changed = context.enterprise !== state.enterprise || !state.answer;
  state.lang = context.lang;
  state.enterprise = context.enterprise;
  render();
  if (changed) load();
  clearInterval(timer);
  timer = setInterval(load, REFRESH_MS);
});
