/*
 * IOC operations wall — live environmental monitoring display: the entry module. It holds the
 * wall's state, applies the websocket's frames to it and wires the parts together; each part
 * is a module in wall/:
 *
 *   connection.js       websocket feed (reconnect with backoff, stale and lost feed)
 *   i18n.js, format.js  VI/EN words; times (Asia/Ho_Chi_Minh), numbers, units, labels, codes
 *   header.js           clock, connection indicator, last update, banners
 *   kpis.js             KPI tiles (stations, alerts, last hour, worst AQI, fire danger)
 *   station-map.js      station markers, grid, scale, legend, status / AQI colouring
 *   map.js              the basemap under it (Leaflet: tiles, outlines, camera sites)
 *   station-tooltip.js  the hovered or selected station over the map
 *   alert-list.js       open alerts (order, pinned criticals, paging, filter, search, ack)
 *   alert-sound.js      optional tone for a new critical alert (🔔 toggle, web.alert_sound)
 *   resolved-alerts.js  recently resolved alerts
 *   station-table.js    station table (alerts first, kiosk pages)
 *   trend.js            24 h trend panel of the selected station (trend-chart.js, trend-data.js)
 *   cameras.js          camera grid over the map
 *   vehicles-wall.js    vehicle layer, counters, ticker, panel
 *   kiosk.js            ?kiosk=1: no operator controls, hidden cursor, full screen, paging
 *
 * No network resources other than the same-origin websocket at /ws and the wall's GET APIs.
 * Shared helpers: common.js (window.IOC). See wall.html for the static skeleton.
 *
 * URL options: ?lang=vi|en, ?kiosk=1 (wall display: no language switch or
 * operator controls, cursor hidden when still, full screen on first click),
 * ?map=status|aqi (marker colouring), ?page_s=N (kiosk: seconds per page of the alert list and
 * station table, 1–120, default 9). Acknowledgements are made as the logged-in user.
 */
import { createFeed } from './wall/connection.js';
import { createFormatters } from './wall/format.js';
import { createHeader } from './wall/header.js';
import { createKpis } from './wall/kpis.js';
import { createStationMap } from './wall/station-map.js';
import { createStationTooltip } from './wall/station-tooltip.js';
import { createAlertList } from './wall/alert-list.js';
import { createAlertSound } from './wall/alert-sound.js';
import { createResolvedAlerts } from './wall/resolved-alerts.js';
import { createStationTable } from './wall/station-table.js';
import { createTrend } from './wall/trend.js';
import { createCameraGrid } from './wall/cameras.js';
import { createVehicleWall } from './wall/vehicles-wall.js';
import { kioskPageMs, startKiosk } from './wall/kiosk.js';

const { $, setText, parseTime, formatClock: formatTime, formatDateTime, pickLang, rememberLang, translatePage } = IOC;

const LANG_STORAGE_KEY = 'ioc.wall.lang';
const SUPPORTED_LANGS = IOC.LANGS;
const RESOLVED_KEEP = 10;  // "recently resolved" list length
const TOAST_MS = 8000;     // error frame display time

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

const state = {
  lang: 'vi',
  parameters: {},
  /** id -> station object (merged with deltas) */
  stations: new Map(),
  /** id -> alert object; rendering order is kept by the DOM list */
  openAlerts: new Map(),
  /** recently resolved alerts, newest first, max RESOLVED_KEEP */
  resolvedAlerts: [],
  /** alert id -> opened_at ms, for the "opened in last hour" KPI */
  alertOpenTimes: new Map(),
  lastSeq: null,
  serverSeq: null,
  serverOffsetMs: 0,
  lastDataAt: null,
  selectedStationId: null,   // pinned in the tooltip panel and shown in the trend chart
  hoveredStationId: null,
  mapColor: 'status',        // map marker colouring: 'status' or 'aqi' (air stations)
  kiosk: false,
};

const fmt = createFormatters(state);
const { t, nowMs, formatNumber } = fmt;

// The parts, created at start-up.
let kpis = null;
let stationMap = null;
let tooltip = null;
let alertList = null;
let alertSound = null;
let resolvedAlerts = null;
let stationTable = null;
let trend = null;
let cameras = null;
let vehicleWall = null;

// ---------------------------------------------------------------------------
// Websocket connection: wall/connection.js (reconnects, stale and lost feed)
// ---------------------------------------------------------------------------

const feed = createFeed({
  socketUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = `${scheme}//${location.host}/ws`;
    if (state.lastSeq != null) url += `?since=${encodeURIComponent(state.lastSeq)}`;
    return url;
  },
  onFrame: handleFrame,
  onChange: () => header.renderConnectionState(),
  onClosed: loadUser,  // a refused connection may be an expired login: go to the login page
});

