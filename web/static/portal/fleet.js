/*
 * The portal's fleet section, for a transport company (an enterprise user whose enterprise
 * is a company of the fleet registry, e.g. VT-01; an admin who chose one with ?enterprise=):
 * its vehicles and their state (GET /api/v1/vehicles — the server gives a company user its
 * own only), this month's speeding KPI (GET /api/v1/companies/{id}/summary: km, violations,
 * per 1,000 km, the flag at ≥ 5), violations per driver, and the month's violations
 * (GET /api/v1/violations) with a CSV export. Hidden for a station enterprise (the summary
 * answers 404: not a transport company). Times in Asia/Ho_Chi_Minh.
 */

import { onContext, translateSection } from './context.js';

const { $, el, formatDateTime, translator } = IOC;
const REFRESH_MS = 60000;
const SHOWN_VIOLATIONS = 200;

const I18N = {
  vi: {
    navFleet: 'Đội xe',
    fleetTitle: 'Đội xe',
    downloadCsv: 'Tải CSV',
    kpiVehicles: 'Phương tiện',
    kpiDistance: 'Quãng đường (km)',
    kpiViolations: 'Vi phạm tốc độ',
    kpiRate: 'Vi phạm / 1.000 km',
    flagged: (limit) => `≥ ${limit}: vượt ngưỡng thu hồi phù hiệu`,
    within: (limit) => `Dưới ngưỡng ${limit}`,
    month: (m) => `Tháng ${m.slice(5)}/${m.slice(0, 4)}`,
    vehiclesTitle: 'Phương tiện',
    driversTitle: 'Vi phạm theo lái xe (tháng này)',
    violationsTitle: 'Vi phạm (tháng này)',
    noVehicles: 'Chưa có phương tiện nào gửi dữ liệu.',
    noDrivers: 'Không có dữ liệu lái xe trong tháng.',
    noViolations: 'Không có vi phạm trong tháng.',
    plate: 'Biển số', type: 'Loại xe', state: 'Trạng thái', speed: 'Tốc độ (km/h)',
    lastFix: 'Vị trí mới nhất lúc', driver: 'Lái xe (GPLX)', name: 'Họ tên',
    violations: 'Vi phạm', km: 'km', rate: '/ 1.000 km', time: 'Thời điểm', kind: 'Loại vi phạm',
    vehicle: 'Phương tiện', band: 'Mức vượt (km/h)', peak: 'Tốc độ / giới hạn', unknownDriver: '(chưa rõ)',
    state_moving: 'Đang chạy', state_stopped: 'Đang dừng', state_offline: 'Mất kết nối',
    state_violating: 'Đang vi phạm',
    kind_speeding: 'Quá tốc độ', kind_continuous_driving: 'Lái xe liên tục quá 4 giờ',
    kind_daily_driving: 'Lái xe quá 10 giờ/ngày', kind_weekly_driving: 'Lái xe quá 48 giờ/tuần',
    kind_zone_forbidden: 'Vào vùng cấm giờ cấm', kind_signal_lost: 'Mất tín hiệu',
    warning: 'cảnh báo',
    loadFailed: (d) => `Không tải được dữ liệu đội xe: ${d}`,
  },
  en: {
    navFleet: 'Fleet',
    fleetTitle: 'Fleet',
    downloadCsv: 'Download CSV',
    kpiVehicles: 'Vehicles',
    kpiDistance: 'Distance (km)',
    kpiViolations: 'Speeding violations',
    kpiRate: 'Violations / 1,000 km',
    flagged: (limit) => `≥ ${limit}: badge revocation threshold reached`,
    within: (limit) => `Below ${limit}`,
    month: (m) => `Month ${m}`,
    vehiclesTitle: 'Vehicles',
    driversTitle: 'Violations per driver (this month)',
    violationsTitle: 'Violations (this month)',
    noVehicles: 'No vehicle has sent data yet.',
    noDrivers: 'No driver data this month.',
    noViolations: 'No violation this month.',
    plate: 'Plate', type: 'Type', state: 'State', speed: 'Speed (km/h)',
    lastFix: 'Latest position at', driver: 'Driver (licence)', name: 'Name',
    violations: 'Violations', km: 'km', rate: '/ 1,000 km', time: 'Time', kind: 'Violation',
    vehicle: 'Vehicle', band: 'Over by (km/h)', peak: 'Speed / limit', unknownDriver: '(unknown)',
    state_moving: 'Moving', state_stopped: 'Stopped', state_offline: 'Offline',
    state_violating: 'Violating',
    kind_speeding: 'Speeding', kind_continuous_driving: 'Continuous driving over 4 h',
    kind_daily_driving: 'Driving over 10 h a day', kind_weekly_driving: 'Driving over 48 h a week',
    kind_zone_forbidden: 'Restricted zone at forbidden hours', kind_signal_lost: 'Signal lost',
    warning: 'warning',
    loadFailed: (d) => `Could not load the fleet: ${d}`,
  },
};

const state = {
  lang: 'vi', company: '', summary: null, vehicles: [], violations: [], error: '', shown: false,
};
const t = translator(I18N, () => state.lang);

/** The local month now (Asia/Ho_Chi_Minh, UTC+7): YYYY-MM, and its start as ISO. */
function thisMonth() {
  const local = new Date(Date.now() + 7 * 3600 * 1000);
  const month = `${local.getUTCFullYear()}-${String(local.getUTCMonth() + 1).padStart(2, '0')}`;
  return { month, since: `${month}-01T00:00:00+07:00` };
}

function violationsQuery(extra) {
  const { since } = thisMonth();
  return new URLSearchParams({ company: state.company, since, ...extra });
}

