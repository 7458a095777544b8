/*
 * The rule editor's preview: the edited rule run over the stored history
 * (POST /api/v1/rules/backtest), alerts per station, and the chart of one station
 * (console/rule-chart.js). These are methods of the rule editor (console/rules.js), which
 * keeps the preview in editor.preview: {days, startMs, endMs, result, draft, station, events}.
 */
import { state, t, api, clone, canonical, setStatus, errorText, DAY_MS } from './core.js';
import { formatDuration, stationName } from './format.js';
import { drawChart, READINGS_LIMIT } from './rule-chart.js';

const { $, el, parseTime, formatClock, finiteOrNull: finite } = IOC;

/** Parameters the service computes (no readings of them to plot). */
export const DERIVED_PARAMETERS = ['aqi', 'aqi_day', 'nesterov', 'fire_level', 'fwi', 'volume_day'];

export const previewMethods = {
  markPreviewStale() {
    if (!this.preview) return;
    const stale = canonical(this.preview.draft) !== canonical(this.draft);
    $('preview-result').dataset.stale = String(stale);
    if (stale) setStatus($('preview-status'), t('previewStale'), 'stale');
  },

  async runPreview() {
    if (!this.draft) return;
    const problems = await this.validate();
    if (problems === null) return;
    if (this.rawError || problems.length) {
      setStatus($('preview-status'), t('previewInvalid'), 'error');
      return;
    }
    const days = Number($('preview-days').value) || 7;
    const endMs = Date.now();
    const startMs = endMs - days * DAY_MS;
    const draft = clone(this.draft);
    if (!draft.id) draft.id = this.key || 'preview';
    setStatus($('preview-status'), t('previewRunning', days), 'running');
    $('preview-run').disabled = true;
    const result = await api('POST', '/api/v1/rules/backtest', {
      rule: draft,
      start: new Date(startMs).toISOString(),
      end: new Date(endMs).toISOString(),
    });
    this.updateButtons();
    if (!result.ok) {
      setStatus($('preview-status'), t('previewFailed', errorText(result)), 'error');
      return;
    }
    this.preview = { days, startMs, endMs, result: result.body, draft };
    setStatus($('preview-status'), t('previewDone', days, formatClock(Date.now())), 'done');
    this.renderPreview();
  },

  renderPreview() {
    const p = this.preview;
    if (!p) return;
    const { summary, stations, events } = p.result;
    $('preview-result').hidden = false;
    $('preview-result').dataset.stale = 'false';
    const count = $('preview-count');
    count.textContent = t('previewCount', summary.alerts);
    count.dataset.count = String(summary.alerts);
    count.parentElement.querySelector('.count-label')?.remove();
    count.parentElement.append(el('span', { class: 'count-label' }, ` ${t('previewCountLabel', summary.alerts, p.days)}`));
    $('preview-facts').textContent = t('previewFacts', summary.stations, summary.stations_alerted, summary.values, summary.flaps);
    // The backtest lists the stations that had events; the others it ran on had none.
    const quiet = { alerts: 0, flaps: 0, firing_s: 0 };
    for (const id of candidateStations(p.draft)) if (!stations[id]) stations[id] = quiet;
    const ids = Object.keys(stations).sort((a, b) => (stations[b].alerts - stations[a].alerts) || a.localeCompare(b));
    const tbody = $('preview-tbody');
    tbody.replaceChildren(...(ids.length ? ids.map((id) => el('tr', {
      'data-testid': 'preview-station-row',
      'data-station-id': id,
      'data-alerts': stations[id].alerts,
    },
    el('td', null, el('span', { class: 'mono' }, id), ' ', el('span', { class: 'muted' }, stationName(id) !== id ? stationName(id) : '')),
    el('td', { class: 'num mono', 'data-testid': 'preview-station-count' }, stations[id].alerts),
    el('td', { class: 'num mono' }, stations[id].flaps),
    el('td', { class: 'num mono' }, formatDuration(stations[id].firing_s))))
      : [el('tr', null, el('td', { colspan: 4, class: 'muted' }, t('noStations')))]));
    const select = $('preview-station-select');
    const chosen = (p.draft.stations || []).find((s) => ids.includes(s));
    const initial = (stations[ids[0]]?.alerts ? ids[0] : chosen) || ids[0] || '';
    select.replaceChildren(...ids.map((id) => el('option', { value: id }, `${id} — ${stations[id].alerts}`)));
    select.value = p.station && ids.includes(p.station) ? p.station : initial;
    p.station = select.value;
    p.events = events;
    this.loadChart();
  },

  async loadChart() {
    const p = this.preview;
    if (!p) return;
    const station = $('preview-station-select').value;
    p.station = station;
    const parameter = p.draft.parameter;
    const message = $('chart-message');
    if (!station) {
      drawChart(p, [], false);
      return;
    }
    if (DERIVED_PARAMETERS.includes(parameter)) {
      drawChart(p, [], false);
      message.textContent = t('chartDerived', parameter);
      message.hidden = false;
      return;
    }
    message.textContent = t('chartLoading');
    message.hidden = false;
    const since = new Date(p.startMs).toISOString();
    const result = await api('GET',
      `/api/v1/readings?station=${encodeURIComponent(station)}&since=${encodeURIComponent(since)}&limit=${READINGS_LIMIT}`);
    if (p !== this.preview || station !== p.station) return;
    if (!result.ok) {
      drawChart(p, [], false);
      message.textContent = t('chartError', errorText(result));
      message.hidden = false;
      return;
    }
    const readings = result.body.readings || [];
    const points = [];
    for (const r of readings) {
      const ms = parseTime(r.time);
      const v = finite(r[parameter]);
      if (ms != null && v != null) points.push([ms, v]);
    }
    points.sort((a, b) => a[0] - b[0]);
    drawChart(p, points, readings.length >= READINGS_LIMIT);
  },
};

/** Stations a rule selects that measure its parameter (as analytics.limits.applies and
 *  analytics.backtest.selected_stations; derived parameters: none listed here). */
function candidateStations(rule) {
  if (DERIVED_PARAMETERS.includes(rule.parameter)) return [];
  const has = (list) => Array.isArray(list) && list.length > 0;
  return state.boardStations.filter((s) => (
    (!has(rule.kinds) || rule.kinds.includes(s.kind))
    && (!has(rule.stations) || rule.stations.includes(s.id))
    && (!has(rule.owners) || rule.owners.includes(s.owner))
    && (!rule.area || areaContains(rule.area, s.lat, s.lon))
    && Object.prototype.hasOwnProperty.call(s.units || {}, rule.parameter)
  )).map((s) => s.id);
}

function areaContains(area, lat, lon) {
  if (area.radius_km == null) {
    return area.min_lat <= lat && lat <= area.max_lat && area.min_lon <= lon && lon <= area.max_lon;
  }
  const rad = Math.PI / 180;
  const dLat = (lat - area.lat) * rad;
  const dLon = (lon - area.lon) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(area.lat * rad) * Math.cos(lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a))) <= area.radius_km;
}
