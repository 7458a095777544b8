/*
 * The trend panel of the selected station: one parameter over the last 24 hours (chart:
 * wall/trend-chart.js), a button per parameter, now / mean / max / min, and the load state.
 *
 * It opens with the parameter of the station's most severe open alert, else the kind's usual
 * one. Data: GET /api/v1/readings for the last 24 h, again every 30 s while open (a late or
 * superseded answer is dropped; a failed refresh keeps the older data with a warning); the
 * feed's station deltas are appended as live points in between.
 */

import { SEVERITY_ORDER, STATUSES, isAnomaly } from './format.js';
import { TREND_WINDOW_MS, createTrendChart, lowerBound } from './trend-chart.js';
import { appendLiveValues, fetchReadings, isParameterKey, seriesFromReadings } from './trend-data.js';

const TREND_REFRESH_MS = 30000;  // re-fetch while the panel is open

/** Parameter a trend chart opens with when the station has no open alert. */
const TREND_DEFAULT_BY_KIND = {
  air: ['pm25', 'pm2_5', 'pm10', 'aqi'],
  weather: ['temp', 'temperature', 'air_temp', 't'],
  stack: ['dust', 'tsp', 'pm'],
  wastewater: ['cod', 'tss', 'bod5'],
  groundwater: ['level', 'flow', 'volume'],
};

/**
 * state      the wall's state (wall.js), read only: selectedStationId, stations, openAlerts,
 *            lang, parameters
 * fmt        the wall's formatters (wall/format.js)
 * onClose()  the panel's close button was clicked
 */
