/*
 * The built-in rules in the officer console (issue #14): the anomaly rules (anomaly.*) and the
 * camera rules (camera.*, traffic.*), listed under the limit rules with what they run with now,
 * and edited field by field (enabled, severity, thresholds, windows, durations) with the
 * bounds and descriptions the service gives (GET /api/v1/detector-rules). A save is a
 * versioned configuration change (PUT /api/v1/config/detector-rules/{id}), in force at once;
 * "default" removes the override (DELETE). The service validates every value (400 with
 * problems, shown at their fields).
 *
 * Loaded by console/rules.js (dynamic import) with the rules tab; rules.js keeps its own rule
 * editor and calls load(); console.js calls render() (language switch); console/silences.js
 * calls silenceOptions() (silence dropdown).
 */

const I18N = {
  vi: {
    title: 'Quy tắc phát hiện bất thường & camera',
    hint: 'Các quy tắc có sẵn trong hệ thống. Bấm một dòng để chỉnh ngưỡng, thời gian, mức độ hoặc tắt quy tắc.',
    colId: 'Mã',
    colName: 'Tên',
    colFamily: 'Nhóm',
    colState: 'Trạng thái',
    colSeverity: 'Mức độ',
    family_anomaly: 'Bất thường',
    family_camera: 'Camera',
    on: 'Bật',
    off: 'Tắt',
    overridden: 'đã chỉnh',
    edit: 'Sửa',
    save: 'Lưu',
    backtest: 'Chạy thử 7 ngày qua',
    backtestRunning: 'Đang chạy thử…',
    backtestResult: (alerts, stations, flaps) => `Với các giá trị trên, 7 ngày qua: ${alerts} cảnh báo ở ${stations} trạm (${flaps} lần lặp lại).`,
    noBacktest: 'Quy tắc camera và quy tắc mất dữ liệu không chạy thử được (ảnh camera không được lưu; mất dữ liệu do đồng hồ quyết định).',
    reset: 'Về mặc định',
    close: 'Đóng',
    editing: (id) => `Sửa quy tắc ${id}`,
    version: (v) => (v ? `phiên bản ${v}` : 'mặc định'),
    saved: (id, v) => `Đã lưu ${id} (phiên bản ${v}), có hiệu lực ngay.`,
    resetDone: (id) => `${id} đã về giá trị mặc định.`,
    conflict: 'Người khác vừa sửa quy tắc này; đã tải lại phiên bản mới.',
    failed: (text) => `Không lưu được: ${text}`,
    readOnly: 'Chỉ cán bộ chuyên môn và quản trị viên được sửa.',
    bounds: 'Giới hạn',
    sev_info: 'Thông tin',
    sev_warning: 'Cảnh báo',
    sev_critical: 'Nghiêm trọng',
    notes: {
      'anomaly.sensor_fault': 'Ngưỡng đột biến và cách so với trạm lân cận: chỉnh ở anomaly.spike.',
      'anomaly.pollution_event': 'Ngưỡng đột biến và cách so với trạm lân cận: chỉnh ở anomaly.spike.',
      'anomaly.no_data': 'Thời gian im lặng: chỉnh ở anomaly.offline.',
    },
    fields: {
      enabled: 'Bật quy tắc',
      severity: 'Mức độ cảnh báo',
      zscore_threshold: 'Ngưỡng |z| đột biến',
      zscore_window: 'Số mẫu so sánh (cửa sổ z)',
      mad_floor_ratio: 'Tỉ lệ MAD tối thiểu so với trung vị',
      rising_zscore: 'Ngưỡng z trạm lân cận cùng tăng',
      neighbour_radius_km: 'Bán kính trạm lân cận (km)',
      neighbour_window_s: 'Thời gian xét trạm lân cận (s)',
      min_neighbours_rising: 'Số trạm lân cận cùng tăng tối thiểu',
      flatline_samples: 'Số mẫu giống nhau liên tiếp',
      flatline_tolerance: 'Dung sai "giống nhau"',
      seasonal_threshold: 'Ngưỡng |z| theo giờ trong ngày',
      seasonal_days: 'Số ngày lưu trung bình giờ',
      seasonal_min_days: 'Số ngày tối thiểu để đánh giá',
      drift_threshold: 'Ngưỡng trôi',
      drift_window_hours: 'Cửa sổ trung vị trôi (giờ)',
      drift_pm_ratio: 'Xét trôi theo tỉ lệ PM2.5/PM10',
      offline_after_intervals: 'Số chu kỳ gửi bị lỡ trước khi mất kết nối',
      offline_after_s: 'Mất kết nối sau (s)',
      bad_after_s: 'Khung hình lỗi kéo dài (s)',
      frozen_diff: 'Mức thay đổi xám tối thiểu',
      frozen_after_s: 'Đứng hình sau (s)',
      dark_level: 'Mức xám tối',
      bright_level: 'Mức xám cháy sáng',
      blur_ratio: 'Tỉ lệ độ nét tối thiểu',
      covered_contrast: 'Độ tương phản khi bị che',
      moved_px: 'Độ lệch khung cảnh (px)',
      brighten: 'Độ sáng tăng do khói',
      max_saturation: 'Độ bão hoà tối đa',
      min_motion: 'Chuyển động tối thiểu',
      min_area: 'Diện tích tối thiểu (tỉ lệ vùng)',
      growth: 'Hệ số lan rộng',
      confirm_s: 'Thời gian xác nhận (s)',
      clear_after_s: 'Hết cảnh báo sau (s)',
      jam_occupancy: 'Độ chiếm dụng ùn tắc',
      jam_speed_px_s: 'Tốc độ ùn tắc (px/s)',
      congestion_after_s: 'Ùn tắc kéo dài trước khi cảnh báo (s)',
      congestion_clear_s: 'Hết ùn tắc sau (s)',
      still_radius_px: 'Bán kính đứng yên (px)',
      stopped_after_s: 'Dừng quá (s)',
      stopped_clear_s: 'Hết cảnh báo dừng sau (s)',
    },
  },
  en: {
    title: 'Anomaly & camera rules',
    hint: 'The rules built into the system. Click a row to tune its thresholds, durations, severity, or switch it off.',
    colId: 'Id',
    colName: 'Name',
    colFamily: 'Family',
    colState: 'State',
    colSeverity: 'Severity',
    family_anomaly: 'Anomaly',
    family_camera: 'Camera',
    on: 'On',
    off: 'Off',
    overridden: 'tuned',
    edit: 'Edit',
    save: 'Save',
    backtest: 'Backtest the last 7 days',
    backtestRunning: 'Backtesting…',
    backtestResult: (alerts, stations, flaps) => `With the values above, the last 7 days: ${alerts} alerts at ${stations} stations (${flaps} flaps).`,
    noBacktest: 'Camera rules and the no-data rules have no backtest (camera frames are not stored; silence is decided by the clock).',
    reset: 'Back to default',
    close: 'Close',
    editing: (id) => `Edit rule ${id}`,
    version: (v) => (v ? `version ${v}` : 'default'),
    saved: (id, v) => `${id} saved (version ${v}), in force now.`,
    resetDone: (id) => `${id} is back to its defaults.`,
    conflict: 'Someone else changed this rule meanwhile; the new version is loaded.',
    failed: (text) => `Not saved: ${text}`,
    readOnly: 'Only officers and admins may change it.',
    bounds: 'Bounds',
    sev_info: 'Info',
    sev_warning: 'Warning',
    sev_critical: 'Critical',
    notes: {
      'anomaly.sensor_fault': 'The spike threshold and the neighbour check are tuned at anomaly.spike.',
      'anomaly.pollution_event': 'The spike threshold and the neighbour check are tuned at anomaly.spike.',
      'anomaly.no_data': 'The silence is tuned at anomaly.offline.',
    },
    fields: {},
  },
};

