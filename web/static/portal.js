/*
 * IOC enterprise portal — an enterprise's own stations, their daily data completeness,
 * station-file upload with per-line results, refused data with reasons, and API keys. The
 * alerts and monthly-report sections are ES modules (portal/alerts.js, portal/report.js):
 * this script tells them the language and enterprise shown (shareContext).
 *
 * Plain ES2020; shared helpers from common.js (window.IOC); same-origin requests only (the
 * session cookie):
 *   GET  /api/v1/auth/me                 who is logged in (401 → /login?next=/portal)
 *   POST /api/v1/auth/logout
 *   GET  /api/v1/portal/stations?days=N[&enterprise=ID]
 *   (portal/alerts.js: GET /api/v1/portal/alerts; portal/report.js:
 *    GET /api/v1/portal/reports/monthly)
 *   POST /api/v1/ingest/files            multipart, one part per file
 *   GET  /api/v1/rejected?limit=N[&station=ID]
 *   GET/POST /api/v1/apikeys, DELETE /api/v1/apikeys/{id}
 *
 * URL options: ?lang=vi|en, ?days=7|14|31, ?enterprise=ID (admins).
 * Times are shown in Asia/Ho_Chi_Minh whatever the browser's zone.
 */
'use strict';

(() => {
  // Shared helpers: common.js.
  const {
    $, el, formatDateTime, formatClock, pickLang, translator, rememberLang, translatePage, showToast,
  } = IOC;

  const LANG_STORAGE_KEY = 'ioc.portal.lang';
  const SUPPORTED_LANGS = IOC.LANGS;
  const REFRESH_MS = 60000;
  const REJECTED_LIMIT = 200;
  const TOAST_MS = 8000;
  const AFTER_UPLOAD_REFRESH_MS = [1500, 5000];  // refused items reach the database shortly after
  const GOOD_RATIO = 0.95;
  const FAIR_RATIO = 0.8;

  const I18N = {
    vi: {
      pageTitle: 'Cổng thông tin doanh nghiệp — Trung tâm Điều hành Thông minh',
      title: 'Cổng thông tin doanh nghiệp',
      subtitle: 'Trung tâm Điều hành Thông minh · Quan trắc môi trường tự động',
      signedInAs: 'Người dùng',
      enterprise: 'Doanh nghiệp',
      allEnterprises: 'Tất cả doanh nghiệp',
      logout: 'Đăng xuất',
      navStations: 'Trạm & độ đầy đủ dữ liệu',
      navAlerts: 'Cảnh báo',
      navReport: 'Báo cáo tháng',
      navUpload: 'Gửi tệp dữ liệu',
      navRejected: 'Dữ liệu bị từ chối',
      navKeys: 'Khóa API',
      stationsTitle: 'Trạm quan trắc',
      daysLabel: 'Số ngày',
      refresh: 'Làm mới',
      updatedAt: (time) => `cập nhật lúc ${time}`,
      colStation: 'Trạm',
      colKind: 'Loại',
      colStatus: 'Trạng thái',
      colLastSeen: 'Số liệu mới nhất lúc',
      colValues: 'Giá trị mới nhất',
      colTotal: 'Cả kỳ',
      colTime: 'Thời điểm nhận',
      colSource: 'Nguồn',
      colParameter: 'Thông số',
      colReason: 'Lý do',
      colDetail: 'Chi tiết',
      colLine: 'Dòng',
      colResult: 'Kết quả',
      colLabel: 'Mục đích',
      colCreated: 'Tạo lúc',
      colCreatedBy: 'Người tạo',
      colKeyState: 'Trạng thái',
      noStations: 'Doanh nghiệp chưa có trạm nào trong danh mục.',
      noValues: 'chưa có số liệu',
      never: 'chưa nhận',
      completenessTitle: 'Độ đầy đủ dữ liệu theo ngày',
      completenessHint: '(số lần đo nhận được / số lần đo theo chu kỳ; ngày hôm nay tính đến hiện tại)',
      notExpected: 'chưa đến hạn',
      today: 'hôm nay',
      cellTitle: (station, day, r, e, partial) =>
        `${station} · ${day}: nhận ${r} / ${e} lần đo${partial ? ' (đến hiện tại)' : ''}`,
      intervalEvery: (s) => `chu kỳ ${formatInterval(s)}`,
      uploadTitle: 'Gửi tệp dữ liệu trạm',
      uploadHint: 'Tệp do bộ ghi dữ liệu tạo: tên <MÃTRẠM>_<YYYYMMDDhhmmss>.txt, mỗi dòng «thông số giá trị đơn vị thời gian trạng thái». Có thể chọn nhiều tệp.',
      uploadButton: 'Gửi tệp',
      uploadChoose: 'Hãy chọn ít nhất một tệp.',
      uploading: (n) => `Đang gửi ${n} tệp…`,
      uploadDone: (n, a, r) => `Đã xử lý ${n} tệp: ${a} dòng được nhận, ${r} dòng bị từ chối.`,
      uploadFailed: (d) => `Gửi tệp thất bại: ${d}`,
      fileSummary: (a, r) => `${a} dòng được nhận · ${r} dòng bị từ chối`,
      fileStation: (s) => `trạm ${s}`,
      accepted: 'Được nhận',
      refused: 'Bị từ chối',
      rejectedTitle: 'Dữ liệu bị từ chối',
      allStations: 'Tất cả trạm',
      noRejected: 'Không có dữ liệu bị từ chối.',
      keysTitle: 'Khóa API',
      keysHint: 'Khóa API cho phép hệ thống của doanh nghiệp gửi số liệu (POST /api/v1/ingest, /api/v1/ingest/files) với tiêu đề «Authorization: Bearer <khóa>». Khóa chỉ được hiển thị một lần khi tạo.',
      keyLabelPlaceholder: 'Mục đích, ví dụ: bộ ghi dữ liệu nhà máy 1',
      createKey: 'Tạo khóa',
      newKeyTitle: 'Khóa mới — hãy sao chép và lưu lại ngay, khóa sẽ không hiển thị lại',
      copy: 'Sao chép',
      copied: 'Đã sao chép',
      copyFailed: 'Không sao chép được: hãy chọn và sao chép thủ công',
      noKeys: 'Chưa có khóa API nào.',
      keyActive: 'Đang dùng',
      keyRevoked: (time) => `Đã thu hồi ${time}`,
      revoke: 'Thu hồi',
      confirmRevoke: (label) => `Thu hồi khóa «${label}»? Các thiết bị dùng khóa này sẽ không gửi được số liệu nữa.`,
      stateGateway: 'Nhà nước (cổng tiếp nhận)',
      close: 'Đóng',
      dbUnavailable: 'Cơ sở dữ liệu tạm thời không truy cập được — số liệu độ đầy đủ chưa thể tính. Hãy thử lại sau.',
      loadFailed: (what, d) => `Không tải được ${what}: ${d}`,
      whatStations: 'danh sách trạm',
      whatRejected: 'dữ liệu bị từ chối',
      whatKeys: 'khóa API',
      requestFailed: (d) => `Yêu cầu thất bại: ${d}`,
      status_ok: 'Bình thường',
      status_alert: 'Cảnh báo',
      status_offline: 'Mất tín hiệu',
      status_unknown: 'Chưa có dữ liệu',
      kind_air: 'Không khí',
      kind_weather: 'Khí tượng',
      kind_stack: 'Khí thải ống khói',
      kind_wastewater: 'Nước thải',
      source_http: 'API',
      source_file: 'Tệp dữ liệu',
      source_mqtt: 'MQTT',
      source_drop_folder: 'Thư mục FTP',
      reason_malformed: 'Sai định dạng',
      reason_unknown_station: 'Trạm không có trong danh mục',
      reason_unknown_parameter: 'Thông số không đăng ký',
      reason_wrong_unit: 'Sai đơn vị',
      reason_not_numeric: 'Không phải số',
      reason_out_of_range: 'Ngoài khoảng hợp lý',
      reason_bad_timestamp: 'Sai thời gian',
      reason_duplicate: 'Trùng lặp',
      reason_not_owner: 'Không phải trạm của doanh nghiệp',
      reason_internal_error: 'Lỗi xử lý nội bộ',
    },
    en: {
      pageTitle: 'Enterprise portal — Intelligent Operations Center',
      title: 'Enterprise portal',
      subtitle: 'Intelligent Operations Center · Automatic environmental monitoring',
      signedInAs: 'User',
      enterprise: 'Enterprise',
      allEnterprises: 'All enterprises',
      logout: 'Log out',
      navStations: 'Stations & data completeness',
      navAlerts: 'Alerts',
      navReport: 'Monthly report',
      navUpload: 'Upload data files',
      navRejected: 'Refused data',
      navKeys: 'API keys',
      stationsTitle: 'Monitoring stations',
      daysLabel: 'Days',
      refresh: 'Refresh',
      updatedAt: (time) => `updated ${time}`,
      colStation: 'Station',
      colKind: 'Type',
      colStatus: 'Status',
      colLastSeen: 'Latest data at',
      colValues: 'Latest values',
      colTotal: 'Period',
      colTime: 'Received at',
      colSource: 'Source',
      colParameter: 'Parameter',
      colReason: 'Reason',
      colDetail: 'Detail',
      colLine: 'Line',
      colResult: 'Result',
      colLabel: 'Purpose',
      colCreated: 'Created',
      colCreatedBy: 'Created by',
      colKeyState: 'State',
      noStations: 'The enterprise has no station in the registry yet.',
      noValues: 'no data yet',
      never: 'never',
      completenessTitle: 'Daily data completeness',
      completenessHint: '(values received / values due at the station interval; today so far)',
      notExpected: 'nothing due yet',
      today: 'today',
      cellTitle: (station, day, r, e, partial) =>
        `${station} · ${day}: ${r} of ${e} intervals received${partial ? ' (so far)' : ''}`,
      intervalEvery: (s) => `every ${formatInterval(s)}`,
      uploadTitle: 'Upload station data files',
      uploadHint: 'Files as the station logger writes them: named <STATION>_<YYYYMMDDhhmmss>.txt, one line per value "parameter value unit time status". Several files at once are fine.',
      uploadButton: 'Upload',
      uploadChoose: 'Choose at least one file.',
      uploading: (n) => `Uploading ${n} file${n === 1 ? '' : 's'}…`,
      uploadDone: (n, a, r) => `${n} file${n === 1 ? '' : 's'} processed: ${a} line${a === 1 ? '' : 's'} accepted, ${r} refused.`,
      uploadFailed: (d) => `Upload failed: ${d}`,
      fileSummary: (a, r) => `${a} line${a === 1 ? '' : 's'} accepted · ${r} refused`,
      fileStation: (s) => `station ${s}`,
      accepted: 'Accepted',
      refused: 'Refused',
      rejectedTitle: 'Refused data',
      allStations: 'All stations',
      noRejected: 'Nothing was refused.',
      keysTitle: 'API keys',
      keysHint: 'An API key lets the enterprise\'s systems send data (POST /api/v1/ingest, /api/v1/ingest/files) with the header "Authorization: Bearer <key>". A key is shown once, when it is created.',
      keyLabelPlaceholder: 'What it is for, e.g. plant 1 data logger',
      createKey: 'Create key',
      newKeyTitle: 'New key — copy and store it now, it will not be shown again',
      copy: 'Copy',
      copied: 'Copied',
      copyFailed: 'Could not copy: select it and copy by hand',
      noKeys: 'No API key yet.',
      keyActive: 'Active',
      keyRevoked: (time) => `Revoked ${time}`,
      revoke: 'Revoke',
      confirmRevoke: (label) => `Revoke the key "${label}"? Devices using it will no longer be able to send data.`,
      stateGateway: 'State (gateway)',
      close: 'Close',
      dbUnavailable: 'The database is unreachable for now — data completeness cannot be computed. Please try again later.',
      loadFailed: (what, d) => `Could not load ${what}: ${d}`,
      whatStations: 'the stations',
      whatRejected: 'the refused data',
      whatKeys: 'the API keys',
      requestFailed: (d) => `Request failed: ${d}`,
      status_ok: 'Normal',
      status_alert: 'Alert',
      status_offline: 'Offline',
      status_unknown: 'No data yet',
      kind_air: 'Air quality',
      kind_weather: 'Weather',
      kind_stack: 'Stack emissions',
      kind_wastewater: 'Wastewater',
      source_http: 'API',
      source_file: 'Data file',
      source_mqtt: 'MQTT',
      source_drop_folder: 'FTP folder',
      reason_malformed: 'Malformed',
      reason_unknown_station: 'Unknown station',
      reason_unknown_parameter: 'Unregistered parameter',
      reason_wrong_unit: 'Wrong unit',
      reason_not_numeric: 'Not a number',
      reason_out_of_range: 'Out of plausible range',
      reason_bad_timestamp: 'Bad time',
      reason_duplicate: 'Duplicate',
      reason_not_owner: 'Not the enterprise\'s station',
      reason_internal_error: 'Internal error',
    },
  };

  // ---------------------------------------------------------------------------
  // State and helpers
  // ---------------------------------------------------------------------------

  const params = new URLSearchParams(location.search);
  const state = {
    lang: pickLang(LANG_STORAGE_KEY),
    me: null,
    portal: null,        // last answer of /api/v1/portal/stations
    keys: [],
    rejected: [],
    uploads: [],         // last upload answer: files
    days: [7, 14, 31].includes(Number(params.get('days'))) ? Number(params.get('days')) : 7,
    enterprise: params.get('enterprise') || '',
    newKey: null,
  };

  const t = translator(I18N, () => state.lang);

  /** "2026-11-23" (a local day from the API) → "23/11". */
  function formatDay(day) {
    const [, month, date] = day.split('-');
    return `${date}/${month}`;
  }

  function formatInterval(seconds) {
    if (seconds % 3600 === 0) return `${seconds / 3600} h`;
    if (seconds % 60 === 0) return `${seconds / 60} min`;
    return `${seconds} s`;
  }

  function formatNumber(value) {
    return IOC.formatNumber(value, state.lang);
  }

  function formatPercent(ratio) {
    if (ratio == null) return '—';
    return `${Math.round(ratio * 1000) / 10}%`.replace('.', state.lang === 'vi' ? ',' : '.');
  }

  function ratioClass(ratio) {
    if (ratio == null) return 'none';
    if (ratio >= GOOD_RATIO) return 'good';
    if (ratio >= FAIR_RATIO) return 'fair';
    return 'poor';
  }

  function reasonLabel(reason) {
    return I18N.vi[`reason_${reason}`] != null ? t(`reason_${reason}`) : reason || '—';
  }

  function sourceLabel(source) {
    return I18N.vi[`source_${source}`] != null ? t(`source_${source}`) : source || '—';
  }

  function parameterLabel(station, key) {
    const p = station?.parameters?.[key];
    if (!p) return key;
    return (state.lang === 'en' ? p.label_en || p.label_vi : p.label_vi || p.label_en) || key;
  }

  function enterpriseLabel(id) {
    if (id == null) return t('stateGateway');
    const known = state.portal?.enterprises?.find((e) => e.id === id);
    return known && known.name !== id ? `${known.name} (${id})` : id;
  }

  // ---------------------------------------------------------------------------
  // Requests
  // ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /** The JSON answer of a same-origin call (IOC.api); a failure throws an ApiError (status 0:
   *  no answer; a 401 has already led to the login page). */
  async function api(path, { method = 'GET', body } = {}) {
    const result = await IOC.api(method, path, body);
    if (result.status === 0) throw new ApiError(0, result.reason);
    if (result.status === 401) throw new ApiError(401, 'login needed');
    if (!result.ok) throw new ApiError(result.status, `${result.status}: ${result.reason}`);
    return result.body;
  }

  function toast(message) {
    showToast(message, { ms: TOAST_MS });
  }

  function notice(message) {
    const node = $('notice');
    node.textContent = message || '';
    node.hidden = !message;
  }

  // ---------------------------------------------------------------------------
  // Stations and completeness
  // ---------------------------------------------------------------------------

  async function loadStations() {
    const query = new URLSearchParams({ days: String(state.days) });
    if (state.enterprise) query.set('enterprise', state.enterprise);
    try {
      state.portal = await api(`/api/v1/portal/stations?${query}`);
      notice('');
    } catch (err) {
      if (err.status === 401) return;
      notice(err.status === 503 ? t('dbUnavailable') : t('loadFailed', t('whatStations'), err.message));
      return;
    }
    renderStations();
    renderEnterprise();
    renderRejectedFilter();
    $('stations-updated').textContent = t('updatedAt', formatClock(Date.now()));
  }

  function renderStations() {
    const portal = state.portal;
    const rows = $('station-rows');
    rows.replaceChildren();
    $('completeness-head').replaceChildren();
    $('completeness-rows').replaceChildren();
    if (!portal) return;
    $('stations-empty').hidden = portal.stations.length > 0;
    for (const s of portal.stations) {
      const values = Object.entries(s.values || {});
      const valueList = values.length
        ? el('ul', { class: 'values' }, ...values.map(([key, value]) => el(
          'li', { 'data-testid': 'station-value', 'data-parameter': key },
          el('span', { class: 'value-label' }, parameterLabel(s, key)), ' ',
          el('span', { class: 'mono' }, formatNumber(value)),
          s.units?.[key] ? el('span', { class: 'unit' }, ` ${s.units[key]}`) : null,
        )))
        : el('span', { class: 'muted' }, t('noValues'));
      rows.append(el('tr', { 'data-testid': 'station-row', 'data-station-id': s.id, 'data-status': s.status },
        el('td', null,
          el('div', { class: 'station-name' }, s.name),
          el('div', { class: 'muted small mono' }, s.id, ' · ', t('intervalEvery', s.interval_s)),
          state.me?.enterprise ? null : el('div', { class: 'muted small' }, enterpriseLabel(s.owner))),
        el('td', null, I18N.vi[`kind_${s.kind}`] ? t(`kind_${s.kind}`) : s.kind),
        el('td', null, el('span', { class: `chip status-${s.status}` }, t(`status_${s.status}`))),
        el('td', { 'data-testid': 'station-last-seen', class: 'mono small' },
          s.last_seen ? formatDateTime(s.last_seen) : t('never')),
        el('td', null, valueList),
      ));
    }
    renderCompleteness();
  }

  function renderCompleteness() {
    const portal = state.portal;
    const head = $('completeness-head');
    const body = $('completeness-rows');
    const today = portal.days[portal.days.length - 1];
    head.append(el('th', null, t('colStation')));
    for (const day of portal.days) {
      head.append(el('th', { class: 'day', title: day },
        formatDay(day), day === today ? el('div', { class: 'muted small' }, t('today')) : null));
    }
    head.append(el('th', { class: 'day' }, t('colTotal')));
    for (const s of portal.stations) {
      const row = el('tr', { 'data-testid': 'completeness-row', 'data-station-id': s.id },
        el('th', { scope: 'row' }, el('div', { class: 'station-name' }, s.name),
          el('div', { class: 'muted small mono' }, s.id)));
      for (const c of s.completeness) {
        row.append(completenessCell(s, c));
      }
      const total = s.completeness_total;
      row.append(el('td', { class: `cell total ${ratioClass(total.ratio)}`, 'data-testid': 'completeness-total',
        'data-station-id': s.id, 'data-ratio': total.ratio ?? '' },
      el('div', { class: 'pct' }, formatPercent(total.ratio)),
      el('div', { class: 'muted small mono' }, `${total.received}/${total.expected}`)));
      body.append(row);
    }
  }

  function completenessCell(station, c) {
    const cls = ratioClass(c.ratio);
    const width = c.ratio == null ? 0 : Math.round(c.ratio * 100);
    return el('td', {
      class: `cell ${cls}${c.partial ? ' partial' : ''}`,
      'data-testid': 'completeness-cell',
      'data-station-id': station.id,
      'data-day': c.day,
      'data-ratio': c.ratio ?? '',
      'data-received': c.received,
      'data-expected': c.expected,
      title: t('cellTitle', station.id, c.day, c.received, c.expected, c.partial),
    },
    el('div', { class: 'pct' }, formatPercent(c.ratio)),
    el('div', { class: 'bar', 'aria-hidden': 'true' }, el('div', { class: 'bar-fill', style: `width:${width}%` })),
    el('div', { class: 'muted small mono' }, `${c.received}/${c.expected}`));
  }

  function renderEnterprise() {
    const me = state.me;
    const name = $('enterprise-name');
    const select = $('enterprise-select');
    if (!me) return;
    if (me.enterprise) {
      name.textContent = enterpriseLabel(me.enterprise);
      select.hidden = true;
      return;
    }
    // An admin chooses the enterprise to look at.
    name.hidden = true;
    select.hidden = false;
    const choices = state.portal?.enterprises || [];
    select.replaceChildren(
      el('option', { value: '' }, t('allEnterprises')),
      ...choices.map((e) => el('option', { value: e.id }, e.name !== e.id ? `${e.name} (${e.id})` : e.id)),
    );
    select.value = state.enterprise;
  }

  // ---------------------------------------------------------------------------
  // Rejected items
  // ---------------------------------------------------------------------------

  function renderRejectedFilter() {
    const select = $('rejected-station');
    const current = select.value;
    const stations = state.portal?.stations || [];
    select.replaceChildren(
      el('option', { value: '' }, t('allStations')),
      ...stations.map((s) => el('option', { value: s.id }, `${s.id} — ${s.name}`)),
    );
    if (stations.some((s) => s.id === current)) select.value = current;
  }

  async function loadRejected() {
    const query = new URLSearchParams({ limit: String(REJECTED_LIMIT) });
    const station = $('rejected-station').value;
    if (station) query.set('station', station);
    try {
      const answer = await api(`/api/v1/rejected?${query}`);
      let rows = answer.rejected || [];
      if (!state.me?.enterprise && state.portal && !station) {
        // An admin sees every station's refusals: keep those of the stations shown here.
        const shown = new Set(state.portal.stations.map((s) => s.id));
        rows = rows.filter((r) => shown.has(r.station));
      }
      state.rejected = rows;
    } catch (err) {
      if (err.status !== 401) toast(t('loadFailed', t('whatRejected'), err.message));
      return;
    }
    renderRejected();
  }

  function renderRejected() {
    const body = $('rejected-rows');
    body.replaceChildren(...state.rejected.map((r) => el('tr', {
      'data-testid': 'rejected-row', 'data-station-id': r.station || '', 'data-reason': r.reason || '',
    },
    el('td', { class: 'mono small nowrap' }, formatDateTime(r.time)),
    el('td', { class: 'mono' }, r.station || '—'),
    el('td', null, sourceLabel(r.source)),
    el('td', { class: 'mono' }, r.parameter || '—'),
    el('td', null, el('span', { class: 'chip reason' }, reasonLabel(r.reason)),
      el('div', { class: 'muted small mono' }, r.reason || '')),
    el('td', { class: 'detail', title: r.payload || '' }, r.detail || ''))));
    $('rejected-empty').hidden = state.rejected.length > 0;
  }

  // ---------------------------------------------------------------------------
  // Station file upload
  // ---------------------------------------------------------------------------

  async function upload(event) {
    event.preventDefault();
    const input = $('upload-input');
    const files = Array.from(input.files || []);
    const status = $('upload-status');
    if (!files.length) {
      status.textContent = t('uploadChoose');
      return;
    }
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    $('upload-submit').disabled = true;
    status.textContent = t('uploading', files.length);
    try {
      const answer = await api('/api/v1/ingest/files', { method: 'POST', body: form });
      state.uploads = answer.files || [];
      const accepted = state.uploads.reduce((n, f) => n + f.accepted, 0);
      const rejected = state.uploads.reduce((n, f) => n + f.rejected, 0);
      status.textContent = t('uploadDone', state.uploads.length, accepted, rejected);
      renderUploads();
      input.value = '';
      for (const delay of AFTER_UPLOAD_REFRESH_MS) {
        setTimeout(() => { loadRejected(); loadStations(); }, delay);
      }
    } catch (err) {
      if (err.status !== 401) status.textContent = t('uploadFailed', err.message);
    } finally {
      $('upload-submit').disabled = false;
    }
  }

  function renderUploads() {
    const container = $('upload-results');
    container.replaceChildren(...state.uploads.map((file) => {
      const station = state.portal?.stations?.find((s) => s.id === file.station_id);
      const lines = file.lines.map((line) => el('tr', {
        'data-testid': 'upload-line',
        'data-line': line.line,
        'data-accepted': line.accepted ? 'true' : 'false',
        'data-reason': line.accepted ? null : line.reason,
        class: line.accepted ? 'ok' : 'refused',
      },
      el('td', { class: 'mono num' }, line.line),
      el('td', null, line.parameter ? parameterLabel(station, line.parameter) : '—',
        line.parameter ? el('span', { class: 'muted small mono' }, ` ${line.parameter}`) : null),
      el('td', null, el('span', { class: `chip ${line.accepted ? 'status-ok' : 'reason'}` },
        line.accepted ? t('accepted') : t('refused'))),
      el('td', null, line.accepted ? '' : reasonLabel(line.reason),
        line.accepted ? null : el('div', { class: 'muted small mono' }, line.reason)),
      el('td', { class: 'detail' }, line.detail || '')));
      return el('div', {
        class: 'upload-file', 'data-testid': 'upload-result', 'data-file-name': file.name,
        'data-accepted': file.accepted, 'data-rejected': file.rejected,
      },
      el('div', { class: 'upload-file-head' },
        el('strong', { class: 'mono' }, file.name),
        file.station_id ? el('span', { class: 'muted' }, ` · ${t('fileStation', file.station_id)}`) : null,
        el('span', { class: `summary ${file.rejected ? 'has-refused' : ''}` }, t('fileSummary', file.accepted, file.rejected))),
      el('table', { class: 'grid compact' },
        el('thead', null, el('tr', null,
          el('th', { class: 'num' }, t('colLine')), el('th', null, t('colParameter')),
          el('th', null, t('colResult')), el('th', null, t('colReason')), el('th', null, t('colDetail')))),
        el('tbody', null, ...lines)));
    }));
  }

  // ---------------------------------------------------------------------------
  // API keys
  // ---------------------------------------------------------------------------

  async function loadKeys() {
    const query = state.enterprise && !state.me?.enterprise ? `?enterprise=${encodeURIComponent(state.enterprise)}` : '';
    try {
      state.keys = (await api(`/api/v1/apikeys${query}`)).api_keys || [];
    } catch (err) {
      if (err.status !== 401) toast(t('loadFailed', t('whatKeys'), err.message));
      return;
    }
    renderKeys();
  }

  function renderKeys() {
    const body = $('key-rows');
    body.replaceChildren(...state.keys.map((k) => el('tr', {
      'data-testid': 'api-key-row', 'data-key-id': k.id, 'data-revoked': k.revoked_at ? 'true' : 'false',
    },
    el('td', { class: 'mono' }, k.id),
    el('td', null, k.label),
    el('td', null, enterpriseLabel(k.enterprise)),
    el('td', { class: 'mono small' }, formatDateTime(k.created_at)),
    el('td', null, k.created_by || '—'),
    el('td', null, k.revoked_at
      ? el('span', { class: 'chip status-offline' }, t('keyRevoked', formatDateTime(k.revoked_at)))
      : el('span', { class: 'chip status-ok' }, t('keyActive'))),
    el('td', null, k.revoked_at ? null : el('button', {
      type: 'button', class: 'button danger small', 'data-testid': 'api-key-revoke', 'data-key-id': k.id,
    }, t('revoke'))))));
    $('keys-empty').hidden = state.keys.length > 0;
  }

  async function createKey(event) {
    event.preventDefault();
    const input = $('key-label');
    const label = input.value.trim();
    if (!label) return;
    const body = { label };
    if (!state.me?.enterprise && state.enterprise) body.enterprise = state.enterprise;
    try {
      const answer = await api('/api/v1/apikeys', { method: 'POST', body });
      input.value = '';
      showNewKey(answer.key);
      await loadKeys();
    } catch (err) {
      if (err.status !== 401) toast(t('requestFailed', err.message));
    }
  }

  function showNewKey(key) {
    state.newKey = key;
    $('new-key').value = key || '';
    $('copy-status').textContent = '';
    $('new-key-box').hidden = !key;
  }

  async function copyKey() {
    const field = $('new-key');
    const status = $('copy-status');
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = t('copied');
    } catch (_) {
      field.focus();
      field.select();
      let done = false;
      try { done = document.execCommand('copy'); } catch (__) { done = false; }
      status.textContent = done ? t('copied') : t('copyFailed');
    }
  }

  async function revokeKey(id) {
    const key = state.keys.find((k) => String(k.id) === String(id));
    if (!key || !window.confirm(t('confirmRevoke', key.label))) return;
    try {
      await api(`/api/v1/apikeys/${encodeURIComponent(id)}`, { method: 'DELETE' });
    } catch (err) {
      if (err.status !== 401) toast(t('requestFailed', err.message));
    }
    await loadKeys();
  }

  // ---------------------------------------------------------------------------
  // Language, header, start-up
  // ---------------------------------------------------------------------------

  /** The language and enterprise shown, for the sections in ES modules (portal/context.js). */
  function shareContext() {
    const detail = Object.freeze({ lang: state.lang, enterprise: state.enterprise, me: state.me });
    window.portalContext = detail;
    document.dispatchEvent(new CustomEvent('portal:context', { detail }));
  }

  function applyLanguage() {
    translatePage(t, state.lang);
    $('new-key-close').title = t('close');
    $('new-key-close').setAttribute('aria-label', t('close'));
  }

  function setLanguage(lang) {
    if (!SUPPORTED_LANGS.includes(lang) || lang === state.lang) return;
    state.lang = lang;
    rememberLang(LANG_STORAGE_KEY, lang);
    applyLanguage();
    renderHeader();
    renderStations();
    renderEnterprise();
    renderRejectedFilter();
    renderRejected();
    renderUploads();
    renderKeys();
    shareContext();
  }

  function updateUrl(changes) {
    const url = new URL(location.href);
    for (const [k, v] of Object.entries(changes)) {
      if (v == null || v === '') url.searchParams.delete(k);
      else url.searchParams.set(k, String(v));
    }
    history.replaceState(null, '', url);
  }

  function renderHeader() {
    const me = state.me;
    if (!me) return;
    $('user-name').textContent = me.display_name ? `${me.display_name} (${me.username})` : me.username;
    document.body.dataset.role = me.role;
    renderEnterprise();
  }

  function wire() {
    for (const button of document.querySelectorAll('.lang-switch button')) {
      button.addEventListener('click', () => setLanguage(button.dataset.lang));
    }
    $('logout').addEventListener('click', () => IOC.logout('/portal'));
    $('days-select').value = String(state.days);
    $('days-select').addEventListener('change', (e) => {
      state.days = Number(e.target.value);
      updateUrl({ days: state.days === 7 ? null : state.days });
      loadStations();
    });
    $('enterprise-select').addEventListener('change', async (e) => {
      state.enterprise = e.target.value;
      updateUrl({ enterprise: state.enterprise });
      shareContext();
      await loadStations();
      await Promise.all([loadRejected(), loadKeys()]);
    });
    $('stations-refresh').addEventListener('click', loadStations);
    $('rejected-refresh').addEventListener('click', loadRejected);
    $('rejected-station').addEventListener('change', loadRejected);
    $('upload-form').addEventListener('submit', upload);
    $('key-form').addEventListener('submit', createKey);
    $('copy-key').addEventListener('click', copyKey);
    $('new-key-close').addEventListener('click', () => showNewKey(null));
    $('key-rows').addEventListener('click', (e) => {
      const button = e.target.closest('[data-testid="api-key-revoke"]');
      if (button) revokeKey(button.dataset.keyId);
    });
  }

  async function start() {
    applyLanguage();
    wire();
    try {
      state.me = await api('/api/v1/auth/me');
    } catch (err) {
      if (err.status !== 401) notice(t('requestFailed', err.message));
      return;
    }
    renderHeader();
    shareContext();
    await loadStations();
    await Promise.all([loadRejected(), loadKeys()]);
    document.body.dataset.ready = 'true';
    setInterval(() => { loadStations(); loadRejected(); }, REFRESH_MS);
  }

  start();
})();