const header = createHeader({ state, feed, fmt });

/** Reconnect at once without ?since= so the server sends a snapshot. */
function resyncFromScratch() {
  console.warn('[wall] server seq went backwards; requesting a fresh snapshot');
  state.lastSeq = null;
  feed.restart();
}

// ---------------------------------------------------------------------------
// Protocol handlers
// ---------------------------------------------------------------------------

function handleFrame(raw) {
  let msg;
  try {
    msg = JSON.parse(raw);
  } catch (err) {
    console.warn('[wall] non-JSON frame ignored', raw);
    return;
  }
  if (!msg || typeof msg !== 'object') return;

  // Events numbered below what we already hold mean the server restarted
  // (replays only ever contain events after ?since=). Resync from scratch.
  const isEvent = msg.type === 'stations' || msg.type === 'alert' || msg.type === 'vehicles';
  if (isEvent && typeof msg.seq === 'number' && typeof state.lastSeq === 'number' && msg.seq < state.lastSeq) {
    resyncFromScratch();
    return;
  }

  switch (msg.type) {
    case 'snapshot':
      applySnapshot(msg);
      break;
    case 'stations':
      applyStationDeltas(msg.stations || []);
      break;
    case 'alert':
      applyAlertEvent(msg.event, msg.alert);
      break;
    case 'vehicles':
      vehicleWall.applyVehicles(msg);
      break;
    case 'camera':
      cameras.update(msg.camera, msg.snapshot);
      break;
    case 'heartbeat':
      applyServerTime(msg.server_time);
      feed.heartbeatsEvery(msg.interval_s);
      if (typeof msg.seq === 'number') {
        state.serverSeq = msg.seq;
        document.body.dataset.serverSeq = String(msg.seq);
        // The server's latest seq is behind ours: it was restarted and our
        // state belongs to a previous run. Start over from a fresh snapshot.
        if (typeof state.lastSeq === 'number' && msg.seq < state.lastSeq) resyncFromScratch();
      }
      return; // heartbeats do not advance seq and are not "data"
    case 'error':
      IOC.showToast(`${t('serverError')}: ${msg.reason ?? ''}`, { ms: TOAST_MS });
      return;
    default:
      console.debug('[wall] unknown frame type', msg.type);
      return;
  }

  if (msg.seq != null) {
    state.lastSeq = msg.seq;
    document.body.dataset.seq = String(msg.seq);
  }
  state.lastDataAt = nowMs();
  header.renderLastUpdate();
}

/** Keep a server clock offset, ignoring small jitter (clock would wobble). */
function applyServerTime(iso) {
  const serverMs = parseTime(iso);
  if (serverMs == null) return;
  const offset = serverMs - Date.now();
  if (Math.abs(offset - state.serverOffsetMs) > 2000) {
    state.serverOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
    header.renderClock();
    header.renderClockSkew();
  }
}

function applySnapshot(msg) {
  applyServerTime(msg.server_time);
  feed.heartbeatsEvery(msg.heartbeat_s);
  state.parameters = msg.parameters || {};
  alertSound.configure(msg.alert_sound);

  state.stations = new Map();
  for (const station of msg.stations || []) {
    if (station && station.id != null) state.stations.set(String(station.id), { ...station, id: String(station.id) });
  }

  state.openAlerts = new Map();
  const open = [];
  for (const alert of msg.alerts || []) {
    if (!alert || alert.id == null) continue;
    rememberAlertOpenTime(alert);
    if (alert.state === 'resolved') {
      addResolvedAlert(alert);
    } else {
      open.push(alert);
    }
  }
  open.sort((a, b) => (parseTime(b.opened_at) ?? 0) - (parseTime(a.opened_at) ?? 0));
  for (const alert of open) state.openAlerts.set(String(alert.id), alert);
  // An alert that is open again should not also be listed as resolved.
  state.resolvedAlerts = state.resolvedAlerts.filter((a) => !state.openAlerts.has(String(a.id)));

  stationMap.rebuild();
  stationTable.rebuild();
  alertList.rebuild();
  resolvedAlerts.render();
  renderCounts();
  selectStation(state.selectedStationId); // re-applies highlight classes, refreshes tooltip
  if (trend.stationId) trend.onAlertsChanged(); // names, statuses and limits may have changed
  vehicleWall.applySnapshot(msg);
}