async function load() {
  if (!state.company) { show(false); return; }
  const company = encodeURIComponent(state.company);
  const summary = await IOC.api('GET', `/api/v1/companies/${company}/summary?month=${thisMonth().month}`);
  if (summary.status === 401) return;
  if (summary.status === 404 || summary.status === 403) { show(false); return; }
  const [vehicles, violations] = await Promise.all([
    IOC.api('GET', '/api/v1/vehicles'),
    IOC.api('GET', `/api/v1/violations?${violationsQuery({ limit: String(SHOWN_VIOLATIONS) })}`),
  ]);
  const failed = [summary, vehicles, violations].find((r) => !r.ok);
  state.error = failed ? t('loadFailed', failed.reason) : '';
  state.summary = summary.ok ? summary.body : null;
  state.vehicles = vehicles.ok ? vehicles.body.vehicles.filter((v) => v.company === state.company) : [];
  state.violations = violations.ok ? violations.body.violations : [];
  show(true);
  render();
}

/** A company's own user sees the fleet only (the station sections stay for enterprises and
 *  for an admin looking at a company). */
function show(visible) {
  state.shown = visible;
  $('fleet').hidden = !visible;
  $('fleet-tab').hidden = !visible;
  const own = visible && Boolean(window.portalContext?.me?.enterprise);
  document.body.dataset.fleet = own ? 'company' : visible ? 'shown' : 'none';
}

const n = (value, digits) => (value == null ? '—' : IOC.numberFormat(state.lang, digits, 0).format(value));

function heads(id, keys) {
  $(id).replaceChildren(el('tr', null, ...keys.map((k) => el('th', null, t(k)))));
}

function renderKpis() {
  const s = state.summary;
  $('fleet-month').textContent = s ? t('month', s.month) : '';
  $('fleet-vehicles').textContent = s ? String(s.vehicles) : '—';
  $('fleet-km').textContent = s ? n(s.distance_km, 1) : '—';
  $('fleet-violations').textContent = s ? String(s.speeding_violations) : '—';
  $('fleet-rate').textContent = s ? n(s.per_1000_km, 2) : '—';
  const flag = $('fleet-flag');
  flag.hidden = !s;
  if (s) {
    flag.className = `chip ${s.flagged ? 'flagged' : 'within'}`;
    flag.dataset.flagged = String(s.flagged);
    flag.textContent = s.flagged ? t('flagged', s.flag_at) : t('within', s.flag_at);
  }
}

function renderVehicles() {
  heads('fleet-vehicles-head', ['plate', 'type', 'state', 'speed', 'lastFix']);
  $('fleet-vehicle-rows').replaceChildren(...state.vehicles.map((v) => el('tr', {
    'data-testid': 'fleet-vehicle', 'data-vehicle': v.id, 'data-state': v.state,
  },
  el('td', { class: 'mono' }, v.plate),
  el('td', null, v.type || '—'),
  el('td', null, el('span', { class: `chip status-${v.state === 'violating' ? 'alert' : v.state === 'offline' ? 'offline' : 'ok'}` }, t(`state_${v.state}`))),
  el('td', { class: 'num' }, n(v.speed, 0)),
  el('td', { class: 'mono small nowrap' }, formatDateTime(v.ts)))));
  $('fleet-vehicles-empty').hidden = state.vehicles.length > 0;
}

function renderDrivers() {
  const drivers = state.summary?.drivers || [];
  heads('fleet-drivers-head', ['driver', 'name', 'violations', 'km', 'rate']);
  $('fleet-driver-rows').replaceChildren(...drivers.map((d) => el('tr', {
    'data-testid': 'fleet-driver', 'data-driver': d.driver,
  },
  el('td', { class: 'mono' }, d.driver || t('unknownDriver')),
  el('td', null, d.name || '—'),
  el('td', { class: 'num' }, String(d.violations)),
  el('td', { class: 'num' }, n(d.distance_km, 1)),
  el('td', { class: 'num' }, n(d.per_1000_km, 2)))));
  $('fleet-drivers-empty').hidden = drivers.length > 0;
}

function renderViolations() {
  heads('fleet-violations-head', ['time', 'vehicle', 'driver', 'kind', 'band', 'peak']);
  $('fleet-violation-rows').replaceChildren(...state.violations.map((v) => el('tr', {
    'data-testid': 'fleet-violation', 'data-kind': v.kind, 'data-vehicle': v.vehicle,
  },
  el('td', { class: 'mono small nowrap' }, formatDateTime(v.start)),
  el('td', { class: 'mono' }, v.vehicle),
  el('td', { class: 'mono' }, v.driver || '—'),
  el('td', null, t(`kind_${v.kind}`), v.level === 'warning' ? ` (${t('warning')})` : ''),
  el('td', null, v.band || '—'),
  el('td', { class: 'num' }, v.peak_kmh == null ? '—' : `${n(v.peak_kmh, 0)} / ${n(v.limit_kmh, 0)}`))));
  $('fleet-violations-empty').hidden = state.violations.length > 0;
}

function render() {
  const section = $('fleet');
  translateSection(section, t);
  IOC.setText($('fleet-tab'), t('navFleet'));
  $('fleet-error').textContent = state.error;
  $('fleet-error').hidden = !state.error;
  $('fleet-csv').href = `/api/v1/violations?${violationsQuery({ format: 'csv', limit: '10000' })}`;
  renderKpis();
  renderVehicles();
  renderDrivers();
  renderViolations();
}

let timer = null;
onContext((context) => {
  const company = context.me?.enterprise || context.enterprise || '';
  const changed = company !== state.company || !state.summary;
  state.lang = context.lang;
  state.company = company;
  if (state.shown) render();
  if (changed) load();
  clearInterval(timer);
  timer = setInterval(load, REFRESH_MS);
});
