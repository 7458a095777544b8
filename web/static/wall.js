/*
 * IOC operations wall — live environmental monitoring display.
 *
 * An ES module (ES2020); shared helpers from common.js (window.IOC). No network resources other than
 * the same-origin websocket at /ws and GET /api/v1/readings (trend chart).
 * See wall.html for the static skeleton.
 *
 * URL options: ?lang=vi|en, ?kiosk=1 (wall display: no language switch or
 * operator controls, cursor hidden when still, full screen on first click),
 * ?map=status|aqi (marker colouring), ?page_s=N (kiosk: seconds per page of the alert list and
 * station table, 1–120, default 9). Acknowledgements are made as the logged-in user.
 *
 * Structure:
 *   1. Constants and the VI/EN dictionary
 *   2. Formatting helpers (time in Asia/Ho_Chi_Minh, numbers, labels)
 *   3. Application state
 *   4. Websocket connection (wall/connection.js: reconnect with backoff, stale and lost feed)
 *   5. Protocol message handlers
 *   6. Renderers: header/clock, KPIs (incl. worst AQI, fire danger), map,
 *      tooltip, alert list, station table, trend chart; map colouring, kiosk
 *   7. Language switching and start-up
 * The vehicle layer (canvas over the map, counters, ticker, panel): wall/vehicles-wall.js.
 * The alert list (order, pinned criticals, kiosk pages, held under the pointer, filter and
 * search): wall/alert-list.js. The station table (kiosk pages): wall/station-table.js.
 */
import { createFeed } from './wall/connection.js';
import { createVehicleWall } from './wall/vehicles-wall.js';
import { VEHICLE_I18N } from './wall/vehicles-i18n.js';
import { ALERT_LIST_I18N, createAlertList } from './wall/alert-list.js';
import { createStationTable } from './wall/station-table.js';
import { createBasemap, MAP_I18N } from './wall/map.js';

