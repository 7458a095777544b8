/*
 * The wall's station table (incremental rows, stations in alert first), wired to wall.js by
 * createStationTable().
 *
 * Order: stations with an open alert or in status alert, then offline, unknown, ok; then by
 * id. Rows are only moved, never redrawn, on a re-sort.
 * Kiosk (?kiosk=1): the rows are cut into pages that fit the panel and the page turns every
 * pageMs (indicator "1/8"), not while the pointer is over the table. Otherwise the table
 * scrolls. The panel's head counts every station ("121 trạm"). A station's name links to its
 * page (/stations/{id}: charts, AQI, alerts, CSV).
 */

import { SEVERITY_ORDER, STATUSES } from './format.js';

const STATUS_ORDER = { alert: 0, offline: 1, unknown: 2, ok: 3 };

/** Preferred "main value" parameter per station kind (first present wins). */
const MAIN_PARAMETER_BY_KIND = {
  air: ['aqi', 'pm25', 'pm2_5', 'pm10', 'o3', 'no2'],
  weather: ['temp', 'temperature', 'air_temp', 't', 'rain', 'humidity'],
  stack: ['dust', 'tsp', 'pm', 'so2', 'nox', 'co'],
  wastewater: ['cod', 'tss', 'bod5', 'nh4', 'ph'],
  groundwater: ['level', 'flow', 'ec'],
};

/**
 * getStations()              Map id -> station
 * getOpenAlerts()            Map id -> alert
 * kiosk, pageMs              page through by itself (kiosk) every pageMs
 * t, statusLabel, formatTimeSmart, parseTime, formatValueWithUnit, parameterInfo(key):
 *                            the wall's helpers
 * onSelect(id)               a row was clicked
 * onHot(id, on)              the pointer entered / left a row (the map highlights the marker)
 */