function applyStationDeltas(deltas) {
  let orderChanged = false;
  let moved = false;
  for (const delta of deltas) {
    if (!delta || delta.id == null) continue;
    const id = String(delta.id);
    let station = state.stations.get(id);
    const isNew = !station;
    if (isNew) {
      station = { id, name: id, kind: 'air', status: 'unknown', values: {} };
      state.stations.set(id, station);
    }
    const previousStatus = station.status;
    for (const [key, value] of Object.entries(delta)) {
      if (key === 'id') continue;
      if (key === 'values' && value && typeof value === 'object') {
        // Deltas may carry only some parameters: merge rather than replace.
        station.values = { ...(station.values || {}), ...value };
      } else {
        station[key] = value;
      }
    }
    if ('lat' in delta || 'lon' in delta) moved = true;
    if (id === trend.stationId) trend.onStationDelta(delta, station);
    if (isNew) {
      stationMap.addStation(station);
      stationTable.addStation(station);
      orderChanged = true;
    } else {
      stationMap.updateStation(station, previousStatus);
      stationTable.updateStation(station);
      if (previousStatus !== station.status) orderChanged = true;
    }
  }
  if (orderChanged) stationTable.sort();
  if (moved) stationMap.fit();
  renderCounts();
  tooltip.refresh();
}

function applyAlertEvent(event, alert) {
  if (!alert || alert.id == null) return;
  const id = String(alert.id);
  alertSound.alertEvent(event, alert, state.openAlerts.has(id));  // a new critical: a tone
  rememberAlertOpenTime(alert);
  vehicleWall.applyAlert(event, alert);  // journey.* violations: the ticker

  if (event === 'resolved' || event === 'closed' || alert.state === 'resolved' || alert.state === 'closed') {
    // Merge with what we know so a sparse (or repeated) event keeps details.
    const existing = state.openAlerts.get(id) || state.resolvedAlerts.find((a) => String(a.id) === id);
    state.openAlerts.delete(id);
    alertList.changed(alert);
    addResolvedAlert({ ...(existing || {}), ...alert });
    resolvedAlerts.render();
  } else {
    const previous = state.openAlerts.get(id);
    state.openAlerts.set(id, alert);
    state.resolvedAlerts = state.resolvedAlerts.filter((a) => String(a.id) !== id);
    // A new critical, or one that became critical, flashes.
    alertList.changed(alert, { flash: alert.severity === 'critical' && previous?.severity !== 'critical' });
    resolvedAlerts.render();
  }
  const station = state.stations.get(String(alert.station_id));
  if (station) stationTable.updateStation(station); // key value follows the alerted parameter
  stationTable.sort();
  renderCounts();
  stationMap.refreshLabels();
  tooltip.refresh();
  if (String(alert.station_id) === trend.stationId) trend.onAlertsChanged();
}

function rememberAlertOpenTime(alert) {
  const opened = parseTime(alert.opened_at);
  if (opened != null) state.alertOpenTimes.set(String(alert.id), opened);
}

function addResolvedAlert(alert) {
  const id = String(alert.id);
  state.resolvedAlerts = [alert, ...state.resolvedAlerts.filter((a) => String(a.id) !== id)]
    .slice(0, RESOLVED_KEEP);
}

/** The KPI tiles and the panels' counts. */
function renderCounts() {
  kpis.render();
  const incidents = new Set([...state.openAlerts.values()].map((a) => a.incident_id || a.id)).size;
  setText($('alerts-meta'), t('alertsMeta', state.openAlerts.size, incidents));
  stationTable.renderCount();
}

/** Select a station (pinned tooltip, highlighted marker and row, trend panel); null: none. */
function selectStation(stationId) {
  state.selectedStationId = stationId && state.stations.has(stationId) ? stationId : null;
  if (state.selectedStationId) vehicleWall?.close();
  for (const { group } of stationMap.markers.values()) group.classList.remove('is-selected');
  for (const row of stationTable.rows.values()) row.classList.remove('is-selected');
  if (state.selectedStationId) {
    stationMap.markers.get(state.selectedStationId)?.group.classList.add('is-selected');
    stationTable.rows.get(state.selectedStationId)?.classList.add('is-selected');
  }
  tooltip.refresh();
  trend.sync();
}

// ---------------------------------------------------------------------------
// Session: the logged-in user (GET /api/v1/auth/me); without a valid login, the login page
// ---------------------------------------------------------------------------

const session = { user: null };

function canOperate() {
  return !session.user || session.user.capabilities.includes('operate');
}

async function loadUser() {
  // Without an answer the server is away: the reconnect loop shows it. A 401: the login page.
  const me = await IOC.api('GET', '/api/v1/auth/me', undefined, { cache: 'no-store' });
  if (!me.ok) return;
  session.user = me.body;
  const badge = $('user-badge');
  badge.hidden = false;
  $('user-name').textContent = session.user.display_name || session.user.username;
  $('console-link').hidden = !session.user.capabilities.includes('configure');
  document.body.dataset.role = session.user.role;
  alertList.rebuild();
}