(() => {
  // ---------------------------------------------------------------------------
  // 1. Constants and dictionary
  // ---------------------------------------------------------------------------

  // Shared helpers: common.js.
  const {
    $, el, svgEl, setText, TIME_ZONE, zonedParts, parseTime, formatDate, formatClock: formatTime,
    formatDateTime, finiteOrNull, numberFormat, pickSetting, pickLang, translator, rememberLang,
    translatePage,
  } = IOC;

  const LANG_STORAGE_KEY = 'ioc.wall.lang';
  const SUPPORTED_LANGS = IOC.LANGS;

  const RESOLVED_KEEP = 10;            // "recently resolved" list length
  const TOAST_MS = 8000;               // error frame display time
  const CLOCK_SKEW_SHOWN_MS = 5000;    // a larger server clock skew is shown by the clock
  const HOUR_MS = 3600 * 1000;
  const TREND_WINDOW_MS = 24 * HOUR_MS;  // trend chart: last 24 h
  const TREND_REFRESH_MS = 30000;        // re-fetch while the chart is open
  const TREND_LIMIT = 10000;             // the API's maximum rows
  const KIOSK_CURSOR_MS = 3000;          // kiosk: hide the cursor after this long still
  const KIOSK_PAGE_MS = 9000;            // kiosk: alert list and station table turn a page
  const MAP_COLOR_STORAGE_KEY = 'ioc.wall.mapColor';
  const MAP_COLOR_MODES = ['status', 'aqi'];

  const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
  const KINDS = ['air', 'weather', 'stack', 'wastewater', 'groundwater'];
  const STATUSES = ['ok', 'alert', 'offline', 'unknown'];

  /** Parameter a trend chart opens with when the station has no open alert. */
  const TREND_DEFAULT_BY_KIND = {
    air: ['pm25', 'pm2_5', 'pm10', 'aqi'],
    weather: ['temp', 'temperature', 'air_temp', 't'],
    stack: ['dust', 'tsp', 'pm'],
    wastewater: ['cod', 'tss', 'bod5'],
    groundwater: ['level', 'flow', 'volume'],
  };
  /** Reading fields that are not plottable parameters (tags, flags, band codes). */
  const NON_PARAMETER_KEYS = new Set(['time', 'station', 'station_id', 'kind', 'owner', 'aqi_band']);

  /** Upper bounds of the VN_AQI bands (Decision 1459/QĐ-TCMT); colours are in wall.css
   *  (--aqi-0 … --aqi-5: green, yellow, orange, red, purple, maroon). */
  const AQI_BANDS = [{ max: 50 }, { max: 100 }, { max: 150 }, { max: 200 }, { max: 300 }, { max: Infinity }];
  const ROMAN = ['I', 'II', 'III', 'IV', 'V'];

  /** Preferred "main value" parameter per station kind (first present wins). */
  const MAIN_PARAMETER_BY_KIND = {
    air: ['aqi', 'pm25', 'pm2_5', 'pm10', 'o3', 'no2'],
    weather: ['temp', 'temperature', 'air_temp', 't', 'rain', 'humidity'],
    stack: ['dust', 'tsp', 'pm', 'so2', 'nox', 'co'],
    wastewater: ['cod', 'tss', 'bod5', 'nh4', 'ph'],
    groundwater: ['level', 'flow', 'ec'],
  };

  const I18N = {
    vi: {
      title: 'Trung tâm Điều hành Thông minh — Giám sát Môi trường',
      subtitle: 'Màn hình vận hành · dữ liệu thời gian thực',
      lastUpdate: 'Dữ liệu cập nhật',
      connLive: 'Trực tuyến',
      ack: 'Xác nhận',
      logout: 'Đăng xuất',
      console: 'Cấu hình',
      cameras: 'Camera',
      congestion: ['Thông thoáng', 'Chậm', 'Ùn tắc'],
      cameraAnalysisPaused: 'tạm dừng phân tích',
      connConnecting: 'Đang kết nối…',
      connLost: 'Mất kết nối',
      connStale: 'Dữ liệu cũ',
      staleTitle: 'DỮ LIỆU KHÔNG CẬP NHẬT',
      staleDetail: (s) => `Không nhận được gì từ máy chủ trong ${s} giây · kết nối vẫn mở · dữ liệu hiển thị đã cũ`,
      clockSkew: (s) => `Đồng hồ máy chủ lệch ${s} giây so với máy này`,
      bannerRetryIn: (s, n) => `Thử kết nối lại sau ${s} giây (lần ${n}) · dữ liệu hiển thị có thể đã cũ`,
      bannerRetrying: (n) => `Đang kết nối lại (lần ${n})… · dữ liệu hiển thị có thể đã cũ`,
      bannerSince: (t) => ` · mất kết nối từ ${t}`,
      kpiOnline: 'Trạm trực tuyến',
      kpiOffline: 'Mất tín hiệu',
      kpiUnknown: 'Không xác định',
      kpiOpenAlerts: 'Cảnh báo đang mở',
      kpiLastHour: 'Cảnh báo mới trong 1 giờ',
      kpiLastHourSub: 'kể cả đã kết thúc',
      mapTitle: 'Bản đồ trạm quan trắc',
      mapMeta: (n, hidden) => `${n} trạm` + (hidden ? ` · ${hidden} trạm không có tọa độ` : ''),
      waitingData: 'Đang chờ dữ liệu…',
      alertsTitle: 'Cảnh báo đang mở',
      alertsMeta: (n) => `${n} cảnh báo`,
      noAlerts: 'Không có cảnh báo đang mở',
      recentlyResolved: 'Đã kết thúc gần đây',
      stationsTitle: 'Danh sách trạm',
      stationsMeta: (n) => `${n} trạm · ưu tiên trạm cảnh báo`,
      colId: 'Mã',
      colName: 'Tên trạm',
      colStatus: 'Trạng thái',
      colLastSeen: 'Lần cuối',
      colMainValue: 'Giá trị chính',
      legendStatus: 'Trạng thái',
      legendKind: 'Loại trạm',
      status_ok: 'Bình thường',
      status_alert: 'Cảnh báo',
      status_offline: 'Mất tín hiệu',
      status_unknown: 'Không xác định',
      kind_air: 'Không khí',
      kind_weather: 'Khí tượng',
      kind_stack: 'Khí thải ống khói',
      kind_wastewater: 'Nước thải',
      kind_groundwater: 'Nước dưới đất',
      sev_critical: 'Nghiêm trọng',
      sev_warning: 'Cảnh báo',
      sev_info: 'Thông tin',
      window_instant: 'Tức thời',
      window_mean: (w) => `TB ${w}`,
      ownerState: 'Nhà nước',
      ownerEnterprise: (id) => `Doanh nghiệp ${id}`,
      tipKind: 'Loại',
      tipOwner: 'Chủ quản',
      tipStatus: 'Trạng thái',
      tipLastSeen: 'Lần cuối',
      tipValues: 'Giá trị mới nhất',
      tipNoValues: 'Chưa có số liệu',
      tipAlerts: 'Cảnh báo đang mở',
      tipClose: 'Đóng',
      never: 'chưa có',
      limit: 'ngưỡng',
      openedAt: 'Mở lúc',
      resolvedAt: 'kết thúc',
      relJustNow: 'vừa xong',
      relSeconds: (n) => `${n} giây trước`,
      relMinutes: (n) => `${n} phút trước`,
      relHours: (h, m) => (m ? `${h} giờ ${m} phút trước` : `${h} giờ trước`),
      relDays: (n) => `${n} ngày trước`,
      serverError: 'Lỗi máy chủ',
      scaleKm: 'km',
      kpiAqi: 'AQI cao nhất',
      kpiFire: 'Cấp cháy rừng',
      kpiNoData: 'chưa có dữ liệu',
      aqiBand: ['Tốt', 'Trung bình', 'Kém', 'Xấu', 'Rất xấu', 'Nguy hại'],
      fireLevel: ['Ít có khả năng cháy', 'Thấp', 'Trung bình', 'Cao (nguy hiểm)', 'Rất cao (cực kỳ nguy hiểm)'],
      param_aqi: 'VN_AQI',
      param_aqi_band: 'Mức AQI',
      param_fire_level: 'Cấp cháy rừng',
      param_nesterov: 'Chỉ số Nesterov',
      mapColorStatus: 'Trạng thái',
      mapColorLabel: 'Tô màu điểm trạm',
      legendAqi: 'VN_AQI (trạm không khí)',
      legendNoAqi: 'Chưa có AQI',
      trendTitle: 'Diễn biến 24 giờ',
      trendLoading: 'Đang tải dữ liệu 24 giờ…',
      trendNoData: 'Không có dữ liệu trong 24 giờ qua',
      trendNoParams: 'Trạm chưa có thông số nào',
      trendError: (d) => `Không tải được dữ liệu: ${d}`,
      trendRefreshError: 'Làm mới thất bại — đang hiển thị dữ liệu cũ',
      trendNow: 'Hiện tại',
      trendMean: 'TB 24 giờ',
      trendMax: 'Cao nhất',
      trendMin: 'Thấp nhất',
      trendPoints: (n) => `${n} điểm đo`,
      trendUpdated: (time) => `tải lúc ${time}`,
      trendParams: 'Thông số',
    },
    en: {
      title: 'Intelligent Operations Center — Environmental Monitoring',
      subtitle: 'Operations wall · real-time data',
      lastUpdate: 'Data updated',
      connLive: 'Live',
      ack: 'Acknowledge',
      logout: 'Log out',
      console: 'Console',
      cameras: 'Cameras',
      congestion: ['Free', 'Slow', 'Jammed'],
      cameraAnalysisPaused: 'analysis paused',
      connConnecting: 'Connecting…',
      connLost: 'Disconnected',
      connStale: 'Stale',
      staleTitle: 'DATA NOT UPDATING',
      staleDetail: (s) => `Nothing received from the server for ${s} s · connection still open · displayed data is stale`,
      clockSkew: (s) => `Server clock ${s} s off this computer's`,
      bannerRetryIn: (s, n) => `Retrying in ${s} s (attempt ${n}) · displayed data may be stale`,
      bannerRetrying: (n) => `Reconnecting (attempt ${n})… · displayed data may be stale`,
      bannerSince: (t) => ` · disconnected since ${t}`,
      kpiOnline: 'Stations online',
      kpiOffline: 'Offline',
      kpiUnknown: 'Unknown',
      kpiOpenAlerts: 'Open alerts',
      kpiLastHour: 'Alerts opened in last hour',
      kpiLastHourSub: 'including resolved',
      mapTitle: 'Monitoring station map',
      mapMeta: (n, hidden) => `${n} stations` + (hidden ? ` · ${hidden} without coordinates` : ''),
      waitingData: 'Waiting for data…',
      alertsTitle: 'Open alerts',
      alertsMeta: (n) => `${n} alert${n === 1 ? '' : 's'}`,
      noAlerts: 'No open alerts',
      recentlyResolved: 'Recently resolved',
      stationsTitle: 'Stations',
      stationsMeta: (n) => `${n} stations · alerts first`,
      colId: 'ID',
      colName: 'Name',
      colStatus: 'Status',
      colLastSeen: 'Last seen',
      colMainValue: 'Key value',
      legendStatus: 'Status',
      legendKind: 'Station type',
      status_ok: 'Normal',
      status_alert: 'Alert',
      status_offline: 'Offline',
      status_unknown: 'Unknown',
      kind_air: 'Air quality',
      kind_weather: 'Weather',
      kind_stack: 'Stack emissions',
      kind_wastewater: 'Wastewater',
      kind_groundwater: 'Groundwater',
      sev_critical: 'Critical',
      sev_warning: 'Warning',
      sev_info: 'Info',
      window_instant: 'Instant',
      window_mean: (w) => `${w} mean`,
      ownerState: 'State',
      ownerEnterprise: (id) => `Enterprise ${id}`,
      tipKind: 'Type',
      tipOwner: 'Owner',
      tipStatus: 'Status',
      tipLastSeen: 'Last seen',
      tipValues: 'Latest values',
      tipNoValues: 'No data yet',
      tipAlerts: 'Open alerts',
      tipClose: 'Close',
      never: 'never',
      limit: 'limit',
      openedAt: 'Opened',
      resolvedAt: 'resolved',
      relJustNow: 'just now',
      relSeconds: (n) => `${n} s ago`,
      relMinutes: (n) => `${n} min ago`,
      relHours: (h, m) => (m ? `${h} h ${m} min ago` : `${h} h ago`),
      relDays: (n) => `${n} d ago`,
      serverError: 'Server error',
      scaleKm: 'km',
      kpiAqi: 'Worst AQI',
      kpiFire: 'Fire danger',
      kpiNoData: 'no data yet',
      aqiBand: ['Good', 'Moderate', 'Poor', 'Bad', 'Very bad', 'Hazardous'],
      fireLevel: ['fire unlikely', 'low', 'medium', 'high', 'very high'],
      param_aqi: 'VN_AQI',
      param_aqi_band: 'AQI band',
      param_fire_level: 'Fire danger level',
      param_nesterov: 'Nesterov index',
      mapColorStatus: 'Status',
      mapColorLabel: 'Marker colour',
      legendAqi: 'VN_AQI (air stations)',
      legendNoAqi: 'No AQI',
      trendTitle: 'Last 24 hours',
      trendLoading: 'Loading 24 h of data…',
      trendNoData: 'No data in the last 24 hours',
      trendNoParams: 'This station has no parameters yet',
      trendError: (d) => `Could not load data: ${d}`,
      trendRefreshError: 'Refresh failed — showing older data',
      trendNow: 'Now',
      trendMean: '24 h mean',
      trendMax: 'Max',
      trendMin: 'Min',
      trendPoints: (n) => `${n} points`,
      trendUpdated: (time) => `loaded ${time}`,
      trendParams: 'Parameter',
    },
  };

  for (const lang of Object.keys(VEHICLE_I18N)) Object.assign(I18N[lang], VEHICLE_I18N[lang]);
  for (const lang of Object.keys(MAP_I18N)) Object.assign(I18N[lang], MAP_I18N[lang]);
  for (const lang of Object.keys(ALERT_LIST_I18N)) Object.assign(I18N[lang], ALERT_LIST_I18N[lang]);

  // ---------------------------------------------------------------------------
  // 2. Formatting helpers
  // ---------------------------------------------------------------------------

  const weekdayFormatters = {
    vi: new Intl.DateTimeFormat('vi-VN', { timeZone: TIME_ZONE, weekday: 'long' }),
    en: new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, weekday: 'long' }),
  };

  /** Translate a key for the current language; functions are called with args. */
  const t = translator(I18N, () => state.lang);

  /** Current time, corrected by the server clock offset when significant. */
  function nowMs() {
    return Date.now() + state.serverOffsetMs;
  }

  /** HH:mm:ss if same local day as now, otherwise dd/MM HH:mm. */
  function formatTimeSmart(ms) {
    if (ms == null) return '—';
    const p = zonedParts(ms);
    const today = zonedParts(nowMs());
    if (p.day === today.day && p.month === today.month && p.year === today.year) {
      return `${p.hour}:${p.minute}:${p.second}`;
    }
    return `${p.day}/${p.month} ${p.hour}:${p.minute}`;
  }

  /** "x phút trước" / "x min ago". */
  function formatRelative(ms) {
    if (ms == null) return '';
    const seconds = Math.max(0, Math.round((nowMs() - ms) / 1000));
    if (seconds < 5) return t('relJustNow');
    if (seconds < 60) return t('relSeconds', seconds);
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return t('relMinutes', minutes);
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return t('relHours', hours, minutes % 60);
    return t('relDays', Math.floor(hours / 24));
  }

  /** Locale-aware number with sensible precision for sensor values. */
  function formatNumber(value) {
    return IOC.formatNumber(value, state.lang);
  }

  /** Label and unit of a parameter; a station's own unit wins (so2 is µg/m³ in the air but
   *  mg/Nm³ in a stack). */
  function parameterInfo(key, stationId) {
    const station = stationId != null ? state.stations.get(String(stationId)) : null;
    const p = station?.labels?.[key] || state.parameters[key] || {};
    const fallback = I18N.vi[`param_${key}`] != null ? t(`param_${key}`) : key;
    const label = (state.lang === 'en' ? p.label_en || p.label_vi : p.label_vi || p.label_en) || fallback;
    return { label, unit: station?.units?.[key] || state.parameters[key]?.unit || '' };
  }

  function formatValueWithUnit(value, paramKey, stationId) {
    const { unit } = parameterInfo(paramKey, stationId);
    const hasValue = value != null && value !== '';
    return unit && hasValue ? `${formatNumber(value)} ${unit}` : formatNumber(value);
  }

  function formatOwner(owner) {
    if (!owner) return '—';
    return owner === 'state' ? t('ownerState') : t('ownerEnterprise', owner);
  }

  function formatWindow(windowCode) {
    if (!windowCode) return '';
    return windowCode === 'instant' ? t('window_instant') : t('window_mean', windowCode);
  }

  function statusLabel(status) {
    return t(`status_${STATUSES.includes(status) ? status : 'unknown'}`);
  }

  function kindLabel(kind) {
    return KINDS.includes(kind) ? t(`kind_${kind}`) : kind || '—';
  }

  function severityLabel(severity) {
    return t(`sev_${SEVERITY_ORDER[severity] != null ? severity : 'info'}`);
  }

  /** VN_AQI band 0..5 of a station's values: its aqi_band when valid, else from aqi. */
  function aqiBandOf(values) {
    if (!values) return null;
    const band = finiteOrNull(values.aqi_band);
    if (band != null && Number.isInteger(band) && band >= 0 && band <= 5) return band;
    const aqi = finiteOrNull(values.aqi);
    if (aqi == null || aqi < 0) return null;
    return AQI_BANDS.findIndex((b) => Math.round(aqi) <= b.max);
  }

  function aqiBandLabel(band) {
    return t('aqiBand')[band] ?? '';
  }

  /** Nesterov fire danger level 1..5 of a station's values, else null. */
  function fireLevelOf(values) {
    const level = finiteOrNull(values?.fire_level);
    if (level == null) return null;
    return Math.min(5, Math.max(1, Math.round(level)));
  }

  function fireLevelLabel(level) {
    return t('fireLevel')[level - 1] ?? '';
  }

  // ---------------------------------------------------------------------------
  // 3. Application state
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

  let vehicleWall = null;  // wall/vehicles-wall.js, created at start-up
  let alertList = null;    // wall/alert-list.js, created at start-up
  let stationTable = null; // wall/station-table.js, created at start-up

  // ---------------------------------------------------------------------------
  // 4. Websocket connection: wall/connection.js (reconnects, stale and lost feed)
  // ---------------------------------------------------------------------------

  const feed = createFeed({
    socketUrl() {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      let url = `${scheme}//${location.host}/ws`;
      if (state.lastSeq != null) url += `?since=${encodeURIComponent(state.lastSeq)}`;
      return url;
    },
    onFrame: handleFrame,
    onChange: renderConnectionState,
    onClosed: loadUser,  // a refused connection may be an expired login: go to the login page
  });

  /** Reconnect at once without ?since= so the server sends a snapshot. */
  function resyncFromScratch() {
    console.warn('[wall] server seq went backwards; requesting a fresh snapshot');
    state.lastSeq = null;
    feed.restart();
  }

  // ---------------------------------------------------------------------------
  // 5. Protocol handlers
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
        cameraGrid.update(msg.camera, msg.snapshot);
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
        showToast(`${t('serverError')}: ${msg.reason ?? ''}`);
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
    renderLastUpdate();
  }

  /** Keep a server clock offset, ignoring small jitter (clock would wobble). */
  function applyServerTime(iso) {
    const serverMs = parseTime(iso);
    if (serverMs == null) return;
    const offset = serverMs - Date.now();
    if (Math.abs(offset - state.serverOffsetMs) > 2000) {
      state.serverOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
      renderClock();
      renderClockSkew();
    }
  }

  function applySnapshot(msg) {
    applyServerTime(msg.server_time);
    feed.heartbeatsEvery(msg.heartbeat_s);
    state.parameters = msg.parameters || {};

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

    mapView.rebuild();
    stationTable.rebuild();
    alertList.rebuild();
    renderResolvedList();
    renderKpis();
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
        mapView.addStation(station);
        stationTable.addStation(station);
        orderChanged = true;
      } else {
        mapView.updateStation(station, previousStatus);
        stationTable.updateStation(station);
        if (previousStatus !== station.status) orderChanged = true;
      }
    }
    if (orderChanged) stationTable.sort();
    if (moved) mapView.fit();
    renderKpis();
    tooltip.refresh();
  }

  function applyAlertEvent(event, alert) {
    if (!alert || alert.id == null) return;
    const id = String(alert.id);
    rememberAlertOpenTime(alert);
    vehicleWall.applyAlert(event, alert);  // journey.* violations: the ticker

    if (event === 'resolved' || event === 'closed' || alert.state === 'resolved' || alert.state === 'closed') {
      // Merge with what we know so a sparse (or repeated) event keeps details.
      const existing = state.openAlerts.get(id) || state.resolvedAlerts.find((a) => String(a.id) === id);
      state.openAlerts.delete(id);
      alertList.changed(alert);
      addResolvedAlert({ ...(existing || {}), ...alert });
      renderResolvedList();
    } else {
      const previous = state.openAlerts.get(id);
      state.openAlerts.set(id, alert);
      state.resolvedAlerts = state.resolvedAlerts.filter((a) => String(a.id) !== id);
      // A new critical, or one that became critical, flashes.
      alertList.changed(alert, { flash: alert.severity === 'critical' && previous?.severity !== 'critical' });
      renderResolvedList();
    }
    const station = state.stations.get(String(alert.station_id));
    if (station) stationTable.updateStation(station); // key value follows the alerted parameter
    stationTable.sort();
    renderKpis();
    mapView.refreshLabels();
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

  // ---------------------------------------------------------------------------
  // 6a. Header: clock, connection indicator, last update, banner, toast
  // ---------------------------------------------------------------------------

  function renderClock() {
    const now = nowMs();
    setText($('clock-time'), formatTime(now));
    setText($('clock-date'), formatDate(now));
    const weekday = weekdayFormatters[state.lang].format(now);
    setText($('clock-weekday'), weekday.charAt(0).toUpperCase() + weekday.slice(1) + ',');
  }

  function renderLastUpdate() {
    setText($('last-update-time'), formatTime(state.lastDataAt));
    setText($('last-update-age'), state.lastDataAt ? `(${formatRelative(state.lastDataAt)})` : '');
  }

  function renderConnectionState() {
    const phase = feed.phase;
    document.body.dataset.connected = feed.connected ? 'true' : 'false';
    document.body.dataset.feed = phase;

    $('conn-indicator').dataset.state = phase;
    setText($('conn-label'), t({ live: 'connLive', stale: 'connStale', lost: 'connLost' }[phase] ?? 'connConnecting'));

    // The banner appears once a connection was lost or the first attempt failed.
    const banner = $('conn-banner');
    const showBanner = phase === 'lost';
    if (banner.hidden === showBanner) banner.hidden = !showBanner;
    if (showBanner) {
      let detail;
      if (feed.retryAt) {
        const seconds = Math.max(0, Math.ceil((feed.retryAt - Date.now()) / 1000));
        detail = t('bannerRetryIn', seconds, feed.attempt + 1);
      } else {
        detail = t('bannerRetrying', Math.max(1, feed.attempt));
      }
      if (feed.disconnectedAt) detail += t('bannerSince', formatTime(feed.disconnectedAt + state.serverOffsetMs));
      setText($('conn-banner-detail'), detail);
    }

    // Connected, but nothing arrives: the server (or the path to it) is frozen.
    const staleBanner = $('stale-banner');
    const showStale = phase === 'stale';
    if (staleBanner.hidden === showStale) staleBanner.hidden = !showStale;
    if (showStale) {
      setText($('stale-banner-title'), t('staleTitle'));
      setText($('stale-banner-detail'), t('staleDetail', Math.floor(feed.silentForMs / 1000)));
    }
  }

  /** The server's clock is shown; a large skew of this computer's clock is said. */
  function renderClockSkew() {
    const skew = $('clock-skew');
    const seconds = Math.round(state.serverOffsetMs / 1000);
    const show = Math.abs(state.serverOffsetMs) >= CLOCK_SKEW_SHOWN_MS;
    skew.hidden = !show;
    if (show) setText(skew, t('clockSkew', `${seconds > 0 ? '+' : '−'}${Math.abs(seconds)}`));
  }

  function showToast(message) {
    IOC.showToast(message, { ms: TOAST_MS });
  }

  // ---------------------------------------------------------------------------
  // 6b. KPI tiles
  // ---------------------------------------------------------------------------

  function renderKpis() {
    const counts = { ok: 0, alert: 0, offline: 0, unknown: 0 };
    for (const station of state.stations.values()) {
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      counts[status] += 1;
    }
    const total = state.stations.size;
    const online = counts.ok + counts.alert;

    setText($('kpi-online-count'), online);
    setText($('kpi-total-count'), total);
    $('kpi-online-bar').style.width = total ? `${(online / total) * 100}%` : '0%';
    const onlineTile = document.querySelector('[data-testid="kpi-online"]');
    onlineTile.dataset.online = String(online);
    onlineTile.dataset.total = String(total);

    setText($('kpi-offline-count'), counts.offline);
    setText($('kpi-unknown-count'), counts.unknown);
    document.querySelector('[data-testid="kpi-offline"]').classList.toggle('is-bad', counts.offline > 0);

    const bySeverity = { critical: 0, warning: 0, info: 0 };
    for (const alert of state.openAlerts.values()) {
      const sev = SEVERITY_ORDER[alert.severity] != null ? alert.severity : 'info';
      bySeverity[sev] += 1;
    }
    const alertTile = document.querySelector('[data-testid="kpi-alerts"]');
    setText($('kpi-alerts-total'), state.openAlerts.size);
    for (const sev of Object.keys(bySeverity)) {
      setText($(`kpi-alerts-${sev}`), bySeverity[sev]);
      alertTile.dataset[sev] = String(bySeverity[sev]);
      alertTile.querySelector(`.sev-${sev}`).classList.toggle('is-zero', bySeverity[sev] === 0);
    }
    alertTile.dataset.total = String(state.openAlerts.size);

    renderLastHourKpi();
    renderEnvKpis();
    setText($('alerts-meta'), t('alertsMeta', state.openAlerts.size));
    stationTable.renderCount();
  }

  /**
   * Worst VN_AQI (max aqi) and worst forest fire danger (max fire_level, then
   * nesterov) over all stations that report them. Text is set only on change.
   */
  function renderEnvKpis() {
    let worstAqi = null;
    let worstFire = null;
    for (const station of state.stations.values()) {
      const values = station.values;
      if (!values) continue;
      const aqi = finiteOrNull(values.aqi);
      if (aqi != null && aqi >= 0 && (!worstAqi || aqi > worstAqi.value)) worstAqi = { station, value: aqi };
      const level = fireLevelOf(values);
      if (level != null) {
        const nesterov = finiteOrNull(values.nesterov) ?? -Infinity;
        if (!worstFire || level > worstFire.level || (level === worstFire.level && nesterov > worstFire.nesterov)) {
          worstFire = { station, level, nesterov };
        }
      }
    }

    const aqiBand = worstAqi ? aqiBandOf(worstAqi.station.values) : null;
    renderEnvTile({
      tile: document.querySelector('[data-testid="kpi-aqi"]'),
      prefix: 'kpi-aqi',
      station: worstAqi?.station,
      level: aqiBand,
      valueText: worstAqi ? String(Math.round(worstAqi.value)) : '—',
      labelText: aqiBand != null ? aqiBandLabel(aqiBand) : '',
      data: { aqi: worstAqi ? String(worstAqi.value) : '', band: aqiBand != null ? String(aqiBand) : 'none' },
    });
    renderEnvTile({
      tile: document.querySelector('[data-testid="kpi-fire"]'),
      prefix: 'kpi-fire',
      station: worstFire?.station,
      level: worstFire ? worstFire.level - 1 : null,
      valueText: worstFire ? ROMAN[worstFire.level - 1] : '—',
      labelText: worstFire ? fireLevelLabel(worstFire.level) : '',
      data: { level: worstFire ? String(worstFire.level) : 'none' },
    });
  }

  function renderEnvTile({ tile, prefix, station, level, valueText, labelText, data }) {
    for (const [key, value] of Object.entries(data)) {
      if (tile.dataset[key] !== value) tile.dataset[key] = value;
    }
    const stationId = station ? station.id : '';
    if ((tile.dataset.stationId || '') !== stationId) tile.dataset.stationId = stationId;
    tile.classList.toggle('is-empty', !station);
    tile.tabIndex = station ? 0 : -1;
    setText($(`${prefix}-value`), valueText);
    const chip = $(`${prefix}-label`);
    setText(chip, labelText);
    if (chip.title !== labelText) chip.title = labelText;
    chip.hidden = !labelText;
    const sub = $(`${prefix}-station`);
    const subText = station ? station.name || station.id : t('kpiNoData');
    setText(sub, subText);
    if (sub.title !== subText) sub.title = station ? `${subText} · ${station.id}` : '';
    sub.classList.toggle('muted', !station);
    const cells = $(`${prefix}-scale`).children;
    for (let i = 0; i < cells.length; i += 1) cells[i].classList.toggle('is-current', i === level);
  }

  function renderLastHourKpi() {
    const cutoff = nowMs() - HOUR_MS;
    let count = 0;
    for (const [id, openedAt] of state.alertOpenTimes) {
      if (openedAt >= cutoff) count += 1;
      else if (!state.openAlerts.has(id)) state.alertOpenTimes.delete(id); // prune
    }
    setText($('kpi-last-hour'), count);
  }

  // ---------------------------------------------------------------------------
  // 6c. Map (inline SVG over the basemap, wall/map.js: Leaflet's projection fitted to the
  //     stations; without Leaflet, an equirectangular projection)
  // ---------------------------------------------------------------------------

  const MARKER_SHAPES = {
    air: () => svgEl('circle', { class: 'shape', r: 6.5 }),
    weather: () => svgEl('path', { class: 'shape', d: 'M0,-8.5 L7.8,5.5 L-7.8,5.5 Z' }),
    stack: () => svgEl('rect', { class: 'shape', x: -6, y: -6, width: 12, height: 12 }),
    wastewater: () => svgEl('path', { class: 'shape', d: 'M0,-8.5 L8.5,0 L0,8.5 L-8.5,0 Z' }),
    groundwater: () => svgEl('path', { class: 'shape', d: 'M0,8.5 L7.8,-5.5 L-7.8,-5.5 Z' }),
  };

  const mapView = {
    svg: null,
    wrap: null,
    width: 0,
    height: 0,
    projection: null,
    basemap: null,      // wall/map.js (Leaflet), or null: the wall's own projection
    markers: new Map(), // id -> { group, label }

    init() {
      this.svg = $('map');
      this.wrap = $('map-wrap');
      this.layerNormal = $('map-layer-normal');
      this.layerAlert = $('map-layer-alert');
      // Pulse rings are HTML elements beneath the SVG so the browser can
      // animate them on the compositor instead of repainting the SVG.
      this.pulseLayer = $('map-pulses');
      this.basemap = createBasemap({
        container: $('basemap'),
        wrap: this.wrap,
        note: $('basemap-note'),
        t,
        onChange: () => { if (this.projection) this.fit(); },
      });
      this.svg.addEventListener('pointerover', (e) => this.onPointer(e, 'over'));
      this.svg.addEventListener('pointerout', (e) => this.onPointer(e, 'out'));
      this.svg.addEventListener('click', (e) => {
        const marker = e.target.closest('.marker');
        if (marker) selectStation(marker.dataset.stationId);
        else selectStation(null);
      });
      new ResizeObserver(() => this.fit()).observe(this.wrap);
      renderLegend();
    },

    onPointer(event, phase) {
      const marker = event.target.closest('.marker');
      if (!marker) return;
      if (phase === 'over') {
        state.hoveredStationId = marker.dataset.stationId;
      } else if (!marker.contains(event.relatedTarget)) {
        state.hoveredStationId = null;
      }
      tooltip.refresh();
    },

    /** Full rebuild: used on snapshot only. */
    rebuild() {
      this.layerNormal.replaceChildren();
      this.layerAlert.replaceChildren();
      this.pulseLayer.replaceChildren();
      this.markers.clear();
      for (const station of state.stations.values()) this.createMarker(station);
      this.fit();
    },

    addStation(station) {
      this.createMarker(station);
      this.fit(); // the bounding box may have grown
    },

    createMarker(station) {
      const group = svgEl('g', {
        class: 'marker',
        'data-testid': 'station-marker',
        'data-station-id': station.id,
        'data-status': station.status || 'unknown',
        'data-kind': station.kind || 'air',
        tabindex: 0,
      });
      group.append(
        svgEl('circle', { class: 'hit', r: 13 }),
        (MARKER_SHAPES[station.kind] || MARKER_SHAPES.air)(),
      );
      const label = svgEl('text', { class: 'marker-label', y: -14 });
      group.append(label);
      group.addEventListener('focus', () => { state.hoveredStationId = station.id; tooltip.refresh(); });
      group.addEventListener('blur', () => { state.hoveredStationId = null; tooltip.refresh(); });
      this.markers.set(station.id, { group, label, ring: null, point: null });
      this.placeMarker(station);
      this.applyStatus(station);
      this.applyAqi(station);
    },

    /** Incremental update for a station delta. */
    updateStation(station, previousStatus) {
      const marker = this.markers.get(station.id);
      if (!marker) return;
      if (previousStatus !== station.status) this.applyStatus(station);
      this.applyAqi(station);
    },

    /** Air stations carry their VN_AQI band for the "AQI" colouring (CSS does the rest). */
    applyAqi(station) {
      const marker = this.markers.get(station.id);
      if (!marker || (station.kind || 'air') !== 'air') return;
      const band = aqiBandOf(station.values);
      const value = band == null ? 'none' : String(band);
      if (marker.group.dataset.aqiBand !== value) marker.group.dataset.aqiBand = value;
    },

    applyStatus(station) {
      const marker = this.markers.get(station.id);
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      marker.group.setAttribute('data-status', status);
      const layer = status === 'alert' ? this.layerAlert : this.layerNormal;
      if (marker.group.parentNode !== layer) layer.append(marker.group); // alerts drawn on top
      if (status === 'alert' && !marker.ring) {
        marker.ring = el('span', { class: 'pulse-ring' });
        this.pulseLayer.append(marker.ring);
        this.positionRing(marker);
      } else if (status !== 'alert' && marker.ring) {
        marker.ring.remove();
        marker.ring = null;
      }
      this.updateLabel(station);
    },

    /** Alerting stations carry their name on the map. */
    updateLabel(station) {
      const marker = this.markers.get(station.id);
      if (!marker) return;
      const show = station.status === 'alert' || this.stationHasCriticalAlert(station.id);
      setText(marker.label, show ? station.name || station.id : '');
    },

    refreshLabels() {
      for (const station of state.stations.values()) this.updateLabel(station);
    },

    stationHasCriticalAlert(stationId) {
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) === stationId && alert.severity === 'critical') return true;
      }
      return false;
    },

    placeMarker(station) {
      const marker = this.markers.get(station.id);
      const point = this.project(station);
      marker.point = point;
      this.positionRing(marker);
      if (!point) {
        marker.group.setAttribute('display', 'none');
        return;
      }
      marker.group.removeAttribute('display');
      marker.group.setAttribute('transform', `translate(${point[0].toFixed(1)},${point[1].toFixed(1)})`);
    },

    positionRing(marker) {
      if (!marker.ring) return;
      marker.ring.hidden = !marker.point;
      if (marker.point) {
        marker.ring.style.left = `${marker.point[0].toFixed(1)}px`;
        marker.ring.style.top = `${marker.point[1].toFixed(1)}px`;
      }
    },

    hasCoordinates(station) {
      return Number.isFinite(Number(station.lat)) && Number.isFinite(Number(station.lon))
        && station.lat !== null && station.lon !== null;
    },

    project(station) {
      if (!this.projection || !this.hasCoordinates(station)) return null;
      return this.projection.toScreen(Number(station.lat), Number(station.lon));
    },

    /**
     * Fit an equirectangular projection (x scaled by cos(mid-latitude)) to
     * the bounding box of all stations plus padding, centred in the panel.
     */
    fit() {
      const width = this.wrap.clientWidth;
      const height = this.wrap.clientHeight;
      if (!width || !height) return;
      this.width = width;
      this.height = height;
      this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);

      let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
      let placed = 0;
      for (const s of state.stations.values()) {
        if (!this.hasCoordinates(s)) continue;
        const lat = Number(s.lat), lon = Number(s.lon);
        minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
        minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
        placed += 1;
      }
      $('map-empty').hidden = state.stations.size > 0;
      setText($('map-meta'), state.stations.size ? t('mapMeta', state.stations.size, state.stations.size - placed) : '');
      if (!placed) {
        this.projection = null;
        $('map-grid').replaceChildren();
        $('map-grid-labels').replaceChildren();
        $('map-scale').replaceChildren();
        vehicleWall?.onProjection();
        return;
      }

      // Avoid a degenerate box (single station / all on a line).
      const MIN_SPAN = 0.05;
      if (maxLat - minLat < MIN_SPAN) { const c = (maxLat + minLat) / 2; minLat = c - MIN_SPAN / 2; maxLat = c + MIN_SPAN / 2; }
      if (maxLon - minLon < MIN_SPAN) { const c = (maxLon + minLon) / 2; minLon = c - MIN_SPAN / 2; maxLon = c + MIN_SPAN / 2; }

      const midLat = (minLat + maxLat) / 2;
      const kx = Math.cos((midLat * Math.PI) / 180);
      const padX = Math.max(36, width * 0.06);
      const padTop = Math.max(36, height * 0.06);
      // Keep the bottom strip (legend, scale bar) clear of markers.
      const legendHeight = $('map-legend').offsetHeight || 0;
      const padBottom = Math.max(60, legendHeight + 34);
      if (this.basemap) {
        this.projection = this.basemap.fit({ minLat, maxLat, minLon, maxLon }, { padTop, padBottom, padX });
      } else {
        const spanX = (maxLon - minLon) * kx;
        const spanY = maxLat - minLat;
        const scale = Math.min((width - 2 * padX) / spanX, (height - padTop - padBottom) / spanY);
        const centerLon = (minLon + maxLon) / 2;
        const cx = width / 2;
        const cy = padTop + (height - padTop - padBottom) / 2;

        this.projection = {
          scale,
          kx,
          toScreen: (lat, lon) => [cx + (lon - centerLon) * kx * scale, cy - (lat - midLat) * scale],
          toGeo: (x, y) => [midLat - (y - cy) / scale, centerLon + (x - cx) / (kx * scale)],
        };
      }

      for (const station of state.stations.values()) this.placeMarker(station);
      this.drawGraticule();
      this.drawScaleBar();
      tooltip.refresh();
      vehicleWall?.onProjection();
    },

    /** Light lat/lon grid covering the whole visible panel. */
    drawGraticule() {
      const grid = $('map-grid');
      const labels = $('map-grid-labels');
      const [topLat, leftLon] = this.projection.toGeo(0, 0);
      const [bottomLat, rightLon] = this.projection.toGeo(this.width, this.height);
      const step = niceStep(Math.max(rightLon - leftLon, topLat - bottomLat) / 7);
      const digits = (String(Number(step.toFixed(6))).split('.')[1] || '').length;

      const gridNodes = [];
      const labelNodes = [];
      // Iterate on integer multiples of the step to avoid floating-point drift.
      let lastLabelX = -Infinity;
      for (let i = Math.ceil(leftLon / step); i * step <= rightLon; i += 1) {
        const lon = i * step;
        const [x] = this.projection.toScreen(bottomLat, lon);
        gridNodes.push(svgEl('line', { x1: x.toFixed(1), y1: 0, x2: x.toFixed(1), y2: this.height }));
        if (x > this.width - 90) continue; // keep clear of the edge and north arrow
        if (x - lastLabelX < 80 || x < 64) continue; // a short, wide map: no overlapping labels
        lastLabelX = x;
        const label = svgEl('text', { x: (x + 4).toFixed(1), y: 16 });
        label.textContent = `${lon.toFixed(digits)}°E`;
        labelNodes.push(label);
      }
      for (let i = Math.ceil(bottomLat / step); i * step <= topLat; i += 1) {
        const lat = i * step;
        const [, y] = this.projection.toScreen(lat, leftLon);
        gridNodes.push(svgEl('line', { x1: 0, y1: y.toFixed(1), x2: this.width, y2: y.toFixed(1) }));
        const label = svgEl('text', { x: 6, y: (y - 5).toFixed(1) });
        label.textContent = `${lat.toFixed(digits)}°N`;
        labelNodes.push(label);
      }
      grid.replaceChildren(...gridNodes);
      labels.replaceChildren(...labelNodes);
    },

    drawScaleBar() {
      const group = $('map-scale');
      const KM_PER_DEG_LAT = 111.32;
      const pxPerKm = this.projection.scale / KM_PER_DEG_LAT;
      const targetKm = (this.width * 0.12) / pxPerKm;
      const km = niceStep(targetKm);
      const len = km * pxPerKm;
      const x = this.width - len - 28;
      const y = this.height - 24 - (this.basemap?.bottomInset() || 0); // above the attribution
      const text = svgEl('text', { x: (x + len / 2).toFixed(1), y: y - 8, 'text-anchor': 'middle' });
      text.textContent = `${formatNumber(km)} ${t('scaleKm')}`;
      const north = svgEl('g', { class: 'north', transform: `translate(${this.width - 30},${48})` });
      north.append(
        svgEl('path', { d: 'M0,-18 L7,4 L0,-1 L-7,4 Z' }),
        Object.assign(svgEl('text', { y: 18, 'text-anchor': 'middle' }), { textContent: 'N' }),
      );
      group.replaceChildren(
        svgEl('path', { d: `M${x},${y - 5} V${y} H${x + len} V${y - 5}` }),
        text,
        north,
      );
    },
  };

  /** 1, 2, 2.5 or 5 × 10^n closest below the raw value. */
  function niceStep(raw) {
    if (!(raw > 0)) return 1;
    const exp = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / exp;
    const nice = f >= 5 ? 5 : f >= 2.5 ? 2.5 : f >= 2 ? 2 : 1;
    return nice * exp;
  }

  function renderLegend() {
    const legend = $('map-legend');
    legend.dataset.mode = state.mapColor;
    const statusItems = STATUSES.map((status) => {
      const svg = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch', 'data-status': status });
      svg.append(svgEl('circle', { class: 'shape', r: 6.5 }));
      return el('span', { class: 'legend-item' }, svg, statusLabel(status));
    });
    if (state.mapColor === 'aqi') {
      const bandItems = AQI_BANDS.map((band, i) => {
        const svg = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch', 'data-aqi-band': i });
        svg.append(svgEl('circle', { class: 'shape', r: 6.5 }));
        const low = i === 0 ? 0 : AQI_BANDS[i - 1].max + 1;
        const range = Number.isFinite(band.max) ? `${low}–${band.max}` : `${low}+`;
        return el('span', { class: 'legend-item', title: range }, svg, aqiBandLabel(i));
      });
      const none = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch', 'data-aqi-band': 'none' });
      none.append(svgEl('circle', { class: 'shape', r: 6.5 }));
      bandItems.push(el('span', { class: 'legend-item' }, none, t('legendNoAqi')));
      statusItems.splice(0, statusItems.length, ...bandItems);
    }
    const kindItems = KINDS.map((kind) => {
      const svg = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch legend-kind' });
      svg.append(MARKER_SHAPES[kind]());
      return el('span', { class: 'legend-item' }, svg, kindLabel(kind));
    });
    legend.replaceChildren(
      el('div', { class: 'legend-group' },
        el('span', { class: 'legend-title' }, state.mapColor === 'aqi' ? t('legendAqi') : t('legendStatus')), ...statusItems),
      el('div', { class: 'legend-group' }, el('span', { class: 'legend-title' }, t('legendKind')), ...kindItems),
    );
  }

  // ---------------------------------------------------------------------------
  // 6d. Station tooltip / detail panel
  // ---------------------------------------------------------------------------

  function selectStation(stationId) {
    state.selectedStationId = stationId && state.stations.has(stationId) ? stationId : null;
    if (state.selectedStationId) vehicleWall?.close();
    for (const { group } of mapView.markers.values()) group.classList.remove('is-selected');
    for (const row of stationTable.rows.values()) row.classList.remove('is-selected');
    if (state.selectedStationId) {
      mapView.markers.get(state.selectedStationId)?.group.classList.add('is-selected');
      stationTable.rows.get(state.selectedStationId)?.classList.add('is-selected');
    }
    tooltip.refresh();
    trend.sync();
  }

  const tooltip = {
    shownId: null,
    signature: '',

    /** Show the hovered station, else the pinned one; re-render if data changed. */
    refresh() {
      const node = $('station-tooltip');
      const id = state.hoveredStationId || state.selectedStationId;
      const station = id ? state.stations.get(id) : null;
      const point = station ? mapView.project(station) : null;
      if (!station || !point) {
        node.hidden = true;
        this.shownId = null;
        return;
      }
      const pinned = id === state.selectedStationId;
      const alerts = [...state.openAlerts.values()].filter((a) => String(a.station_id) === id);
      const signature = JSON.stringify([id, state.lang, pinned, station, alerts, state.parameters]);
      if (signature !== this.signature) {
        this.render(node, station, alerts, pinned);
        this.signature = signature;
      }
      this.shownId = id;
      node.hidden = false;
      this.position(node, point);
    },

    render(node, station, alerts, pinned) {
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      const lastSeen = parseTime(station.last_seen);
      const head = el('div', { class: 'tip-head' },
        el('span', { class: `status-dot status-${status}` }),
        el('div', { class: 'tip-title' },
          el('div', { class: 'tip-name' }, station.name || station.id),
          el('div', { class: 'tip-id mono muted' }, station.id)),
        pinned ? el('button', { class: 'tip-close', type: 'button', 'aria-label': t('tipClose'), title: t('tipClose') }, '×') : null,
      );
      const facts = el('dl', { class: 'tip-facts' },
        el('dt', null, t('tipStatus')), el('dd', { class: `status-text status-${status}` }, statusLabel(status)),
        el('dt', null, t('tipKind')), el('dd', null, kindLabel(station.kind)),
        el('dt', null, t('tipOwner')), el('dd', null, formatOwner(station.owner)),
        el('dt', null, t('tipLastSeen')), el('dd', { class: 'tip-lastseen' }, this.lastSeenText(lastSeen)),
      );
      this.lastSeen = lastSeen;

      const alertParams = new Set(alerts.map((a) => a.parameter));
      const entries = Object.entries(station.values || {});
      const values = entries.length
        ? el('table', { class: 'tip-values' }, ...entries.map(([key, value]) => {
          const info = parameterInfo(key, station.id);
          let text = formatNumber(value);
          let unit = info.unit;
          const band = key === 'aqi_band' ? aqiBandOf({ aqi_band: value }) : null;
          const level = key === 'fire_level' ? fireLevelOf({ fire_level: value }) : null;
          if (band != null) {
            text = aqiBandLabel(band);
            unit = '';
          } else if (level != null) {
            text = ROMAN[level - 1];
            unit = fireLevelLabel(level);
          }
          return el('tr', { class: alertParams.has(key) ? 'is-alert' : '' },
            el('td', null, info.label),
            el('td', { class: 'num mono' }, text),
            el('td', { class: 'unit muted' }, unit));
        }))
        : el('div', { class: 'muted' }, t('tipNoValues'));

      const alertBlock = alerts.length
        ? el('div', { class: 'tip-alerts' },
          el('div', { class: 'tip-section' }, t('tipAlerts')),
          ...alerts.map((a) => el('div', { class: `tip-alert sev-${a.severity}` },
            `${severityLabel(a.severity)} · ${parameterInfo(a.parameter).label} ${formatNumber(a.value)}/${formatValueWithUnit(a.limit, a.parameter, a.station_id)}`)))
        : null;

      node.classList.toggle('is-pinned', pinned);
      const parts = [head, facts, el('div', { class: 'tip-section' }, t('tipValues')), values, alertBlock];
      node.replaceChildren(...parts.filter(Boolean));
      node.querySelector('.tip-close')?.addEventListener('click', (e) => {
        e.stopPropagation();
        selectStation(null);
      });
    },

    lastSeenText(lastSeen) {
      return lastSeen ? `${formatDateTime(lastSeen)} (${formatRelative(lastSeen)})` : t('never');
    },

    /** Called every second to keep the relative "last seen" text current. */
    tick() {
      if (!this.shownId) return;
      const node = $('station-tooltip').querySelector('.tip-lastseen');
      if (node) setText(node, this.lastSeenText(this.lastSeen));
    },

    position(node, [x, y]) {
      const margin = 12;
      const w = node.offsetWidth;
      const h = node.offsetHeight;
      let left = x + 18;
      if (left + w > mapView.width - margin) left = x - 18 - w;
      left = Math.max(margin, left);
      let top = y - h / 2;
      top = Math.min(Math.max(margin, top), mapView.height - h - margin);
      node.style.transform = `translate(${Math.round(left)}px, ${Math.round(Math.max(margin, top))}px)`;
    },
  };

  // ---------------------------------------------------------------------------
  // 6e. Alert list: wall/alert-list.js (order, pinned criticals, paging, hold under the
  //     pointer, filter and search); cameras
  // ---------------------------------------------------------------------------

  /** Latest picture (with the worker's overlays) and numbers of every camera, over the map
   *  when the Camera button is on. Cards appear from /api/v1/cameras, then follow the
   *  websocket's `camera` frames. */
  const cameraGrid = {
    cards: new Map(),

    init() {
      const button = $('camera-toggle');
      button.addEventListener('click', () => {
        const grid = $('camera-grid');
        grid.hidden = !grid.hidden;
        button.classList.toggle('is-on', !grid.hidden);
        if (!grid.hidden) this.load();
      });
    },

    async load() {
      try {
        const response = await fetch('/api/v1/cameras');
        const body = await response.json();
        for (const camera of body.cameras || []) {
          this.update(camera, `/api/v1/cameras/${encodeURIComponent(camera.camera)}/snapshots/latest.jpg`);
        }
      } catch (error) {
        console.debug('[wall] cameras', error);
      }
    },

    update(camera, snapshotUrl) {
      if (!camera || !camera.camera) return;
      const id = String(camera.camera);
      let card = this.cards.get(id);
      if (!card) {
        card = {
          img: el('img', { class: 'camera-img', alt: camera.name || id }),
          info: el('div', { class: 'camera-info' }),
        };
        card.root = el('figure', { class: 'camera-card', 'data-testid': 'camera-card', 'data-camera-id': id },
          card.img, card.info);
        this.cards.set(id, card);
        $('camera-grid').append(card.root);
      }
      if (snapshotUrl) card.img.src = `${snapshotUrl}?t=${Date.now()}`;
      const alerts = camera.alerts || [];
      card.root.classList.toggle('has-alert', alerts.length > 0);
      const traffic = camera.traffic || {};
      const parts = [camera.name || id];
      if (camera.kind === 'traffic' && traffic.count_in != null) {
        const levels = { free: 0, slow: 1, jammed: 2 };  // the worker names the level
        const level = t('congestion')[levels[traffic.congestion] ?? traffic.congestion ?? 0] || '';
        parts.push(`↑${traffic.count_in} ↓${traffic.count_out} · ${formatNumber(traffic.occupancy ?? 0)}% · ${level}`);
      }
      if (camera.analysing === false) parts.push(t('cameraAnalysisPaused'));
      if (alerts.length) parts.push(alerts.join(', '));
      card.info.replaceChildren(...parts.map((p) => el('div', {}, p)));
    },
  };

  /** The logged-in user (GET /api/v1/auth/me); without a valid login, the login page. */
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

  function renderResolvedList() {
    const section = $('resolved-section');
    section.hidden = state.resolvedAlerts.length === 0;
    setText($('resolved-count'), state.resolvedAlerts.length ? `(${state.resolvedAlerts.length})` : '');
    $('resolved-list').replaceChildren(...state.resolvedAlerts.map((alert) => {
      const severity = SEVERITY_ORDER[alert.severity] != null ? alert.severity : 'info';
      const param = parameterInfo(alert.parameter, alert.station_id);
      const resolvedAt = parseTime(alert.resolved_at);
      const stationName = alert.station_name || state.stations.get(String(alert.station_id))?.name || alert.station_id;
      return el('li', {
        class: `resolved-row sev-${severity}`,
        'data-testid': 'resolved-row',
        'data-alert-id': alert.id,
        'data-severity': severity,
      },
      el('span', { class: 'resolved-sev' }, severityLabel(severity)),
      el('span', { class: 'resolved-station' }, stationName ?? '—'),
      el('span', { class: 'resolved-param' }, alert.parameter
        ? `${param.label} ${formatNumber(alert.value)}/${formatValueWithUnit(alert.limit, alert.parameter, alert.station_id)}` : '—'),
      el('span', { class: 'resolved-time mono' }, `${formatTime(parseTime(alert.opened_at))} → ${resolvedAt ? formatTime(resolvedAt) : '—'}`));
    }));
  }

  // ---------------------------------------------------------------------------
  // 6f. Station table: wall/station-table.js (incremental rows, alerts first, kiosk paging)
  // ---------------------------------------------------------------------------

  /**
   * The parameter shown in the table: the one of the station's most severe
   * open alert, else the preferred parameter for its kind, else the first.
   */
  function mainValueOf(station) {
    const values = station.values || {};
    let key = null;
    let alerting = false;
    let best = Infinity;
    for (const alert of state.openAlerts.values()) {
      if (String(alert.station_id) !== station.id || !(alert.parameter in values)) continue;
      const rank = SEVERITY_ORDER[alert.severity] ?? 3;
      if (rank < best) { best = rank; key = alert.parameter; alerting = true; }
    }
    if (!key) key = (MAIN_PARAMETER_BY_KIND[station.kind] || []).find((k) => values[k] != null) || null;
    if (!key) key = Object.keys(values).find((k) => values[k] != null) || Object.keys(values)[0] || null;
    if (!key) return null;
    return { key, value: values[key], label: parameterInfo(key).label, alerting };
  }

  // ---------------------------------------------------------------------------
  // 6g. Trend chart of the selected station (one parameter, last 24 h)
  // ---------------------------------------------------------------------------

  /** ISO 8601 in UTC with Z and whole seconds, e.g. 2026-11-23T08:05:00Z. */
  function isoUtc(ms) {
    return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  }

  /** Offset of Asia/Ho_Chi_Minh from UTC at `ms`, to align axis ticks on local hours. */
  function zoneOffsetMs(ms) {
    const p = zonedParts(ms);
    const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day),
      Number(p.hour), Number(p.minute), Number(p.second));
    return local - Math.floor(ms / 1000) * 1000;
  }

  /** Index of the first point at or after `ms` in an ascending [[ms, value]] list. */
  function lowerBound(points, ms) {
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (points[mid][0] < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Axis tick text with as many decimals as the tick step needs. */
  function formatTick(value, step) {
    const exponent = Math.floor(Math.log10(step) + 1e-9);
    const mantissa = Math.round(step / 10 ** exponent * 10) / 10;
    const digits = Math.min(4, Math.max(0, -exponent + (mantissa === 2.5 ? 1 : 0)));
    return numberFormat(state.lang, digits, digits).format(Math.abs(value) < step / 1e6 ? 0 : value);
  }

  function svgText(attrs, text) {
    const node = svgEl('text', attrs);
    node.textContent = text;
    return node;
  }

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
    plot: null,          // geometry of the last drawing, for the hover read-out
    paramsSignature: '',

    init() {
      $('trend-close').addEventListener('click', (event) => {
        event.stopPropagation();
        selectStation(null);
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
      const svg = $('trend-svg');
      svg.addEventListener('pointermove', (event) => this.hover(event));
      svg.addEventListener('pointerleave', () => this.hover(null));
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
      this.plot = null;
      $('trend-svg').replaceChildren();
      $('trend-hover').hidden = true;
    },

    /** The station's parameters: registry units first, then latest values, alerts, data. */
    params() {
      const station = state.stations.get(this.stationId);
      const keys = new Set();
      const add = (key) => {
        if (key && !NON_PARAMETER_KEYS.has(key) && !key.endsWith('_status')) keys.add(key);
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

    /** Open-alert limits for the shown station and parameter, one per distinct value. */
    limits() {
      const byValue = new Map();
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) !== this.stationId || alert.parameter !== this.param) continue;
        const value = finiteOrNull(alert.limit);
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
      let timedOut = false;
      const timeout = setTimeout(() => { timedOut = true; controller.abort(); }, 20000);
      const url = `/api/v1/readings?station=${encodeURIComponent(id)}`
        + `&since=${isoUtc(nowMs() - TREND_WINDOW_MS)}&limit=${TREND_LIMIT}`;
      let readings = null;
      let error = '';
      try {
        const response = await fetch(url, {
          signal: controller.signal, cache: 'no-store', headers: { Accept: 'application/json' },
        });
        let body = null;
        try { body = await response.json(); } catch (_) { /* not JSON */ }
        if (!response.ok) throw new Error(`HTTP ${response.status}${body?.error ? ` · ${body.error}` : ''}`);
        if (!body || !Array.isArray(body.readings)) throw new Error('invalid response');
        readings = body.readings;
      } catch (err) {
        if (controller.signal.aborted && !timedOut) return; // superseded or closed
        error = timedOut ? 'timeout' : err?.message || String(err);
      } finally {
        clearTimeout(timeout);
      }
      if (requestNo !== this.requestNo || id !== this.stationId) return;
      this.controller = null;
      if (readings) {
        this.ingest(readings);
        this.loadedAt = nowMs();
        this.error = '';
      } else {
        console.warn('[wall] trend data for', id, 'failed:', error);
        this.error = error;
      }
      this.status = readings || this.hasData() ? 'ready' : 'error';
      if (!this.userChoseParam && !this.params().includes(this.param)) this.param = this.defaultParam();
      if (this.param == null) this.param = this.defaultParam();
      this.renderHead();
      this.draw();
    },

    hasData() {
      for (const points of this.series.values()) if (points.length) return true;
      return false;
    },

    /** Readings (newest first, one object per time) -> one ascending series per parameter. */
    ingest(readings) {
      const fresh = new Map();
      for (let i = readings.length - 1; i >= 0; i -= 1) {
        const row = readings[i];
        const ms = parseTime(row?.time);
        if (ms == null) continue;
        for (const [key, value] of Object.entries(row)) {
          if (typeof value !== 'number' || !Number.isFinite(value)) continue;
          if (NON_PARAMETER_KEYS.has(key) || key.endsWith('_status')) continue;
          const flag = row[`${key}_status`];
          if (flag != null && flag !== 0 && flag !== 'measuring') continue; // calibrating / device error
          let points = fresh.get(key);
          if (!points) fresh.set(key, (points = []));
          points.push([ms, value]);
        }
      }
      for (const points of fresh.values()) points.sort((a, b) => a[0] - b[0]);
      // Live values that arrived after the newest stored reading are kept.
      for (const [key, old] of this.series) {
        const points = fresh.get(key) || [];
        const newest = points.length ? points[points.length - 1][0] : -Infinity;
        const newer = old.filter(([ms]) => ms > newest);
        if (newer.length) fresh.set(key, points.concat(newer));
      }
      this.series = fresh;
    },

    /** A `stations` delta for the shown station: append its values as live points. */
    onStationDelta(delta, station) {
      const values = delta.values;
      if (values && typeof values === 'object') {
        const ms = parseTime(delta.last_seen) ?? nowMs();
        let shownChanged = false;
        for (const [key, raw] of Object.entries(values)) {
          const value = finiteOrNull(raw);
          if (value == null || NON_PARAMETER_KEYS.has(key) || key.endsWith('_status')) continue;
          let points = this.series.get(key);
          if (!points) this.series.set(key, (points = []));
          const last = points[points.length - 1];
          if (last && ms < last[0]) continue;
          if (last && ms === last[0]) {
            if (last[1] === value) continue;
            last[1] = value;
          } else {
            points.push([ms, value]);
          }
          if (key === this.param) shownChanged = true;
        }
        if (shownChanged) this.scheduleDraw();
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
      const body = $('trend-body');
      const svg = $('trend-svg');
      const width = body.clientWidth;
      const height = body.clientHeight;
      if (!width || !height) return;
      svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
      const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 14;

      const end = nowMs();
      const start = end - TREND_WINDOW_MS;
      const points = this.status === 'loading' ? [] : this.windowPoints();
      const limits = points.length ? this.limits() : [];
      const info = parameterInfo(this.param, this.stationId);

      // ---- y domain: data and limits, zero kept in view for mostly positive data
      let lo = Infinity;
      let hi = -Infinity;
      for (const [, v] of points) { if (v < lo) lo = v; if (v > hi) hi = v; }
      for (const limit of limits) { lo = Math.min(lo, limit.value); hi = Math.max(hi, limit.value); }
      if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
      if (lo >= 0 && lo <= hi * 0.5) lo = 0;
      if (hi - lo < 1e-9) { const pad = Math.abs(hi) * 0.1 || 1; lo -= pad; hi += pad; }
      const top = 1.55 * rem;
      const bottom = 1.65 * rem;
      const plotH = Math.max(20, height - top - bottom);
      const step = niceStep((hi - lo) / Math.max(2, Math.floor(plotH / (2.4 * rem))));
      const dataMax = hi;
      lo = Math.floor(lo / step + 1e-9) * step;
      hi = Math.ceil(hi / step - 1e-9) * step;
      if (hi - dataMax < step * 0.2) hi += step; // headroom for the limit label
      const yTicks = [];
      for (let i = Math.round(lo / step); i * step <= hi + step * 1e-6; i += 1) yTicks.push(i * step);
      const tickLabels = yTicks.map((v) => formatTick(v, step));
      const labelChars = Math.max(...tickLabels.map((s) => s.length), 3);
      const left = Math.round(labelChars * 0.78 * rem * 0.6 + 1.1 * rem);
      const right = Math.round(1.1 * rem);
      const plotW = Math.max(20, width - left - right);
      const x = (ms) => left + ((ms - start) / TREND_WINDOW_MS) * plotW;
      const y = (v) => top + (1 - (v - lo) / (hi - lo)) * plotH;

      const nodes = [];
      const defs = svgEl('defs');
      const gradient = svgEl('linearGradient', { id: 'trend-fill', x1: 0, y1: 0, x2: 0, y2: 1 });
      gradient.append(svgEl('stop', { offset: '0%', class: 'trend-fill-top' }),
        svgEl('stop', { offset: '100%', class: 'trend-fill-bottom' }));
      const plotClip = svgEl('clipPath', { id: 'trend-clip-plot' });
      plotClip.append(svgEl('rect', { x: left, y: top - 4, width: plotW, height: plotH + 8 }));
      defs.append(gradient, plotClip);
      nodes.push(defs);

      // ---- grid and axes
      const grid = svgEl('g', { class: 'trend-grid' });
      const axis = svgEl('g', { class: 'trend-axis' });
      yTicks.forEach((v, i) => {
        const yy = Math.round(y(v)) + 0.5;
        grid.append(svgEl('line', { x1: left, x2: left + plotW, y1: yy, y2: yy, class: i === 0 ? 'is-base' : null }));
        if (points.length) axis.append(svgText({ x: left - 0.45 * rem, y: yy + 0.28 * rem, 'text-anchor': 'end' }, tickLabels[i]));
      });
      const hourChoices = [1, 2, 3, 4, 6, 12];
      const hours = hourChoices.find((h) => (24 / h) * 4.3 * rem <= plotW) || 12;
      const stepMs = hours * HOUR_MS;
      const offset = zoneOffsetMs(end);
      for (let tick = Math.ceil((start + offset) / stepMs) * stepMs - offset; tick <= end; tick += stepMs) {
        const xx = Math.round(x(tick)) + 0.5;
        const p = zonedParts(tick);
        const midnight = p.hour === '00' && p.minute === '00';
        grid.append(svgEl('line', { x1: xx, x2: xx, y1: top, y2: top + plotH, class: midnight ? 'is-day' : 'is-time' }));
        if (xx > left + 1.2 * rem && xx < left + plotW - 1.2 * rem) {
          axis.append(svgText({ x: xx, y: top + plotH + 1.2 * rem, 'text-anchor': 'middle', class: 'trend-x' }, `${p.hour}:${p.minute}`));
        }
        if (midnight) {
          axis.append(svgText({ x: xx + 0.35 * rem, y: top + 0.85 * rem, class: 'trend-day' }, `${p.day}/${p.month}`));
        }
      }
      const unitText = info.unit ? `${info.label} (${info.unit})` : info.label;
      axis.append(svgText({ x: left - 0.45 * rem, y: top - 0.6 * rem, class: 'trend-unit', 'text-anchor': 'start' }, unitText));
      nodes.push(grid, axis);

      // ---- limits of open alerts (dashed) with their values
      const limitGroup = svgEl('g', { class: 'trend-limits' });
      for (const limit of limits) {
        const yy = Math.round(y(limit.value)) + 0.5;
        limitGroup.append(
          svgEl('line', { x1: left, x2: left + plotW, y1: yy, y2: yy, class: `trend-limit sev-${limit.severity}`, 'data-testid': 'trend-limit', 'data-value': limit.value }),
          svgText({ x: left + plotW - 0.3 * rem, y: yy - 0.38 * rem, 'text-anchor': 'end', class: `trend-limit-label sev-${limit.severity}` },
            `${t('limit')} ${formatValueWithUnit(limit.value, this.param, this.stationId)}${limit.window ? ` · ${formatWindow(limit.window)}` : ''}`),
        );
      }

      // ---- the series: gaps break the line; dense data is reduced to min/max per pixel
      if (points.length) {
        const diffs = [];
        for (let i = Math.max(1, points.length - 400); i < points.length; i += 1) diffs.push(points[i][0] - points[i - 1][0]);
        diffs.sort((a, b) => a - b);
        const typical = diffs.length ? diffs[diffs.length >> 1] : 0;
        const gapMs = Math.max(typical * 5, 15 * 60 * 1000);
        const drawn = points.length > plotW * 2 ? decimate(points, x) : points;

        let line = '';
        let area = '';
        const base = y(Math.max(lo, Math.min(0, hi))).toFixed(1);
        let segmentStart = null;
        let previous = null;
        let lastX = 0;
        for (const [ms, v] of drawn) {
          const px = x(ms).toFixed(1);
          const py = y(v).toFixed(1);
          if (previous == null || ms - previous > gapMs) {
            if (segmentStart != null) area += `L${lastX},${base}Z`;
            line += `M${px},${py}`;
            area += `M${px},${base}L${px},${py}`;
            segmentStart = px;
          } else {
            line += `L${px},${py}`;
            area += `L${px},${py}`;
          }
          previous = ms;
          lastX = px;
        }
        area += `L${lastX},${base}Z`;
        const series = svgEl('g', { 'clip-path': 'url(#trend-clip-plot)' });
        series.append(svgEl('path', { d: area, class: 'trend-area' }),
          svgEl('path', { d: line, class: 'trend-line', 'data-testid': 'trend-line', 'data-points': points.length }));
        if (limits.length) {
          const over = svgEl('clipPath', { id: 'trend-clip-over' });
          over.append(svgEl('rect', { x: left, y: 0, width: plotW, height: Math.max(0, y(limits[0].value)) }));
          defs.append(over);
          series.append(svgEl('path', { d: line, class: 'trend-line-over', 'clip-path': 'url(#trend-clip-over)' }));
        }
        nodes.push(series);
        const last = points[points.length - 1];
        nodes.push(limitGroup,
          svgEl('circle', { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 0.55 * rem, class: 'trend-last-halo' }),
          svgEl('circle', { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 0.25 * rem, class: 'trend-last' }));
      } else {
        nodes.push(limitGroup);
      }

      const hoverGroup = svgEl('g', { class: 'trend-hover-mark', visibility: 'hidden' });
      hoverGroup.append(svgEl('line', { y1: top, y2: top + plotH }), svgEl('circle', { r: 0.3 * rem }));
      nodes.push(hoverGroup);
      svg.replaceChildren(...nodes);
      this.plot = { points, x, y, left, plotW, top, plotH, start, hoverGroup };
      $('trend-hover').hidden = true;
    },

    /** Read-out of the nearest point under the pointer. */
    hover(event) {
      const box = $('trend-hover');
      const plot = this.plot;
      if (!event || !plot || !plot.points.length) {
        box.hidden = true;
        if (plot) plot.hoverGroup.setAttribute('visibility', 'hidden');
        return;
      }
      const rect = $('trend-svg').getBoundingClientRect();
      const px = event.clientX - rect.left;
      if (px < plot.left - 8 || px > plot.left + plot.plotW + 8) { this.hover(null); return; }
      const ms = plot.start + ((px - plot.left) / plot.plotW) * TREND_WINDOW_MS;
      const i = Math.min(plot.points.length - 1, lowerBound(plot.points, ms));
      const candidates = [plot.points[i], plot.points[Math.max(0, i - 1)]];
      const [pms, value] = candidates.reduce((a, b) => (Math.abs(a[0] - ms) <= Math.abs(b[0] - ms) ? a : b));
      const hx = plot.x(pms);
      const hy = plot.y(value);
      const [line, dot] = plot.hoverGroup.children;
      line.setAttribute('x1', hx.toFixed(1));
      line.setAttribute('x2', hx.toFixed(1));
      dot.setAttribute('cx', hx.toFixed(1));
      dot.setAttribute('cy', hy.toFixed(1));
      plot.hoverGroup.setAttribute('visibility', 'visible');
      const p = zonedParts(pms);
      box.replaceChildren(
        el('span', { class: 'mono muted' }, `${p.day}/${p.month} ${p.hour}:${p.minute}`),
        el('strong', { class: 'mono' }, formatValueWithUnit(value, this.param, this.stationId)));
      box.hidden = false;
      const w = box.offsetWidth;
      const left = hx + 12 + w > plot.left + plot.plotW ? hx - 12 - w : hx + 12;
      box.style.transform = `translate(${Math.round(left)}px, ${Math.round(Math.max(plot.top, hy - 40))}px)`;
    },
  };

  /** Keep the first, lowest, highest and last point of each pixel column, in time order. */
  function decimate(points, x) {
    const out = [];
    let column = null;
    let bucket = [];
    const flush = () => {
      if (!bucket.length) return;
      let min = bucket[0];
      let max = bucket[0];
      for (const p of bucket) { if (p[1] < min[1]) min = p; if (p[1] > max[1]) max = p; }
      const keep = new Set([bucket[0], min, max, bucket[bucket.length - 1]]);
      for (const p of bucket) if (keep.has(p)) out.push(p);
      bucket = [];
    };
    for (const p of points) {
      const c = Math.floor(x(p[0]));
      if (c !== column) { flush(); column = c; }
      bucket.push(p);
    }
    flush();
    return out;
  }

  // ---------------------------------------------------------------------------
  // 6h. Map colouring (status / AQI) and kiosk mode
  // ---------------------------------------------------------------------------

  function setMapColor(mode, { persist }) {
    if (!MAP_COLOR_MODES.includes(mode)) return;
    const changed = state.mapColor !== mode;
    state.mapColor = mode;
    $('map').dataset.colorMode = mode;
    document.body.dataset.mapColor = mode;
    for (const button of document.querySelectorAll('[data-map-color]')) {
      const active = button.dataset.mapColor === mode;
      button.classList.toggle('is-active', active);
      button.setAttribute('aria-pressed', String(active));
    }
    if (persist) {
      try { localStorage.setItem(MAP_COLOR_STORAGE_KEY, mode); } catch (_) { /* ignore */ }
    }
    if (changed) {
      renderLegend();
      if (mapView.projection) mapView.fit(); // the legend height may have changed
    }
  }

  /**
   * ?kiosk=1: a wall display without keyboard or operator. Hides the language
   * switch and operator controls (CSS on body[data-kiosk]), hides the cursor
   * after a few seconds without movement and asks for full screen on the
   * first click (browsers only allow it from a user gesture).
   */
  function initKiosk() {
    const value = (new URLSearchParams(location.search).get('kiosk') || '').toLowerCase();
    state.kiosk = ['1', 'true', 'yes', 'on'].includes(value);
    if (!state.kiosk) return;
    const body = document.body;
    body.dataset.kiosk = 'true';
    let timer = null;
    const wake = () => {
      if (body.dataset.cursor !== 'visible') body.dataset.cursor = 'visible';
      clearTimeout(timer);
      timer = setTimeout(() => { body.dataset.cursor = 'hidden'; }, KIOSK_CURSOR_MS);
    };
    for (const type of ['mousemove', 'pointerdown', 'wheel', 'touchstart', 'keydown']) {
      document.addEventListener(type, wake, { passive: true, capture: true });
    }
    wake();
    document.addEventListener('click', () => {
      const root = document.documentElement;
      if (!document.fullscreenEnabled || document.fullscreenElement || !root.requestFullscreen) return;
      try {
        root.requestFullscreen({ navigationUI: 'hide' }).catch(() => { /* refused: stay windowed */ });
      } catch (_) { /* not allowed here */ }
    }, { once: true, capture: true });
  }

  /** Kiosk: milliseconds per page of the alert list and station table (?page_s=). */
  function kioskPageMs() {
    const seconds = Number(new URLSearchParams(location.search).get('page_s'));
    return Number.isFinite(seconds) && seconds >= 1 && seconds <= 120 ? seconds * 1000 : KIOSK_PAGE_MS;
  }

  /** The alert list (wall/alert-list.js) and station table (wall/station-table.js). */
  function createLists() {
    const pageMs = kioskPageMs();
    alertList = createAlertList({
      getAlerts: () => state.openAlerts,
      kiosk: state.kiosk,
      pageMs,
      t, parseTime, formatNumber, formatTime, formatRelative, formatWindow, severityLabel, parameterInfo,
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
      t, statusLabel, statuses: STATUSES, formatTimeSmart, parseTime, formatValueWithUnit, mainValueOf,
      onSelect: selectStation,
      onHot: (id, on) => mapView.markers.get(id)?.group.classList.toggle('is-hot', on),
    });
  }

  // ---------------------------------------------------------------------------
  // 7. Language, periodic tick, start-up
  // ---------------------------------------------------------------------------

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
    renderLegend();
    renderClock();
    renderLastUpdate();
    renderConnectionState();
    renderClockSkew();
    renderKpis();
    alertList.rebuild();
    renderResolvedList();
    stationTable.rerenderAll();
    if (mapView.projection) mapView.fit();
    tooltip.refresh();
    trend.onLanguage();
    vehicleWall.onLanguage();
    mapView.basemap?.onLanguage();
    $('map-color-toggle').setAttribute('aria-label', t('mapColorLabel'));
  }

  function tick() {
    renderClock();
    renderLastUpdate();
    renderLastHourKpi();
    alertList.tick();
    tooltip.tick();
    if (feed.phase !== 'live') renderConnectionState(); // retry countdown, silence
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
    initKiosk();
    createLists();
    for (const button of document.querySelectorAll('[data-map-color]')) {
      button.addEventListener('click', () => setMapColor(button.dataset.mapColor, { persist: true }));
    }
    for (const tile of document.querySelectorAll('.kpi-env')) {
      const open = () => { if (tile.dataset.stationId) selectStation(tile.dataset.stationId); };
      tile.addEventListener('click', open);
      tile.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
    }
    setMapColor(pickSetting('map', MAP_COLOR_STORAGE_KEY, MAP_COLOR_MODES, 'status'), { persist: false });
    trend.init();
    vehicleWall = createVehicleWall({
      t, formatNumber, formatTime, formatDateTime, nowMs,
      getProjection: () => mapView.projection,
      onVehicleSelected: () => selectStation(null),
    });
    mapView.init();
    cameraGrid.init();
    applyLanguage();
    scheduleTick();
    $('logout-button').addEventListener('click', () => IOC.logout('/wall'));
    loadUser();
    feed.start();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