export function createStationTable({
  getStations, getOpenAlerts, kiosk, pageMs, t, statusLabel, formatTimeSmart, parseTime,
  formatValueWithUnit, parameterInfo, onSelect, onHot,
}) {
  const { $, el, setText } = window.IOC;
  const tbody = $('station-tbody');
  const scroller = tbody.closest('.table-scroll');
  const pageLabel = $('stations-page');
  const view = { page: 0, pages: 1, perPage: Infinity };
  let pointerInside = false;

  /**
   * The parameter shown in the table: the one of the station's most severe
   * open alert, else the preferred parameter for its kind, else the first.
   */
  function mainValueOf(station) {
    const values = station.values || {};
    let key = null;
    let alerting = false;
    let best = Infinity;
    for (const alert of getOpenAlerts().values()) {
      if (String(alert.station_id) !== station.id || !(alert.parameter in values)) continue;
      const rank = SEVERITY_ORDER[alert.severity] ?? 3;
      if (rank < best) { best = rank; key = alert.parameter; alerting = true; }
    }
    if (!key) key = (MAIN_PARAMETER_BY_KIND[station.kind] || []).find((k) => values[k] != null) || null;
    if (!key) key = Object.keys(values).find((k) => values[k] != null) || Object.keys(values)[0] || null;
    if (!key) return null;
    return { key, value: values[key], label: parameterInfo(key).label, alerting };
  }

  const table = {
    rows: new Map(), // id -> tr
    cells: new Map(), // id -> { statusPill, lastSeen, value }

    rebuild() {
      this.rows.clear();
      this.cells.clear();
      tbody.replaceChildren();
      for (const station of getStations().values()) this.createRow(station);
      this.sort();
    },

    addStation(station) {
      this.createRow(station);
    },

    createRow(station) {
      const statusPill = el('span', { class: 'status-pill' });
      const lastSeen = el('td', { class: 'mono' });
      const value = el('td', { class: 'num' });
      const row = el('tr', { 'data-station-id': station.id, 'data-testid': 'station-row' },
        el('td', { class: 'mono st-id' }, station.id),
        el('td', { class: 'st-name' }, el('a', {
          href: `/stations/${encodeURIComponent(station.id)}`, 'data-testid': 'station-page-link',
          style: 'color: inherit; text-decoration: underline dotted',
        }, station.name || station.id)),
        el('td', null, statusPill),
        lastSeen,
        value);
      row.addEventListener('click', () => onSelect(station.id));
      row.addEventListener('pointerenter', () => onHot(station.id, true));
      row.addEventListener('pointerleave', () => onHot(station.id, false));
      this.rows.set(station.id, row);
      this.cells.set(station.id, { statusPill, lastSeen, value });
      tbody.append(row);
      this.updateStation(station);
    },

    updateStation(station) {
      const row = this.rows.get(station.id);
      const cells = this.cells.get(station.id);
      if (!row) return;
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      if (row.dataset.status !== status) {
        row.dataset.status = status;
        cells.statusPill.className = `status-pill status-${status}`;
      }
      setText(cells.statusPill, statusLabel(status));
      setText(cells.lastSeen, formatTimeSmart(parseTime(station.last_seen)));
      const main = mainValueOf(station);
      const valueText = main ? `${main.label} ${formatValueWithUnit(main.value, main.key, station.id)}` : '—';
      setText(cells.value, valueText);
      if (cells.value.title !== valueText) cells.value.title = valueText;
      cells.value.classList.toggle('is-alert', Boolean(main && main.alerting));
    },

    /** Re-order existing rows (see the header). Moves nodes only. */
    sort() {
      const alerted = new Set([...getOpenAlerts().values()].map((a) => String(a.station_id)));
      const stations = getStations();
      const rank = (id) => (alerted.has(id) ? 0 : STATUS_ORDER[stations.get(id)?.status] ?? 2);
      const ids = [...this.rows.keys()].sort((a, b) =>
        rank(a) - rank(b) || a.localeCompare(b, undefined, { numeric: true }));
      let cursor = tbody.firstChild;
      for (const id of ids) {
        const row = this.rows.get(id);
        if (row === cursor) cursor = cursor.nextSibling;
        else tbody.insertBefore(row, cursor);
      }
      if (kiosk) showPage();
    },

    rerenderAll() {
      for (const station of getStations().values()) this.updateStation(station);
      renderCount();
      if (kiosk) layoutPages();
    },

    /** "121 trạm · ưu tiên trạm cảnh báo". */
    renderCount,
  };

  function renderCount() {
    const meta = $('stations-meta');
    setText(meta, t('stationsMeta', getStations().size));
    meta.dataset.count = String(getStations().size);
  }

  /** Kiosk: how many rows fit under the table's head (rows are one line high). */
  function layoutPages() {
    const rows = [...tbody.children];
    const sample = rows[0];
    if (!sample) {
      view.pages = 1;
      view.page = 0;
      renderPage();
      return;
    }
    sample.hidden = false;
    const head = scroller.querySelector('thead')?.offsetHeight || 0;
    const rowHeight = sample.offsetHeight || 1;
    view.perPage = Math.max(1, Math.floor((scroller.clientHeight - head) / rowHeight));
    showPage();
  }

  function showPage() {
    const rows = [...tbody.children];
    if (!Number.isFinite(view.perPage)) {
      layoutPages();
      return;
    }
    view.pages = Math.max(1, Math.ceil(rows.length / view.perPage));
    view.page = Math.min(view.page, view.pages - 1);
    const first = view.page * view.perPage;
    rows.forEach((row, i) => {
      const hidden = i < first || i >= first + view.perPage;
      if (row.hidden !== hidden) row.hidden = hidden;
    });
    renderPage();
  }

  function renderPage() {
    pageLabel.hidden = view.pages <= 1;
    setText(pageLabel, t('pageOf', view.page + 1, view.pages));
    pageLabel.dataset.page = String(view.page + 1);
    pageLabel.dataset.pages = String(view.pages);
  }

  if (kiosk) {
    document.body.dataset.stationPaging = 'true';
    scroller.addEventListener('pointerenter', () => { pointerInside = true; });
    scroller.addEventListener('pointerleave', () => { pointerInside = false; });
    setInterval(() => {
      // Not while someone points at a row (a parked mouse under a hidden kiosk cursor does not count).
      if ((pointerInside && document.body.dataset.cursor !== 'hidden') || view.pages <= 1) return;
      view.page = (view.page + 1) % view.pages;
      showPage();
    }, pageMs);
    new ResizeObserver(() => layoutPages()).observe(scroller);
  }

  return table;
}
