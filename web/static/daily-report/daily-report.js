/*
 * The printable daily provincial report, /reports/daily (officers): per station the daily
 * VN_AQI and its worst hour, exceedances per parameter, fire danger; every exceedance; the
 * camera incidents. GET /api/v1/reports/daily?day=YYYY-MM-DD (default yesterday, local);
 * CSV and XLSX links. ?day=, ?lang=vi|en. Times in Asia/Ho_Chi_Minh.
 */

const { $, el, pickLang, rememberLang, translatePage, translator, formatDateTime, formatNumber } = IOC;
const LANG_STORAGE_KEY = 'ioc.report.lang';

const I18N = {
  vi: {
    pageTitle: 'Báo cáo ngày — Trung tâm Điều hành Thông minh',
    title: 'Báo cáo ngày toàn tỉnh',
    subtitle: 'VN_AQI, vượt ngưỡng, nguy cơ cháy rừng, sự cố camera',
    day: 'Ngày', load: 'Xem', print: 'In', csv: 'Tải CSV', xlsx: 'Tải XLSX',
    dayTitle: (d) => `Ngày ${d}`,
    generatedAt: (time) => `Lập lúc ${time} (giờ Việt Nam)`,
    partial: 'Ngày chưa kết thúc: số liệu tính đến hiện tại.',
    stationsTitle: 'Theo trạm', exceedancesTitle: 'Vượt ngưỡng', camerasTitle: 'Sự cố camera',
    station: 'Trạm', owner: 'Chủ quản', aqi: 'VN_AQI ngày', worstHour: 'Giờ xấu nhất',
    exceedances: 'Vượt ngưỡng', fire: 'Cấp cháy rừng', parameter: 'Thông số', rule: 'Quy tắc',
    start: 'Bắt đầu', end: 'Kết thúc', peak: 'Cực trị', limit: 'Ngưỡng', camera: 'Camera',
    severity: 'Mức độ', state: 'Trạng thái', ongoing: 'đang tiếp diễn',
    noExceedances: 'Không có vượt ngưỡng trong ngày.', noIncidents: 'Không có sự cố camera trong ngày.',
    dbUnavailable: 'Cơ sở dữ liệu đang không truy cập được; thử lại sau.',
    loadFailed: (reason) => `Không tải được báo cáo: ${reason}`,
  },
  en: {
    pageTitle: 'Daily report — Intelligent Operations Centre',
    title: 'Daily provincial report',
    subtitle: 'VN_AQI, exceedances, forest-fire danger, camera incidents',
    day: 'Day', load: 'Show', print: 'Print', csv: 'Download CSV', xlsx: 'Download XLSX',
    dayTitle: (d) => `Day ${d}`,
    generatedAt: (time) => `Made at ${time} (Vietnam time)`,
    partial: 'The day is not over: figures so far.',
    stationsTitle: 'Stations', exceedancesTitle: 'Exceedances', camerasTitle: 'Camera incidents',
    station: 'Station', owner: 'Owner', aqi: 'Daily VN_AQI', worstHour: 'Worst hour',
    exceedances: 'Exceedances', fire: 'Fire danger', parameter: 'Parameter', rule: 'Rule',
    start: 'Start', end: 'End', peak: 'Peak', limit: 'Limit', camera: 'Camera',
    severity: 'Severity', state: 'State', ongoing: 'ongoing',
    noExceedances: 'No exceedance that day.', noIncidents: 'No camera incident that day.',
    dbUnavailable: 'The database cannot be reached; try again later.',
    loadFailed: (reason) => `Could not load the report: ${reason}`,
  },
};

const params = new URLSearchParams(location.search);
const state = {
  lang: pickLang(LANG_STORAGE_KEY),
  day: /^\d{4}-\d{2}-\d{2}$/.test(params.get('day') || '') ? params.get('day') : '',
  report: null,
};
const t = translator(I18N, () => state.lang);

function url(format) {
  const query = new URLSearchParams({ format });
  if (state.day) query.set('day', state.day);
  if (format !== 'json') query.set('lang', state.lang);
  return `/api/v1/reports/daily?${query}`;
}