// ---------------------------------------------------------------------------
// Start-up: the parts, language, periodic tick
// ---------------------------------------------------------------------------

/** The alert list (wall/alert-list.js) and station table (wall/station-table.js). */
function createLists() {
  const pageMs = kioskPageMs();
  alertList = createAlertList({
    getAlerts: () => state.openAlerts,
    kiosk: state.kiosk,
    pageMs,
    t, parseTime, formatNumber, formatTime,
    formatRelative: fmt.formatRelative,
    formatWindow: fmt.formatWindow,
    severityLabel: fmt.severityLabel,
    parameterInfo: fmt.parameterInfo,
    stationName: (alert) =>
      alert.station_name || state.stations.get(String(alert.station_id))?.name || alert.station_id || '—',
    canOperate,
    sendAck: (id) => feed.send({ type: 'ack', alert_id: id }),
    onSelectStation: selectStation,
    showEmpty: () => feed.everConnected,
  });
  stationTable = createStationTable({
    getStations: () => state.stations,
    getOpenAlerts: () => state.openAlerts,
    kiosk: state.kiosk,
    pageMs,
    t, parseTime,
    statusLabel: fmt.statusLabel,
    formatTimeSmart: fmt.formatTimeSmart,
    formatValueWithUnit: fmt.formatValueWithUnit,
    parameterInfo: fmt.parameterInfo,
    onSelect: selectStation,
    onHot: (id, on) => stationMap.markers.get(id)?.group.classList.toggle('is-hot', on),
  });
}

function setLanguage(lang, { persist }) {
  if (!SUPPORTED_LANGS.includes(lang)) return;
  state.lang = lang;
  // Keep a ?lang= in the URL consistent so a reload does not override the choice.
  if (persist) rememberLang(LANG_STORAGE_KEY, lang, { onlyIfInUrl: true });
  applyLanguage();
}

function applyLanguage() {
  translatePage(t, state.lang, 'title');
  document.body.dataset.lang = state.lang;
  stationMap.renderLegend();
  header.renderClock();
  header.renderLastUpdate();
  header.renderConnectionState();
  header.renderClockSkew();
  renderCounts();
  alertList.rebuild();
  alertSound.render();
  resolvedAlerts.render();
  stationTable.rerenderAll();
  if (stationMap.projection) stationMap.fit();
  tooltip.refresh();
  trend.onLanguage();
  vehicleWall.onLanguage();
  stationMap.basemap?.onLanguage();
  $('map-color-toggle').setAttribute('aria-label', t('mapColorLabel'));
}

function tick() {
  header.renderClock();
  header.renderLastUpdate();
  kpis.renderLastHour();
  alertList.tick();
  tooltip.tick();
  if (feed.phase !== 'live') header.renderConnectionState(); // retry countdown, silence
}

/** Run tick() just after each (server-corrected) second boundary. */
function scheduleTick() {
  tick();
  setTimeout(scheduleTick, 1000 - (nowMs() % 1000) + 5);
}

function start() {
  state.lang = pickLang(LANG_STORAGE_KEY);
  for (const button of document.querySelectorAll('.lang-switch button')) {
    button.addEventListener('click', () => setLanguage(button.dataset.lang, { persist: true }));
  }
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') { selectStation(null); vehicleWall.close(); } });
  state.kiosk = startKiosk();
  createLists();
  alertSound = createAlertSound({ t, nowMs, parseTime });
  kpis = createKpis({ state, fmt, onSelectStation: selectStation });
  resolvedAlerts = createResolvedAlerts({ state, fmt });
  tooltip = createStationTooltip({
    state, fmt,
    projectStation: (station) => stationMap.project(station),
    mapSize: () => ({ width: stationMap.width, height: stationMap.height }),
    onClose: () => selectStation(null),
  });
  trend = createTrend({ state, fmt, onClose: () => selectStation(null) });
  vehicleWall = createVehicleWall({
    t, formatNumber, formatTime, formatDateTime, nowMs,
    getProjection: () => stationMap.projection,
    onVehicleSelected: () => selectStation(null),
  });
  stationMap = createStationMap({
    state, fmt,
    onSelect: selectStation,
    onHover: () => tooltip.refresh(),
    onMarkersPlaced: () => tooltip.refresh(),
    onProjection: () => vehicleWall.onProjection(),
  });
  cameras = createCameraGrid({ t, formatNumber });
  applyLanguage();
  scheduleTick();
  $('logout-button').addEventListener('click', () => IOC.logout('/wall'));
  loadUser();
  feed.start();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
