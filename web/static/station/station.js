/*
 * The station page, /stations/{id}: a period (local time, Asia/Ho_Chi_Minh; ?start= and ?end=
 * as datetime-local values, default the last 24 hours), the station's hourly and daily VN_AQI
 * over the colour bands, a chart per parameter with its limit lines, the station's alerts of
 * the period (opened in it, or earlier and still going on in it), and the period's readings
 * as CSV.
 * Data: GET /api/v1/stations/{id}/history, GET /api/v1/alerts?station=, and the CSV link
 * GET /api/v1/stations/{id}/export. ?lang=vi|en.
 */

import { aqiChart, seriesChart } from './chart.js';
import { STATION_I18N, fromLocalInput, localInputValue } from './strings.js';

const { $, el, pickLang, rememberLang, translatePage, translator, formatDateTime, formatNumber } = IOC;
const LANG_STORAGE_KEY = 'ioc.station.lang';
const DAY_MS = 86_400_000;
const MAX_ALERTS = 1000;
const ALERT_LOOKBACK_MS = 31 * DAY_MS;

const stationId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const params = new URLSearchParams(location.search);
const now = Date.now();
const state = {
  lang: pickLang(LANG_STORAGE_KEY),
  end: fromLocalInput(params.get('end')) ?? now,
  start: null,
  history: null,
  alerts: [],
};
state.start = fromLocalInput(params.get('start')) ?? state.end - DAY_MS;
const t = translator(STATION_I18N, () => state.lang);

function notice(message) {
  $('notice').textContent = message || '';
  $('notice').hidden = !message;
}

function rangeQuery() {
  const iso = (ms) => new Date(ms).toISOString();
  return `start=${encodeURIComponent(iso(state.start))}&end=${encodeURIComponent(iso(state.end))}`;
}

async function load() {
  document.body.dataset.ready = 'false';
  const base = `/api/v1/stations/${encodeURIComponent(stationId)}`;
  // Alerts opened up to ALERT_LOOKBACK_MS before the period that were still going on in it
  // count too (the API filters on the opening time).
  const since = encodeURIComponent(new Date(state.start - ALERT_LOOKBACK_MS).toISOString());
  const until = encodeURIComponent(new Date(state.end).toISOString());
  const [history, alerts] = await Promise.all([
    IOC.api('GET', `${base}/history?${rangeQuery()}`),
    IOC.api('GET', `/api/v1/alerts?station=${encodeURIComponent(stationId)}&since=${since}&until=${until}&limit=${MAX_ALERTS}`),
  ]);
  if (history.status === 401) return;
  state.history = history.ok ? history.body : null;
  state.alerts = (alerts.ok ? alerts.body.alerts || [] : []).filter((a) => {
    const over = IOC.parseTime(a.resolved_at || a.closed_at);
    return over == null || over >= state.start;
  });
  if (!history.ok) {
    const messages = { 400: t('badRange'), 403: t('forbidden'), 404: t('notFound'), 503: t('dbUnavailable') };
    notice(messages[history.status] || t('loadFailed', history.reason));
  } else {
    notice('');
  }
  render();
  document.body.dataset.ready = 'true';
}

function render() {
  translatePage(t, state.lang);
  $('range-start').value = localInputValue(state.start);
  $('range-end').value = localInputValue(state.end);
  $('station-csv').href = `/api/v1/stations/${encodeURIComponent(stationId)}/export?${rangeQuery()}&lang=${state.lang}`;
  $('station-period').textContent = t('period', formatDateTime(state.start), formatDateTime(state.end));
  for (const id of ['aqi-hourly', 'aqi-legend', 'aqi-daily', 'charts', 'alerts']) $(id).replaceChildren();
  const h = state.history;
  $('station-title').textContent = h ? `${h.name} (${h.id})` : stationId;
  if (!h) {
    $('aqi-section').hidden = true;
    $('charts-note').textContent = '';
    return;
  }
  const kinds = t('kind');
  const owner = h.owner === 'state' ? t('state') : h.owner;
  $('station-meta').textContent = `${kinds[h.kind] || h.kind} · ${t('owner')}: ${owner}`;
  document.title = `${h.name} — ${t('pageTitle')}`;
  renderAqi(h);
  renderCharts(h);
  renderAlerts();
}