function notice(message) {
  $('notice').textContent = message || '';
  $('notice').hidden = !message;
}

async function load() {
  const result = await IOC.api('GET', url('json'));
  if (result.status === 401) return;
  state.report = result.ok ? result.body : null;
  if (result.ok) {
    state.day = result.body.day;
    notice('');
  } else {
    notice(result.status === 503 ? t('dbUnavailable') : t('loadFailed', result.reason));
  }
  render();
  document.body.dataset.ready = 'true';
}

function table(heads, rows) {
  return el('table', { class: 'report-table' },
    el('thead', null, el('tr', null, heads.map((h) => el('th', null, t(h))))),
    el('tbody', null, rows));
}

const num = (v) => el('td', { class: 'num' }, formatNumber(v, state.lang));

function render() {
  translatePage(t, state.lang);
  $('report-date').value = state.day;
  $('daily-csv').href = url('csv');
  $('daily-xlsx').href = url('xlsx');
  for (const id of ['stations', 'exceedances', 'cameras']) $(id).replaceChildren();
  const r = state.report;
  if (!r) return;
  const en = state.lang === 'en';
  $('report-day').textContent = t('dayTitle', r.day.split('-').reverse().join('/'));
  $('report-generated').textContent = t('generatedAt', formatDateTime(r.generated_at));
  $('report-partial').hidden = !r.partial;
  $('stations').append(table(['station', 'owner', 'aqi', 'worstHour', 'exceedances', 'fire'],
    r.stations.map((s) => el('tr', { 'data-testid': 'daily-station', 'data-station-id': s.id },
      el('td', null, el('a', { href: `/stations/${encodeURIComponent(s.id)}` }, `${s.name} (${s.id})`)),
      el('td', null, s.owner_name),
      el('td', { class: 'num', 'data-testid': 'daily-aqi', style: s.aqi_color ? `background:${s.aqi_color}55` : null },
        s.aqi == null ? '—' : `${formatNumber(s.aqi, state.lang)} ${en ? s.aqi_label_en : s.aqi_label_vi}`),
      el('td', null, s.worst_hour ? `${formatNumber(s.worst_hour_aqi, state.lang)} · ${formatDateTime(s.worst_hour)}` : '—'),
      el('td', { 'data-testid': 'daily-exceedances' },
        Object.entries(s.exceedances).map(([p, n]) => `${p}: ${n}`).join(', ') || '0'),
      el('td', null, s.fire_level ? `${s.fire_level} — ${en ? s.fire_label_en : s.fire_label_vi}` : '—')))));
  const events = r.exceedances.flatMap((g) => g.events.map((e) => ({ ...e, unit: g.unit })));
  $('exceedances').append(events.length ? table(['parameter', 'station', 'rule', 'start', 'end', 'peak', 'limit'],
    events.map((e) => el('tr', { 'data-testid': 'daily-exceedance' },
      el('td', null, e.parameter), el('td', null, e.station_id), el('td', null, e.rule_name),
      el('td', null, formatDateTime(e.start)), el('td', null, e.ongoing ? t('ongoing') : formatDateTime(e.end)),
      num(e.peak), num(e.limit)))) : el('p', { class: 'empty' }, t('noExceedances')));
  $('cameras').append(r.camera_incidents.length ? table(['camera', 'rule', 'severity', 'state', 'start', 'end'],
    r.camera_incidents.map((c) => el('tr', { 'data-testid': 'daily-camera' },
      el('td', null, `${c.camera_name} (${c.camera_id})`), el('td', null, en ? c.rule_name_en : c.rule_name_vi),
      el('td', null, c.severity), el('td', null, c.state),
      el('td', null, formatDateTime(c.start)), el('td', null, formatDateTime(c.end))))) : el('p', { class: 'empty' }, t('noIncidents')));
}

function wire() {
  $('report-form').addEventListener('submit', (event) => {
    event.preventDefault();
    state.day = $('report-date').value;
    const here = new URL(location.href);
    here.searchParams.set('day', state.day);
    history.replaceState(null, '', here);
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
load();