/** Bounds of a field as text: "> 0 … ≤ 1". */
function boundsText(field) {
  const parts = [];
  if (field.exclusiveMinimum != null) parts.push(`> ${field.exclusiveMinimum}`);
  if (field.minimum != null) parts.push(`≥ ${field.minimum}`);
  if (field.exclusiveMaximum != null) parts.push(`< ${field.exclusiveMaximum}`);
  if (field.maximum != null) parts.push(`≤ ${field.maximum}`);
  return parts.join(' · ');
}

/**
 * deps: {api(method, path, body) → {ok, status, body}, el, lang() → 'vi'|'en',
 *        canEdit() → bool, toast(message, kind), errorText(result), onChange()}
 */
export function createDetectorRules(deps) {
  const { api, el } = deps;
  const t = (key, ...args) => {
    const entry = I18N[deps.lang()][key] ?? I18N.vi[key];
    return typeof entry === 'function' ? entry(...args) : entry;
  };
  const fieldLabel = (key) => I18N[deps.lang()].fields[key] || key;
  const state = { rules: [], open: null, draft: null, problems: [], backtest: '' };
  const CLOCK_RULES = ['anomaly.offline', 'anomaly.no_data'];
  const canBacktest = (rule) => rule.family === 'anomaly' && !CLOCK_RULES.includes(rule.id);
  const root = el('div', { class: 'panel detector-rules', id: 'detector-rules', 'data-testid': 'detector-rules' });
  document.querySelector('[data-panel="rules"]').append(root);

  const ruleName = (rule) => (deps.lang() === 'en' ? rule.name_en : rule.name_vi);
  const severityText = (severity) => t(`sev_${severity}`);

  async function load() {
    const result = await api('GET', '/api/v1/detector-rules');
    if (!result.ok) {
      deps.toast(deps.errorText(result), 'error');
      return;
    }
    state.rules = result.body.rules;
    if (state.open && !state.rules.some((r) => r.id === state.open)) state.open = null;
    render();
    deps.onChange();
  }

  function render() {
    const rows = state.rules.map((rule) => {
      const row = el('tr', {
        'data-testid': 'detector-row',
        'data-rule-id': rule.id,
        'data-enabled': String(rule.enabled),
        'data-version': rule.version,
        class: state.open === rule.id ? 'is-selected' : null,
      },
      el('td', { class: 'mono' }, rule.id),
      el('td', null, ruleName(rule)),
      el('td', null, t(`family_${rule.family}`)),
      el('td', null, rule.enabled ? t('on') : t('off'), rule.override ? el('span', { class: 'badge tuned' }, t('overridden')) : null),
      el('td', null, severityText(rule.severity)));
      row.addEventListener('click', () => open(rule.id));
      return row;
    });
    root.replaceChildren(
      el('div', { class: 'panel-head' }, el('h2', null, t('title'))),
      el('p', { class: 'muted small' }, t('hint')),
      el('div', { class: 'table-scroll' }, el('table', { class: 'grid', 'data-testid': 'detector-table' },
        el('thead', null, el('tr', null, ...['colId', 'colName', 'colFamily', 'colState', 'colSeverity'].map((k) => el('th', null, t(k))))),
        el('tbody', null, ...rows))),
      state.open ? editor() : null,
    );
  }

  function open(id) {
    const rule = state.rules.find((r) => r.id === id);
    if (!rule) return;
    state.open = id;
    state.draft = { ...(rule.override || {}) };
    state.problems = [];
    state.backtest = '';
    render();
  }

  function valueOf(rule, key) {
    if (key in state.draft) return state.draft[key];
    if (key === 'enabled') return rule.enabled;
    if (key === 'severity') return rule.severity;
    return rule.settings[key];
  }

  function control(rule, field) {
    const value = valueOf(rule, field.key);
    const attrs = { id: `detector-field-${field.key}`, 'data-key': field.key, 'data-testid': `detector-field-${field.key}` };
    let input;
    if (field.type === 'boolean') {
      input = el('select', attrs, el('option', { value: 'true' }, t('on')), el('option', { value: 'false' }, t('off')));
      input.value = String(Boolean(value));
    } else if (field.type === 'enum') {
      input = el('select', attrs, ...(field.enum || []).map((v) => el('option', { value: v }, field.key === 'severity' ? severityText(v) : v)));
      input.value = value;
    } else {
      input = el('input', {
        ...attrs,
        type: 'number',
        step: field.type === 'integer' ? '1' : 'any',
        min: field.minimum ?? field.exclusiveMinimum ?? null,
        max: field.maximum ?? field.exclusiveMaximum ?? null,
      });
      input.value = value == null ? '' : String(value);
    }
    input.disabled = !deps.canEdit();
    input.addEventListener('change', () => {
      const raw = input.value.trim();
      if (field.type === 'boolean') state.draft[field.key] = raw === 'true';
      else if (field.type === 'enum') state.draft[field.key] = raw;
      else if (raw === '') delete state.draft[field.key];
      else state.draft[field.key] = Number(raw);
    });
    return input;
  }

  function editor() {
    const rule = state.rules.find((r) => r.id === state.open);
    const problemsOf = (key) => state.problems.filter((p) => p.field === key);
    const rows = rule.fields.map((field) => {
      const problems = problemsOf(field.key);
      const bounds = boundsText(field);
      return el('div', { class: `form-row${problems.length ? ' has-error' : ''}`, 'data-field-row': field.key },
        el('label', { for: `detector-field-${field.key}` }, fieldLabel(field.key), ' ', el('code', { class: 'muted' }, field.key)),
        control(rule, field),
        el('div', { class: 'field-hint muted small' }, field.description, bounds ? ` (${t('bounds')}: ${bounds})` : ''),
        ...problems.map((p) => el('div', { class: 'field-error', 'data-testid': 'detector-problem', 'data-field': p.field, role: 'alert' }, p.message)));
    });
    const general = state.problems.filter((p) => !rule.fields.some((f) => f.key === p.field));
    const save = el('button', { type: 'submit', class: 'primary', 'data-testid': 'detector-save' }, t('save'));
    const reset = el('button', { type: 'button', class: 'ghost', 'data-testid': 'detector-reset' }, t('reset'));
    const close = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'detector-close' }, t('close'));
    const tryIt = el('button', { type: 'button', class: 'ghost', 'data-testid': 'detector-backtest-run' }, t('backtest'));
    tryIt.hidden = !canBacktest(rule);
    tryIt.addEventListener('click', () => backtest(rule));
    save.disabled = reset.disabled = !deps.canEdit();
    reset.hidden = !rule.override;
    close.addEventListener('click', () => { state.open = null; render(); });
    reset.addEventListener('click', () => remove(rule));
    const form = el('form', { class: 'form-grid detector-form', novalidate: true, autocomplete: 'off', 'data-testid': 'detector-form' },
      ...rows,
      ...general.map((p) => el('div', { class: 'problem', 'data-testid': 'detector-problem', 'data-field': p.field }, p.field ? `${p.field}: ${p.message}` : p.message)),
      el('div', { class: 'form-actions' }, save, reset, tryIt, deps.canEdit() ? null : el('span', { class: 'muted small' }, t('readOnly'))),
      el('p', { class: 'muted small', 'data-testid': 'detector-backtest', role: 'status' }, canBacktest(rule) ? state.backtest : t('noBacktest')));
    form.addEventListener('submit', (event) => { event.preventDefault(); submit(rule); });
    return el('div', { class: 'detector-editor', 'data-testid': 'detector-editor', 'data-rule-id': rule.id },
      el('div', { class: 'panel-head' },
        el('h3', null, t('editing', rule.id), ' ', el('span', { class: 'mono muted', 'data-testid': 'detector-version' }, `(${t('version', rule.version)})`)),
        close),
      el('p', null, ruleName(rule)),
      I18N[deps.lang()].notes[rule.id] ? el('p', { class: 'muted small', 'data-testid': 'detector-note' }, I18N[deps.lang()].notes[rule.id]) : null,
      form);
  }

  async function submit(rule) {
    const path = `/api/v1/config/detector-rules/${encodeURIComponent(rule.id)}`;
    const result = await api('PUT', path, { item: state.draft, version: rule.version });
    await settle(rule, result, () => t('saved', rule.id, result.body.id));
  }

  /** What the draft's values would have raised over the last 7 days of stored readings. */
  async function backtest(rule) {
    const end = new Date();
    const start = new Date(end.getTime() - 7 * 86_400_000);
    state.backtest = t('backtestRunning');
    render();
    const path = `/api/v1/detector-rules/${encodeURIComponent(rule.id)}/backtest`;
    const result = await api('POST', path, { override: state.draft, start: start.toISOString(), end: end.toISOString() });
    if (result.ok) {
      const { alerts, stations_alerted: stations, flaps } = result.body.summary;
      state.backtest = t('backtestResult', alerts, stations, flaps);
      state.problems = [];
    } else {
      state.backtest = '';
      state.problems = (result.body.problems || []).map((p) => ({ field: (p.field || '').replace(/^override\./, ''), message: p.message }));
      deps.toast(deps.errorText(result), 'error');
    }
    if (state.open === rule.id) render();
  }

  async function remove(rule) {
    const result = await api('DELETE', `/api/v1/config/detector-rules/${encodeURIComponent(rule.id)}?version=${rule.version}`);
    await settle(rule, result, () => t('resetDone', rule.id));
  }

  async function settle(rule, result, message) {
    if (result.ok) {
      state.problems = [];
      deps.toast(message(), 'ok');
      await load();
      if (state.open === rule.id) open(rule.id);
      return;
    }
    if (result.status === 409) {
      deps.toast(t('conflict'), 'error');
      await load();
      open(rule.id);
      return;
    }
    state.problems = Array.isArray(result.body.problems) && result.body.problems.length
      ? result.body.problems.map((p) => ({ field: p.field || '', message: p.message }))
      : [{ field: '', message: deps.errorText(result) }];
    deps.toast(t('failed', deps.errorText(result)), 'error');
    render();
  }

  /** [value, text] of each built-in rule, for the silence dropdown. */
  function silenceOptions() {
    return state.rules.map((rule) => [rule.id, `${rule.id} — ${ruleName(rule)}`]);
  }

  return { load, render, silenceOptions };
}