export function createTrend({ state, fmt, onClose }) {
  const { $, el, setText, parseTime, finiteOrNull, formatClock: formatTime } = window.IOC;
  const { t, nowMs, formatNumber, parameterInfo } = fmt;
  const chart = createTrendChart({ body: $('trend-body'), svg: $('trend-svg'), hoverBox: $('trend-hover'), fmt });

  const trend = {
    stationId: null,
    param: null,
    userChoseParam: false,
    series: new Map(),   // parameter -> [[ms, value], ...] ascending in time
    status: 'idle',      // idle | loading | ready | error (error only while nothing is shown)
    error: '',           // last fetch error, also shown over older data
    loadedAt: null,
    timer: null,
    controller: null,
    requestNo: 0,
    frame: 0,
    paramsSignature: '',

    init() {
      $('trend-close').addEventListener('click', (event) => {
        event.stopPropagation();
        onClose();
      });
      $('trend-params').addEventListener('click', (event) => {
        const button = event.target.closest('button[data-param]');
        if (!button || button.dataset.param === this.param) return;
        this.param = button.dataset.param;
        this.userChoseParam = true;
        this.renderHead();
        this.draw();
      });
      new ResizeObserver(() => this.scheduleDraw()).observe($('trend-body'));
    },

    /** Follow the selection: open for a newly selected station, close when none. */
    sync() {
      const id = state.selectedStationId;
      if (!id) this.close();
      else if (id !== this.stationId) this.open(id);
      else this.renderHead();
    },

    open(id) {
      this.reset();
      this.stationId = id;
      this.param = this.defaultParam();
      const panel = $('trend');
      panel.dataset.stationId = id;
      panel.hidden = false;
      document.body.dataset.trend = 'open';
      this.status = 'loading';
      this.renderHead();
      this.draw();
      this.load();
      this.timer = setInterval(() => this.load(), TREND_REFRESH_MS);
    },

    close() {
      if (!this.stationId && $('trend').hidden) return;
      this.reset();
      this.stationId = null;
      const panel = $('trend');
      panel.hidden = true;
      delete document.body.dataset.trend;
      panel.dataset.state = 'idle';
      delete panel.dataset.stationId;
      delete panel.dataset.param;
    },

    reset() {
      clearInterval(this.timer);
      this.timer = null;
      this.controller?.abort();
      this.controller = null;
      this.requestNo += 1;
      this.series = new Map();
      this.status = 'idle';
      this.error = '';
      this.loadedAt = null;
      this.param = null;
      this.userChoseParam = false;
      this.paramsSignature = '';
      chart.clear();
    },

    /** The station's parameters: registry units first, then latest values, alerts, data. */
    params() {
      const station = state.stations.get(this.stationId);
      const keys = new Set();
      const add = (key) => {
        if (key && isParameterKey(key)) keys.add(key);
      };
      Object.keys(station?.units || {}).forEach(add);
      Object.keys(station?.values || {}).forEach(add);
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) === this.stationId) add(alert.parameter);
      }
      for (const key of this.series.keys()) add(key);
      return [...keys];
    },

    /** The parameter of the most severe open alert, else the kind's usual one, else the first. */
    defaultParam() {
      let best = null;
      let bestRank = Infinity;
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) !== this.stationId || !alert.parameter) continue;
        const rank = SEVERITY_ORDER[alert.severity] ?? 3;
        if (rank < bestRank) { bestRank = rank; best = alert.parameter; }
      }
      if (best) return best;
      const params = this.params();
      const kind = state.stations.get(this.stationId)?.kind;
      return (TREND_DEFAULT_BY_KIND[kind] || []).find((key) => params.includes(key)) || params[0] || null;
    },

    /** Open-alert limits for the shown station and parameter, one per distinct value (an
     *  anomaly's `limit` is a detector threshold, a score: never drawn as a limit). */
    limits() {
      return this.levels((alert) => (isAnomaly(alert) ? null : finiteOrNull(alert.limit)));
    },

    /** The baselines of the open anomaly alerts of the shown station and parameter. */
    baselines() {
      return this.levels((alert) => (isAnomaly(alert) ? finiteOrNull(alert.baseline) : null));
    },

    /** levelOf(alert) of the open alerts of the shown station and parameter, one per distinct
     *  value (the most severe alert's), ascending. */
    levels(levelOf) {
      const byValue = new Map();
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) !== this.stationId || alert.parameter !== this.param) continue;
        const value = levelOf(alert);
        if (value == null) continue;
        const previous = byValue.get(value);
        const severity = SEVERITY_ORDER[alert.severity] != null ? alert.severity : 'info';
        if (!previous || SEVERITY_ORDER[severity] < SEVERITY_ORDER[previous.severity]) {
          byValue.set(value, { value, severity, window: alert.window });
        }
      }
      return [...byValue.values()].sort((a, b) => a.value - b.value);
    },

    /** GET /api/v1/readings for the last 24 h; a stale or superseded answer is dropped. */
    async load() {
      const id = this.stationId;
      if (!id) return;
      const requestNo = ++this.requestNo;
      this.controller?.abort();
      const controller = new AbortController();
      this.controller = controller;
      const result = await fetchReadings(id, nowMs() - TREND_WINDOW_MS, controller);
      if (!result) return; // superseded or closed
      if (requestNo !== this.requestNo || id !== this.stationId) return;
      this.controller = null;
      if (result.readings) {
        this.series = seriesFromReadings(result.readings, this.series, parseTime);
        this.loadedAt = nowMs();
        this.error = '';
      } else {
        console.warn('[wall] trend data for', id, 'failed:', result.error);
        this.error = result.error;
      }
      this.status = result.readings || this.hasData() ? 'ready' : 'error';
      if (!this.userChoseParam && !this.params().includes(this.param)) this.param = this.defaultParam();
      if (this.param == null) this.param = this.defaultParam();
      this.renderHead();
      this.draw();
    },

    hasData() {
      for (const points of this.series.values()) if (points.length) return true;
      return false;
    },

    /** A `stations` delta for the shown station: append its values as live points. */
    onStationDelta(delta, station) {
      const values = delta.values;
      if (values && typeof values === 'object') {
        const ms = parseTime(delta.last_seen) ?? nowMs();
        if (appendLiveValues(this.series, values, ms).has(this.param)) this.scheduleDraw();
      }
      if (station) this.renderHead();
    },

    onAlertsChanged() {
      if (!this.stationId) return;
      this.renderHead();
      this.scheduleDraw();
    },

    onLanguage() {
      if (!this.stationId) return;
      this.paramsSignature = '';
      this.renderHead();
      this.draw();
    },

    renderHead() {
      const station = state.stations.get(this.stationId);
      if (!station) return;
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      const dot = $('trend-dot');
      const dotClass = `status-dot status-${status}`;
      if (dot.className !== dotClass) dot.className = dotClass;
      setText($('trend-station'), station.name || station.id);
      setText($('trend-station-id'), station.id);
      const close = $('trend-close');
      if (close.title !== t('tipClose')) {
        close.title = t('tipClose');
        close.setAttribute('aria-label', t('tipClose'));
      }
      const panel = $('trend');
      if ((panel.dataset.param || '') !== (this.param || '')) panel.dataset.param = this.param || '';
      this.renderParams();
      this.renderStats();
      this.renderMessage();
    },

    renderParams() {
      const params = this.params();
      const alertSeverity = new Map();
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) !== this.stationId) continue;
        const rank = SEVERITY_ORDER[alert.severity] ?? 3;
        if (rank < (SEVERITY_ORDER[alertSeverity.get(alert.parameter)] ?? 4)) alertSeverity.set(alert.parameter, alert.severity);
      }
      const signature = JSON.stringify([state.lang, params, this.param, [...alertSeverity], state.parameters === this.paramsOf]);
      if (signature === this.paramsSignature) return;
      this.paramsSignature = signature;
      this.paramsOf = state.parameters;
      const group = $('trend-params');
      group.setAttribute('aria-label', t('trendParams'));
      group.replaceChildren(...params.map((key) => {
        const active = key === this.param;
        const severity = alertSeverity.get(key);
        const info = parameterInfo(key, this.stationId);
        return el('button', {
          type: 'button',
          class: `${active ? 'is-active' : ''}${severity ? ` has-alert sev-${severity}` : ''}`.trim() || null,
          'data-param': key,
          'data-testid': 'trend-param',
          'aria-pressed': String(active),
          title: info.unit ? `${info.label} (${info.unit})` : info.label,
        }, info.label);
      }));
      // Keep the chosen button in view when the row scrolls (not scrollIntoView: it
      // would also scroll the page).
      const active = group.querySelector('.is-active');
      if (active && (active.offsetLeft < group.scrollLeft
        || active.offsetLeft + active.offsetWidth > group.scrollLeft + group.clientWidth)) {
        group.scrollLeft = active.offsetLeft - 8;
      }
    },

    /** Now / 24 h mean / max / min of the shown parameter, and the load state. */
    renderStats() {
      const node = $('trend-stats');
      const points = this.status === 'loading' ? [] : this.windowPoints();
      const info = parameterInfo(this.param, this.stationId);
      const unit = info.unit ? ` ${info.unit}` : '';
      const items = [];
      if (points.length) {
        let sum = 0;
        let max = points[0];
        let min = points[0];
        for (const p of points) {
          sum += p[1];
          if (p[1] > max[1]) max = p;
          if (p[1] < min[1]) min = p;
        }
        const last = points[points.length - 1];
        const limits = this.limits();
        const over = limits.length && last[1] > limits[0].value;
        const stat = (label, value, extra, cls) => el('span', { class: `trend-stat ${cls || ''}`.trim() },
          el('span', { class: 'trend-stat-label' }, label),
          el('span', { class: 'trend-stat-value mono' }, `${formatNumber(value)}${unit}`),
          extra ? el('span', { class: 'trend-stat-extra mono muted' }, extra) : null);
        items.push(
          stat(t('trendNow'), last[1], formatTime(last[0]).slice(0, 5), over ? 'is-over' : 'is-now'),
          stat(t('trendMean'), sum / points.length),
          stat(t('trendMax'), max[1], formatTime(max[0]).slice(0, 5)),
          stat(t('trendMin'), min[1], formatTime(min[0]).slice(0, 5)),
        );
      }
      const meta = [];
      if (this.error && this.status === 'ready') {
        meta.push(el('span', { class: 'trend-warn', title: this.error }, `⚠ ${t('trendRefreshError')}`));
      } else if (this.loadedAt != null) {
        meta.push(el('span', { class: 'muted', title: t('trendPoints', points.length) }, t('trendUpdated', formatTime(this.loadedAt))));
      }
      node.replaceChildren(...items, el('span', { class: 'trend-meta' }, ...meta));
    },

    renderMessage() {
      const node = $('trend-message');
      const panel = $('trend');
      let text = '';
      let kind = 'info';
      let panelState = 'ready';
      if (this.status === 'loading') {
        text = t('trendLoading');
        panelState = 'loading';
      } else if (this.status === 'error') {
        text = t('trendError', this.error);
        kind = 'error';
        panelState = 'error';
      } else if (!this.param) {
        text = t('trendNoParams');
        panelState = 'empty';
      } else if (!this.windowPoints().length) {
        text = t('trendNoData');
        panelState = 'empty';
      }
      if (panel.dataset.state !== panelState) panel.dataset.state = panelState;
      setText(node, text);
      node.dataset.kind = kind;
      node.hidden = !text;
    },

    /** Points of the shown parameter inside the 24 h window. */
    windowPoints() {
      const all = this.series.get(this.param) || [];
      return all.slice(lowerBound(all, nowMs() - TREND_WINDOW_MS));
    },

    scheduleDraw() {
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        if (!this.stationId) return;
        this.renderStats();
        this.renderMessage();
        this.draw();
      });
    },

    draw() {
      if (!this.stationId) return;
      const points = this.status === 'loading' ? [] : this.windowPoints();
      const limits = points.length ? this.limits() : [];
      const baselines = points.length ? this.baselines() : [];
      chart.draw({ points, limits, baselines, param: this.param, stationId: this.stationId });
    },
  };

  trend.init();
  return trend;
}