function renderAqi(h) {
  const has = h.aqi_hourly.length > 0 || h.aqi_daily.length > 0;
  $('aqi-section').hidden = !has && h.kind !== 'air';
  const startMs = Date.parse(h.start);
  const endMs = Date.parse(h.end);
  if (h.aqi_hourly.length) {
    $('aqi-hourly').append(aqiChart({ points: h.aqi_hourly, bands: h.aqi_bands, startMs, endMs, lang: state.lang }));
  } else {
    $('aqi-hourly').append(el('p', { class: 'empty' }, t('noAqi')));
  }
  $('aqi-legend').append(...h.aqi_bands.map((b) => el('span', { style: `background:${b.color}40;border-color:${b.color}` },
    `${b.low}–${b.high} ${state.lang === 'en' ? b.label_en : b.label_vi}`)));
  const days = el('div', { class: 'aqi-days' });
  for (const day of h.aqi_daily) {
    const band = h.aqi_bands[day.band];
    days.append(el('div', {
      class: `aqi-day${day.complete ? '' : ' is-partial'}`, 'data-testid': 'aqi-day', 'data-date': day.date,
      'data-aqi': day.aqi, style: `background:${day.color || '#eee'}40;border-color:${day.color || '#ccc'}`,
    },
    day.date.split('-').reverse().join('/'),
    el('strong', null, formatNumber(day.aqi, state.lang)),
    band ? (state.lang === 'en' ? band.label_en : band.label_vi) : '',
    day.complete ? null : el('div', { class: 'muted small' }, t('partialDay'))));
  }
  $('aqi-daily').append(h.aqi_daily.length ? days : el('p', { class: 'empty' }, t('noAqi')));
}

function renderCharts(h) {
  const startMs = Date.parse(h.start);
  const endMs = Date.parse(h.end);
  const times = h.times.map((x) => Date.parse(x));
  $('charts-note').textContent = t('step', Math.round(h.step_s / 60));
  if (!times.length) {
    $('charts').append(el('p', { class: 'empty', 'data-testid': 'no-data' }, t('noData')));
    return;
  }
  for (const p of h.parameters) {
    const label = state.lang === 'en' ? p.label_en : p.label_vi;
    const points = times.map((ms, i) => [ms, p.values[i]]);
    const hasData = p.values.some((v) => v != null);
    const maxGapMs = 3 * Math.max(h.step_s, h.interval_s) * 1000;
    const card = el('div', { class: 'chart-card', 'data-testid': 'parameter-chart', 'data-parameter': p.key },
      el('h4', null, `${label} (${p.unit})`),
      hasData
        ? seriesChart({ points, limits: p.limits, startMs, endMs, lang: state.lang, testid: `chart-${p.key}`, maxGapMs })
        : el('p', { class: 'empty' }, t('noData')),
      p.limits.length ? el('div', { class: 'limits' },
        p.limits.map((l) => t('limit', l.rule_name, l.window, `${formatNumber(l.value, state.lang)} ${p.unit}`)).join(' · ')) : null);
    $('charts').append(card);
  }
}

/** A limit rule's limit; an anomaly's baseline (its `limit` is a detector threshold, a score). */
function limitOrBaseline(alert) {
  if (!String(alert.rule_id || '').startsWith('anomaly.')) return formatNumber(alert.limit, state.lang);
  return alert.baseline == null ? '—' : `${t('baseline')} ${formatNumber(alert.baseline, state.lang)}`;
}

function renderAlerts() {
  if (!state.alerts.length) {
    $('alerts').append(el('p', { class: 'empty' }, t('noAlerts')));
    return;
  }
  const heads = ['opened', 'resolved', 'rule', 'parameter', 'severity', 'stateCol', 'value', 'peak', 'limitCol'];
  const rows = state.alerts.map((a) => el('tr', { 'data-testid': 'station-alert', 'data-alert-id': a.id },
    el('td', null, formatDateTime(a.opened_at)),
    el('td', null, formatDateTime(a.resolved_at || a.closed_at)),
    el('td', null, a.rule_name),
    el('td', null, a.parameter),
    el('td', null, t('severities')[a.severity] || a.severity),
    el('td', null, t('states')[a.state] || a.state),
    el('td', { class: 'num' }, formatNumber(a.value, state.lang)),
    el('td', { class: 'num' }, formatNumber(a.peak, state.lang)),
    el('td', { class: 'num' }, limitOrBaseline(a))));
  $('alerts').append(el('table', { class: 'report-table' },
    el('thead', null, el('tr', null, heads.map((k) => el('th', null, t(k))))),
    el('tbody', null, rows)));
}

function setRange(start, end) {
  state.start = start;
  state.end = end;
  const url = new URL(location.href);
  url.searchParams.set('start', localInputValue(start));
  url.searchParams.set('end', localInputValue(end));
  history.replaceState(null, '', url);
  load();
}

function wire() {
  $('range-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const start = fromLocalInput($('range-start').value);
    const end = fromLocalInput($('range-end').value);
    if (start == null || end == null || start >= end || end - start > 31 * DAY_MS) {
      notice(t('badRange'));
      return;
    }
    setRange(start, end);
  });
  for (const button of document.querySelectorAll('.quick-ranges [data-days]')) {
    button.addEventListener('click', () => {
      const end = Date.now();
      setRange(end - Number(button.dataset.days) * DAY_MS, end);
    });
  }
  $('station-print').addEventListener('click', () => window.print());
  for (const button of document.querySelectorAll('.lang-switch button')) {
    button.addEventListener('click', () => {
      state.lang = button.dataset.lang;
      rememberLang(LANG_STORAGE_KEY, state.lang);
      render();
    });
  }
}

wire();
load();
