/*
 * IOC officer console (/console): alert rules with live validation, a backtest preview and
 * history; the station registry; alert silences; configuration history; the audit log.
 *
 * Plain ES2020; shared helpers from common.js (window.IOC); same-origin requests only (the
 * session cookie). Officers and admins get the page; what an admin alone may do (stations,
 * audit) follows GET /api/v1/auth/me capabilities ("administer").
 *
 * URL options: ?lang=vi|en; #rules, #stations, #silences, #history, #audit pick the tab.
 *
 * Structure:
 *   1. Constants and the VI/EN dictionary
 *   2. Helpers: DOM, formatting (times in Asia/Ho_Chi_Minh), API calls
 *   3. Problems shown next to their fields
 *   4. Rules: list, editor, live validation, save/delete, preview (backtest + chart), history
 *   5. Stations registry
 *   6. Silences
 *   7. Configuration history
 *   8. Audit log
 *   9. Header, tabs, language, start-up
 */
'use strict';

(() => {
  // ---------------------------------------------------------------------------
  // 1. Constants and dictionary
  // ---------------------------------------------------------------------------

  // Shared helpers: common.js.
  const {
    $, el, svgEl, zonedParts, parseTime, formatDateTime, formatClock, finiteOrNull: finite,
    pickLang, translator, rememberLang, translatePage, showToast,
  } = IOC;

  const VN_OFFSET = '+07:00';
  const LANG_STORAGE_KEY = 'ioc.lang';
  const TABS = ['rules', 'stations', 'fleet', 'silences', 'history', 'audit'];
  const VALIDATE_DEBOUNCE_MS = 300;
  const TOAST_MS = 6000;
  const DAY_MS = 86400 * 1000;
  const READINGS_LIMIT = 10000; // the API's maximum rows
  const RULE_ID = /^[a-z0-9_.-]{1,64}$/;
  const STATION_ID = /^[A-Za-z0-9_.-]{1,64}$/;
  /** Rule fields that have their own form control (others are edited as JSON). */
  const RULE_FORM_FIELDS = ['id', 'name', 'parameter', 'window', 'aggregate', 'above', 'below',
    'clear_at', 'severity', 'min_duration_s'];
  const RULE_SIMPLE_FIELDS = ['above', 'below', 'clear_at', 'severity'];
  const DERIVED_PARAMETERS = ['aqi', 'aqi_day', 'nesterov', 'fire_level', 'fwi', 'volume_day'];

  const I18N = {
    vi: {
      pageTitle: 'Bảng điều khiển cán bộ — Trung tâm Điều hành Thông minh',
      title: 'Bảng điều khiển cán bộ',
      subtitle: 'Quy tắc cảnh báo · trạm · tạm tắt cảnh báo · nhật ký',
      toWall: 'Màn hình vận hành',
      logout: 'Đăng xuất',
      role_admin: 'Quản trị viên',
      role_officer: 'Cán bộ chuyên môn',
      role_operator: 'Điều hành viên',
      role_viewer: 'Người xem',
      role_enterprise: 'Doanh nghiệp',
      tabRules: 'Quy tắc cảnh báo',
      tabStations: 'Danh mục trạm',
      tabSilences: 'Tạm tắt cảnh báo',
      tabHistory: 'Lịch sử cấu hình',
      tabAudit: 'Nhật ký truy cập',
      rulesTitle: 'Quy tắc',
      filter: 'Lọc…',
      newRule: '+ Quy tắc mới',
      colId: 'Mã',
      colName: 'Tên',
      colParameter: 'Thông số',
      colWindow: 'Cửa sổ',
      colLevels: 'Ngưỡng',
      colStation: 'Trạm',
      colAlerts: 'Cảnh báo',
      colFlaps: 'Dao động',
      colFiring: 'Thời gian vượt',
      colTime: 'Thời gian',
      colActor: 'Người thực hiện',
      colAction: 'Thao tác',
      colChange: 'Thay đổi',
      colKind: 'Loại',
      colKey: 'Mã',
      colOwner: 'Chủ quản',
      colInterval: 'Chu kỳ (s)',
      colStart: 'Bắt đầu',
      colEnd: 'Kết thúc',
      colBy: 'Người tạo',
      colTarget: 'Đối tượng',
      colOutcome: 'Kết quả',
      colAddress: 'Địa chỉ',
      colDetail: 'Chi tiết',
      noRules: 'Chưa có quy tắc nào',
      edit: 'Sửa',
      view: 'Xem',
      close: 'Đóng',
      pickRule: 'Chọn một quy tắc để sửa, hoặc tạo quy tắc mới.',
      pickStation: 'Chọn một trạm để xem chi tiết.',
      editRule: 'Sửa quy tắc',
      newRuleTitle: 'Quy tắc mới',
      version: (v) => `phiên bản ${v}`,
      fId: 'Mã quy tắc',
      hId: 'chữ thường, số, _ . - ; không đổi được sau khi tạo',
      fName: 'Tên hiển thị',
      fParameter: 'Thông số',
      fWindow: 'Cửa sổ',
      fAggregate: 'Tổng hợp',
      aggDefault: 'mặc định (trung bình)',
      aggMean: 'trung bình',
      aggMax: 'cao nhất',
      fAbove: 'Cảnh báo khi trên',
      fBelow: 'Cảnh báo khi dưới',
      fClearAt: 'Hết cảnh báo khi về',
      hClearAt: 'trễ (hysteresis); để trống = bằng ngưỡng',
      fSeverity: 'Mức độ',
      sevDefault: 'mặc định (cảnh báo)',
      fMinDuration: 'Kéo dài tối thiểu (giây)',
      multiNote: 'Quy tắc nhiều mức (thresholds): sửa các mức trong JSON nâng cao.',
      rawToggle: 'JSON nâng cao (thresholds, area, kinds, stations, owners…)',
      rawInvalid: (d) => `JSON không hợp lệ: ${d}`,
      rawNotObject: 'JSON phải là một đối tượng { … }',
      save: 'Lưu',
      revert: 'Hoàn tác chỉnh sửa',
      delete: 'Xóa quy tắc',
      deleteStation: 'Xóa trạm',
      confirm: 'Bấm lần nữa để xác nhận',
      validChecking: 'Đang kiểm tra…',
      validOk: '✓ Hợp lệ',
      validBad: (n) => `${n} lỗi`,
      unsaved: 'chưa lưu',
      saving: 'Đang lưu…',
      saved: (v, time) => `Đã lưu lúc ${time} — phiên bản ${v}, có hiệu lực ngay.`,
      deleted: (id) => `Đã xóa quy tắc ${id}.`,
      conflict: (v) => `Không lưu: quy tắc đã bị người khác thay đổi trong lúc bạn sửa (nay là phiên bản ${v ?? '—'}). Tải lại bản mới rồi sửa lại.`,
      reload: 'Tải bản mới',
      refusedInvalid: 'Không lưu: cấu hình còn lỗi (xem các ô được đánh dấu).',
      forbidden: (d) => `Không có quyền: ${d}`,
      failed: (d) => `Thất bại: ${d}`,
      network: 'Không kết nối được máy chủ.',
      idRequired: 'nhập mã quy tắc',
      idPattern: 'chỉ chữ thường, số và _ . - (tối đa 64 ký tự)',
      idExists: 'đã có quy tắc với mã này',
      stationIdRequired: 'nhập mã trạm',
      stationIdPattern: 'chỉ chữ, số và _ . - (tối đa 64 ký tự)',
      stationIdExists: 'đã có trạm với mã này',
      previewTitle: 'Xem trước trên dữ liệu đã lưu',
      previewOver: 'Khoảng',
      days7: '7 ngày qua',
      days30: '30 ngày qua',
      previewRun: 'Chạy thử',
      previewIdle: 'Chạy thử quy tắc đang sửa trên lịch sử đo để biết số cảnh báo nó sẽ phát ra.',
      previewRunning: (d) => `Đang chạy thử trên ${d} ngày dữ liệu…`,
      previewDone: (d, time) => `Kết quả chạy thử ${d} ngày qua (lúc ${time}).`,
      previewStale: 'Quy tắc đã được sửa sau lần chạy thử — bấm Chạy thử để cập nhật.',
      previewFailed: (d) => `Không chạy thử được: ${d}`,
      previewInvalid: 'Sửa các lỗi của quy tắc trước khi chạy thử.',
      previewCount: (n) => `${n}`,
      previewCountLabel: (n, d) => `cảnh báo sẽ được phát ra trong ${d} ngày qua`,
      previewFacts: (s, a, v, f) => `${a}/${s} trạm có cảnh báo · ${v} giá trị đã xét · ${f} lần dao động (báo lại ngay sau khi hết)`,
      noStations: 'Quy tắc không áp dụng cho trạm nào có dữ liệu',
      chartStation: 'Biểu đồ trạm',
      chartLoading: 'Đang tải số liệu…',
      chartNoData: (p) => `Không có số liệu ${p} của trạm trong khoảng này`,
      chartDerived: (p) => `${p} là giá trị tính toán: không có số liệu đo để vẽ`,
      chartNote: (n, w) => `${n} điểm đo` + (w ? ` · giá trị đo tức thời, quy tắc xét ${w}` : ''),
      chartTruncated: (n) => ` · chỉ ${n} điểm mới nhất`,
      chartError: (d) => `Không tải được số liệu: ${d}`,
      threshold: 'ngưỡng',
      clearLine: 'hết',
      ruleHistory: 'Lịch sử thay đổi của quy tắc',
      noHistory: 'Chưa có thay đổi',
      rollback: 'Khôi phục',
      rollbackRemoves: 'Hoàn tác (xóa)',
      rollbackTitle: 'Đặt lại nội dung trước thay đổi này (ghi thành một thay đổi mới)',
      rolledBack: (id) => `Đã khôi phục trạng thái trước thay đổi #${id}.`,
      action_seed: 'khởi tạo',
      action_create: 'tạo mới',
      action_update: 'cập nhật',
      action_delete: 'xóa',
      action_rollback: 'khôi phục',
      rollbackOf: (id) => `khôi phục #${id}`,
      created: 'tạo',
      removed: 'xóa',
      noChange: 'không đổi',
      window_instant: 'tức thời',
      window_mean: (w) => `TB ${w}`,
      window_max: (w) => `max ${w}`,
      clearAtShort: (v) => `hết ≤ ${v}`,
      clearAtShortBelow: (v) => `hết ≥ ${v}`,
      sev_critical: 'Nghiêm trọng',
      sev_warning: 'Cảnh báo',
      sev_info: 'Thông tin',
      stationsTitle: 'Danh mục trạm',
      readOnly: 'Chỉ xem: quản trị viên mới được sửa',
      newStation: '+ Trạm mới',
      editStation: 'Sửa trạm',
      viewStation: 'Trạm',
      newStationTitle: 'Trạm mới',
      stationSaved: (v, time) => `Đã lưu lúc ${time} — phiên bản ${v}.`,
      stationDeleted: (id) => `Đã xóa trạm ${id}.`,
      fStationId: 'Mã trạm',
      fKind: 'Loại trạm',
      fOwner: 'Chủ quản',
      fLat: 'Vĩ độ',
      fLon: 'Kinh độ',
      fInterval: 'Chu kỳ gửi (giây)',
      fParamSet: 'Bộ thông số',
      customParams: '(thông số riêng của trạm)',
      ownerState: 'Nhà nước',
      kind_air: 'Không khí',
      kind_weather: 'Khí tượng',
      kind_stack: 'Khí thải ống khói',
      kind_wastewater: 'Nước thải',
      kind_groundwater: 'Nước dưới đất',
      silencesTitle: 'Tạm tắt cảnh báo',
      fStation: 'Trạm',
      fRule: 'Quy tắc',
      fUntil: 'Đến (giờ VN)',
      fReason: 'Lý do',
      add: 'Thêm',
      remove: 'Gỡ',
      allStations: 'Tất cả trạm',
      allRules: 'Tất cả quy tắc',
      noSilences: 'Không có cảnh báo nào đang bị tạm tắt',
      silenceAdded: 'Đã tạm tắt cảnh báo.',
      silenceRemoved: 'Đã gỡ tạm tắt.',
      reasonRequired: 'Nhập lý do tạm tắt.',
      endRequired: 'Chọn thời điểm kết thúc.',
      historyTitle: 'Lịch sử thay đổi cấu hình',
      allKinds: 'Tất cả loại',
      kindRule: 'Quy tắc',
      kindStation: 'Trạm',
      kindEnterprise: 'Doanh nghiệp',
      kindParamSet: 'Bộ thông số',
      kind_rule: 'quy tắc',
      kind_station: 'trạm',
      kind_enterprise: 'doanh nghiệp',
      kind_parameter_set: 'bộ thông số',
      kind_company: 'doanh nghiệp vận tải',
      kind_vehicle: 'phương tiện',
      kind_driver: 'lái xe',
      kind_zone: 'vùng',
      kind_speed_limit: 'giới hạn tốc độ',
      kind_detector: 'quy tắc bất thường / camera',
      kindDetector: 'Quy tắc bất thường / camera',
      kindCompany: 'Doanh nghiệp vận tải',
      kindVehicle: 'Phương tiện',
      kindDriver: 'Lái xe',
      kindZone: 'Vùng',
      kindSpeedLimit: 'Giới hạn tốc độ',
      tabFleet: 'Phương tiện',
      fleetTitle: 'Phương tiện vận tải',
      fleetReadOnly: 'Chỉ xem: mục này do quản trị viên sửa',
      fleetVehicles: 'Phương tiện',
      fleetCompanies: 'Doanh nghiệp vận tải',
      fleetDrivers: 'Lái xe',
      fleetZones: 'Vùng (cấm, hạn chế tốc độ, bến, cửa khẩu)',
      fleetSpeedLimits: 'Giới hạn tốc độ theo loại đường',
      newItem: '+ Thêm mới',
      newItemTitle: (kind) => `Thêm ${kind}`,
      deleteItem: 'Xóa',
      itemDeleted: (key) => `Đã xóa ${key}.`,
      itemHistory: 'Lịch sử thay đổi',
      pickItem: 'Chọn một mục để xem chi tiết.',
      keyRequired: 'nhập mã',
      keyExists: 'đã có mục với mã này',
      notJson: 'không phải JSON hợp lệ',
      colPlate: 'Biển số',
      colType: 'Loại xe',
      colCompany: 'Doanh nghiệp',
      colDriver: 'Lái xe',
      colTypes: 'Loại xe',
      colLicence: 'Số GPLX',
      colZoneKind: 'Loại vùng',
      colHours: 'Giờ cấm',
      colRoadClass: 'Loại đường',
      colLimits: 'Giới hạn (km/h)',
      fPlate: 'Biển số (vd. 49C-123.45)',
      fVehicleType: 'Loại xe',
      fCompany: 'Doanh nghiệp vận tải',
      fDriverLicence: 'Số giấy phép lái xe',
      fRoute: 'Tuyến',
      fCompanyId: 'Mã doanh nghiệp',
      fTypes: 'Loại xe (cách nhau bởi dấu phẩy)',
      fZoneId: 'Mã vùng',
      fZoneKind: 'Loại vùng',
      fShape: 'Hình dạng',
      fCentre: 'Tâm [vĩ độ, kinh độ]',
      fRadius: 'Bán kính (m)',
      fPolygon: 'Đa giác [[vĩ độ, kinh độ], …]',
      fForbiddenHours: 'Giờ cấm [[từ, đến], …] (giờ VN)',
      fZoneLimit: 'Giới hạn tốc độ trong vùng (km/h)',
      fRoadClass: 'Loại đường',
      fLimits: 'km/h theo loại xe (JSON)',
      keyPlaceholder: 'Mã (tùy chọn)',
      refresh: 'Làm mới',
      auditTitle: 'Nhật ký truy cập',
      actorPlaceholder: 'Người dùng',
      actionPlaceholder: 'Thao tác (vd. login)',
      allOutcomes: 'Mọi kết quả',
      noEntries: 'Không có mục nào',
      loading: 'Đang tải…',
      loadFailed: (d) => `Không tải được: ${d}`,
    },
    en: {
      pageTitle: 'Officer console — Intelligent Operations Center',
      title: 'Officer console',
      subtitle: 'Alert rules · stations · silences · logs',
      toWall: 'Operations wall',
      logout: 'Log out',
      role_admin: 'Administrator',
      role_officer: 'Officer',
      role_operator: 'Operator',
      role_viewer: 'Viewer',
      role_enterprise: 'Enterprise',
      tabRules: 'Alert rules',
      tabStations: 'Stations',
      tabSilences: 'Silences',
      tabHistory: 'Configuration history',
      tabAudit: 'Audit log',
      rulesTitle: 'Rules',
      filter: 'Filter…',
      newRule: '+ New rule',
      colId: 'Id',
      colName: 'Name',
      colParameter: 'Parameter',
      colWindow: 'Window',
      colLevels: 'Levels',
      colStation: 'Station',
      colAlerts: 'Alerts',
      colFlaps: 'Flaps',
      colFiring: 'Time firing',
      colTime: 'Time',
      colActor: 'By',
      colAction: 'Action',
      colChange: 'Change',
      colKind: 'Kind',
      colKey: 'Key',
      colOwner: 'Owner',
      colInterval: 'Interval (s)',
      colStart: 'Start',
      colEnd: 'End',
      colBy: 'Created by',
      colTarget: 'Target',
      colOutcome: 'Outcome',
      colAddress: 'Address',
      colDetail: 'Detail',
      noRules: 'No rules yet',
      edit: 'Edit',
      view: 'View',
      close: 'Close',
      pickRule: 'Pick a rule to edit, or create a new one.',
      pickStation: 'Pick a station to see its details.',
      editRule: 'Edit rule',
      newRuleTitle: 'New rule',
      version: (v) => `version ${v}`,
      fId: 'Rule id',
      hId: 'lower case, digits, _ . - ; fixed once created',
      fName: 'Display name',
      fParameter: 'Parameter',
      fWindow: 'Window',
      fAggregate: 'Aggregate',
      aggDefault: 'default (mean)',
      aggMean: 'mean',
      aggMax: 'max',
      fAbove: 'Alert above',
      fBelow: 'Alert below',
      fClearAt: 'Clear at',
      hClearAt: 'hysteresis; empty = the threshold',
      fSeverity: 'Severity',
      sevDefault: 'default (warning)',
      fMinDuration: 'Minimum duration (s)',
      multiNote: 'Multi-level rule (thresholds): edit the levels in the advanced JSON.',
      rawToggle: 'Advanced JSON (thresholds, area, kinds, stations, owners…)',
      rawInvalid: (d) => `Invalid JSON: ${d}`,
      rawNotObject: 'The JSON must be an object { … }',
      save: 'Save',
      revert: 'Discard changes',
      delete: 'Delete rule',
      deleteStation: 'Delete station',
      confirm: 'Click again to confirm',
      validChecking: 'Checking…',
      validOk: '✓ Valid',
      validBad: (n) => `${n} problem${n === 1 ? '' : 's'}`,
      unsaved: 'unsaved',
      saving: 'Saving…',
      saved: (v, time) => `Saved at ${time} — version ${v}, in force now.`,
      deleted: (id) => `Rule ${id} deleted.`,
      conflict: (v) => `Not saved: someone else changed this rule meanwhile (now version ${v ?? '—'}). Load the new version and edit again.`,
      reload: 'Load new version',
      refusedInvalid: 'Not saved: the configuration has problems (see the marked fields).',
      forbidden: (d) => `Not allowed: ${d}`,
      failed: (d) => `Failed: ${d}`,
      network: 'Cannot reach the server.',
      idRequired: 'enter a rule id',
      idPattern: 'lower case letters, digits and _ . - only (64 at most)',
      idExists: 'a rule with this id exists',
      stationIdRequired: 'enter a station id',
      stationIdPattern: 'letters, digits and _ . - only (64 at most)',
      stationIdExists: 'a station with this id exists',
      previewTitle: 'Preview on stored data',
      previewOver: 'Over',
      days7: 'last 7 days',
      days30: 'last 30 days',
      previewRun: 'Run preview',
      previewIdle: 'Run the edited rule over the stored history to see how many alerts it would have raised.',
      previewRunning: (d) => `Running over ${d} days of data…`,
      previewDone: (d, time) => `Preview over the last ${d} days (run at ${time}).`,
      previewStale: 'The rule changed since this preview — run it again to update.',
      previewFailed: (d) => `Preview failed: ${d}`,
      previewInvalid: 'Fix the rule\'s problems before running a preview.',
      previewCount: (n) => `${n}`,
      previewCountLabel: (n, d) => `alert${n === 1 ? '' : 's'} it would have raised in the last ${d} days`,
      previewFacts: (s, a, v, f) => `${a}/${s} stations alerted · ${v} values evaluated · ${f} flaps (re-alert soon after a clear)`,
      noStations: 'The rule applies to no station with data',
      chartStation: 'Chart of station',
      chartLoading: 'Loading readings…',
      chartNoData: (p) => `No ${p} readings of this station in the period`,
      chartDerived: (p) => `${p} is computed: there are no readings to plot`,
      chartNote: (n, w) => `${n} readings` + (w ? ` · raw readings; the rule looks at the ${w}` : ''),
      chartTruncated: (n) => ` · newest ${n} only`,
      chartError: (d) => `Cannot load readings: ${d}`,
      threshold: 'limit',
      clearLine: 'clear',
      ruleHistory: 'Changes of this rule',
      noHistory: 'No changes yet',
      rollback: 'Roll back',
      rollbackRemoves: 'Undo (remove)',
      rollbackTitle: 'Put back what this change replaced (recorded as a new change)',
      rolledBack: (id) => `Rolled back change #${id}.`,
      action_seed: 'seeded',
      action_create: 'created',
      action_update: 'updated',
      action_delete: 'deleted',
      action_rollback: 'rolled back',
      rollbackOf: (id) => `rollback of #${id}`,
      created: 'created',
      removed: 'removed',
      noChange: 'no change',
      window_instant: 'instant',
      window_mean: (w) => `${w} mean`,
      window_max: (w) => `${w} max`,
      clearAtShort: (v) => `clears ≤ ${v}`,
      clearAtShortBelow: (v) => `clears ≥ ${v}`,
      sev_critical: 'Critical',
      sev_warning: 'Warning',
      sev_info: 'Info',
      stationsTitle: 'Station registry',
      readOnly: 'Read only: administrators change stations',
      newStation: '+ New station',
      editStation: 'Edit station',
      viewStation: 'Station',
      newStationTitle: 'New station',
      stationSaved: (v, time) => `Saved at ${time} — version ${v}.`,
      stationDeleted: (id) => `Station ${id} deleted.`,
      fStationId: 'Station id',
      fKind: 'Kind',
      fOwner: 'Owner',
      fLat: 'Latitude',
      fLon: 'Longitude',
      fInterval: 'Reporting interval (s)',
      fParamSet: 'Parameter set',
      customParams: '(station\'s own parameters)',
      ownerState: 'State',
      kind_air: 'Air',
      kind_weather: 'Weather',
      kind_stack: 'Stack emissions',
      kind_wastewater: 'Wastewater',
      kind_groundwater: 'Groundwater',
      silencesTitle: 'Alert silences',
      fStation: 'Station',
      fRule: 'Rule',
      fUntil: 'Until (Vietnam time)',
      fReason: 'Reason',
      add: 'Add',
      remove: 'Remove',
      allStations: 'All stations',
      allRules: 'All rules',
      noSilences: 'No alerts are silenced',
      silenceAdded: 'Silence added.',
      silenceRemoved: 'Silence removed.',
      reasonRequired: 'Enter why the alerts are silenced.',
      endRequired: 'Pick when the silence ends.',
      historyTitle: 'Configuration changes',
      allKinds: 'All kinds',
      kindRule: 'Rule',
      kindStation: 'Station',
      kindEnterprise: 'Enterprise',
      kindParamSet: 'Parameter set',
      kind_rule: 'rule',
      kind_station: 'station',
      kind_enterprise: 'enterprise',
      kind_parameter_set: 'parameter set',
      kind_company: 'transport company',
      kind_vehicle: 'vehicle',
      kind_driver: 'driver',
      kind_zone: 'zone',
      kind_speed_limit: 'speed limits',
      kind_detector: 'anomaly / camera rule',
      kindDetector: 'Anomaly / camera rule',
      kindCompany: 'Transport company',
      kindVehicle: 'Vehicle',
      kindDriver: 'Driver',
      kindZone: 'Zone',
      kindSpeedLimit: 'Speed limits',
      tabFleet: 'Vehicles',
      fleetTitle: 'Transport registry',
      fleetReadOnly: 'Read only: administrators change these',
      fleetVehicles: 'Vehicles',
      fleetCompanies: 'Transport companies',
      fleetDrivers: 'Drivers',
      fleetZones: 'Zones (restricted, speed, depots, border gates)',
      fleetSpeedLimits: 'Speed limits by road class',
      newItem: '+ New',
      newItemTitle: (kind) => `New ${kind}`,
      deleteItem: 'Delete',
      itemDeleted: (key) => `${key} deleted.`,
      itemHistory: 'Change history',
      pickItem: 'Pick an item to see its details.',
      keyRequired: 'enter a key',
      keyExists: 'an item with this key exists',
      notJson: 'not valid JSON',
      colPlate: 'Plate',
      colType: 'Type',
      colCompany: 'Company',
      colDriver: 'Driver',
      colTypes: 'Types',
      colLicence: 'Licence no.',
      colZoneKind: 'Zone kind',
      colHours: 'Forbidden hours',
      colRoadClass: 'Road class',
      colLimits: 'Limits (km/h)',
      fPlate: 'Number plate (e.g. 49C-123.45)',
      fVehicleType: 'Vehicle type',
      fCompany: 'Transport company',
      fDriverLicence: 'Driving-licence number',
      fRoute: 'Route',
      fCompanyId: 'Company id',
      fTypes: 'Vehicle types (comma-separated)',
      fZoneId: 'Zone id',
      fZoneKind: 'Zone kind',
      fShape: 'Shape',
      fCentre: 'Centre [lat, lon]',
      fRadius: 'Radius (m)',
      fPolygon: 'Polygon [[lat, lon], …]',
      fForbiddenHours: 'Forbidden hours [[from, to], …] (local)',
      fZoneLimit: 'Speed limit inside (km/h)',
      fRoadClass: 'Road class',
      fLimits: 'km/h by vehicle type (JSON)',
      keyPlaceholder: 'Key (optional)',
      refresh: 'Refresh',
      auditTitle: 'Audit log',
      actorPlaceholder: 'User',
      actionPlaceholder: 'Action (e.g. login)',
      allOutcomes: 'Any outcome',
      noEntries: 'No entries',
      loading: 'Loading…',
      loadFailed: (d) => `Cannot load: ${d}`,
    },
  };

  // ---------------------------------------------------------------------------
  // 2. Helpers
  // ---------------------------------------------------------------------------

  const state = {
    lang: pickLang(LANG_STORAGE_KEY),
    me: null,
    canAdminister: false,
    canConfigure: false,
    tab: 'rules',
    rules: new Map(), // id -> {version, item}
    boardStations: [], // GET /api/v1/stations (names, units)
    configStations: new Map(), // id -> {version, item}
    enterprises: [],
    parameterSets: [],
    silences: [],
    history: [],
    audit: [],
  };

  const t = translator(I18N, () => state.lang);

  function clone(value) {
    return value == null ? value : JSON.parse(JSON.stringify(value));
  }

  /** JSON with sorted keys: to compare two items. */
  function canonical(value) {
    if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
    if (value && typeof value === 'object') {
      return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
    }
    return JSON.stringify(value);
  }

  function formatDayMonth(ms) {
    const p = zonedParts(ms);
    return `${p.day}/${p.month}`;
  }

  /** "YYYY-MM-DDTHH:mm" (datetime-local) of a time in Vietnam. */
  function localInputValue(ms) {
    const p = zonedParts(ms);
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }

  /** ISO 8601 with offset of a datetime-local value read as Vietnam time. */
  function isoFromLocalInput(value) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
    return `${value.length === 16 ? `${value}:00` : value}${VN_OFFSET}`;
  }

  /** As IOC.formatNumber, but with decimals up to 1000 (not 100). */
  function formatNumber(value) {
    return IOC.formatNumber(value, state.lang, { wholeFrom: 1000 });
  }

  function formatDuration(seconds) {
    const s = Math.round(Number(seconds) || 0);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  }

  function compact(value, max = 160) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (text == null) return '—';
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  }

  function toast(message, kind = 'info') {
    showToast(message, { ms: TOAST_MS, kind });
  }

  /** A same-origin JSON call: {ok, status, body}; never throws (status 0: network). A 401
   *  means the login ended: back to the login page. */
  function api(method, path, body) {
    return IOC.api(method, path, body, { networkError: t('network') });
  }

  /** Error text of a failed call, with its problems when they are strings. */
  function errorText(result) {
    const problems = Array.isArray(result.body.problems)
      ? result.body.problems.map((p) => (typeof p === 'string' ? p : (p.field ? `${p.field}: ${p.message}` : p.message)))
      : [];
    return [result.body.error, ...problems].filter(Boolean).join(' — ');
  }

  /** A button that asks for a second click before it acts. */
  function confirmButton(button, action) {
    let armed = null;
    button.addEventListener('click', async (event) => {
      event.stopPropagation();
      if (!armed) {
        button.dataset.label = button.textContent;
        button.textContent = t('confirm');
        button.dataset.armed = 'true';
        armed = setTimeout(() => {
          armed = null;
          button.textContent = button.dataset.label;
          delete button.dataset.armed;
        }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      button.textContent = button.dataset.label;
      delete button.dataset.armed;
      button.disabled = true;
      try {
        await action();
      } finally {
        button.disabled = false;
      }
    });
  }

  function setStatus(node, message, kind) {
    node.textContent = message;
    node.dataset.state = kind;
  }

  function severityLabel(severity) {
    return t(`sev_${['critical', 'warning', 'info'].includes(severity) ? severity : 'warning'}`);
  }

  function windowLabel(rule) {
    const w = rule.window || 'instant';
    if (w === 'instant') return t('window_instant');
    return rule.aggregate === 'max' ? t('window_max', w) : t('window_mean', w);
  }

  /** A rule's levels as the engine reads them (RuleConfig.levels). */
  function ruleLevels(rule) {
    const list = Array.isArray(rule.thresholds) && rule.thresholds.length ? rule.thresholds : [rule];
    return list.map((level) => {
      const above = finite(level.above);
      const below = finite(level.below);
      const direction = above != null ? 'above' : 'below';
      const value = above != null ? above : below;
      const clear = finite(level.clear_at);
      return { direction, value, clear: clear == null ? value : clear, severity: level.severity || 'warning' };
    }).filter((level) => level.value != null);
  }

  function levelsText(rule) {
    const severity = severityLabel(rule.severity);
    if (rule.above_licence) return `> ${rule.above_licence} · ${severity}`;
    if (finite(rule.above) != null && finite(rule.below) != null) {
      return `< ${formatNumber(rule.below)} | > ${formatNumber(rule.above)} · ${severity}`;
    }
    const levels = ruleLevels(rule);
    if (!levels.length) return '—';
    return levels.map((l) => {
      const sign = l.direction === 'above' ? '>' : '<';
      const clear = l.clear !== l.value
        ? ` (${l.direction === 'above' ? t('clearAtShort', formatNumber(l.clear)) : t('clearAtShortBelow', formatNumber(l.clear))})`
        : '';
      return `${sign} ${formatNumber(l.value)}${clear} · ${severityLabel(l.severity)}`;
    }).join(' | ');
  }

  function stationName(id) {
    const config = state.configStations.get(id)?.item;
    const board = state.boardStations.find((s) => s.id === id);
    return config?.name || board?.name || id;
  }

  /** "above: 100 → 40, clear_at: 80 → 35" between two versions of an item. */
  function diffText(oldItem, newItem) {
    if (!oldItem && !newItem) return '—';
    if (!oldItem) return `${t('created')}: ${compact(newItem, 200)}`;
    if (!newItem) return `${t('removed')}: ${compact(oldItem, 200)}`;
    const keys = [...new Set([...Object.keys(oldItem), ...Object.keys(newItem)])].sort();
    const parts = [];
    for (const k of keys) {
      const a = oldItem[k];
      const b = newItem[k];
      if (canonical(a) === canonical(b)) continue;
      parts.push(`${k}: ${a === undefined ? '∅' : compact(a, 60)} → ${b === undefined ? '∅' : compact(b, 60)}`);
    }
    return parts.length ? parts.join(', ') : t('noChange');
  }

  function actionText(change) {
    const label = t(`action_${change.action}`);
    return change.rollback_of ? `${label} (${t('rollbackOf', change.rollback_of)})` : label;
  }

  // ---------------------------------------------------------------------------
  // 3. Problems next to their fields
  // ---------------------------------------------------------------------------

  /** The field a problem is about: the server gives a path inside the item ("above",
   *  "thresholds.0.clear_at") or "" for the configuration as a whole. */
  function ruleProblemField(problem) {
    return problem.field || '';
  }

  /**
   * Show problems: those on a field with its own control under that control, those on other
   * fields (JSON) in `other`, the rest in `box`. Every field problem is a
   * [data-testid=field-error][data-field=<path>].
   */
  function renderProblems(form, problems, other, box, fieldOf) {
    for (const node of form.querySelectorAll('.field-error')) node.remove();
    for (const row of form.querySelectorAll('.form-row.has-error')) row.classList.remove('has-error');
    for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
    other.replaceChildren();
    box.replaceChildren();
    for (const problem of problems) {
      const path = fieldOf(problem);
      const message = String(problem.message || '');
      const top = path.split('.')[0];
      const row = path && !path.includes('.') ? form.querySelector(`[data-field-row="${CSS.escape(top)}"]`) : null;
      if (row) {
        row.classList.add('has-error');
        row.querySelector('[data-key]')?.setAttribute('aria-invalid', 'true');
        row.append(el('div', { class: 'field-error', 'data-testid': 'field-error', 'data-field': path, role: 'alert' }, message));
      } else if (path) {
        other.append(el('div', { class: 'field-error', 'data-testid': 'field-error', 'data-field': path },
          el('code', null, path), ': ', message));
      } else {
        box.append(el('div', { class: 'problem', 'data-testid': 'config-problem' }, message));
      }
    }
    other.hidden = !other.childElementCount;
    box.hidden = !box.childElementCount;
  }

  // ---------------------------------------------------------------------------
  // 4. Rules
  // ---------------------------------------------------------------------------

  /** The built-in anomaly and camera rules (console/detector-rules.js), under the rules. */
  let detectorRules = null;

  async function loadDetectorRules() {
    if (!detectorRules) {
      const module = await import('/static/console/detector-rules.js');
      detectorRules = detectorRules || module.createDetectorRules({
        api, el, toast, errorText, lang: () => state.lang, canEdit: () => state.canConfigure, onChange: renderSilenceOptions,
      });
    }
    await detectorRules.load();
  }

  const rules = {
    async load() {
      const result = await api('GET', '/api/v1/config/rules');
      if (!result.ok) {
        toast(t('loadFailed', errorText(result)), 'error');
        return;
      }
      state.rules = new Map(result.body.items.map((i) => [i.key, { version: i.version, item: i.item }]));
      this.render();
      renderSilenceOptions();
      await loadDetectorRules();
    },

    render() {
      const tbody = $('rule-tbody');
      const filter = $('rule-filter').value.trim().toLowerCase();
      const rows = [];
      for (const [id, { item, version }] of state.rules) {
        const text = `${id} ${item.name || ''} ${item.parameter || ''}`.toLowerCase();
        if (filter && !text.includes(filter)) continue;
        const edit = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'rule-edit' }, t('edit'));
        edit.addEventListener('click', (e) => { e.stopPropagation(); editor.open(id); });
        const row = el('tr', {
          'data-testid': 'rule-row',
          'data-rule-id': id,
          'data-version': version,
          class: editor.key === id ? 'is-selected' : null,
        },
        el('td', { class: 'mono' }, id),
        el('td', null, item.name || ''),
        el('td', { class: 'mono' }, item.parameter || ''),
        el('td', null, windowLabel(item)),
        el('td', { class: 'levels', 'data-testid': 'rule-levels' }, levelsText(item)),
        el('td', { class: 'actions' }, edit));
        row.addEventListener('click', () => editor.open(id));
        rows.push(row);
      }
      tbody.replaceChildren(...rows);
      $('rules-empty').hidden = state.rules.size > 0;
      const list = $('parameter-list');
      const known = new Set(DERIVED_PARAMETERS);
      for (const s of state.boardStations) for (const p of Object.keys(s.units || {})) known.add(p);
      for (const { item } of state.rules.values()) if (item.parameter) known.add(item.parameter);
      list.replaceChildren(...[...known].sort().map((p) => el('option', { value: p })));
    },
  };

  const editor = {
    key: null, // the rule being edited (null: none; for a new rule, null until saved)
    isNew: false,
    version: null,
    original: null,
    draft: null,
    problems: [],
    rawError: null,
    seq: 0, // validation requests sent
    checkedSeq: -1, // the request whose answer is shown
    timer: null,
    preview: null, // {days, startMs, endMs, result, draft}

    get form() { return $('rule-form'); },

    open(id) {
      const entry = state.rules.get(id);
      if (!entry) return;
      this.key = id;
      this.isNew = false;
      this.version = entry.version;
      this.original = clone(entry.item);
      this.draft = clone(entry.item);
      this.start();
    },

    openNew() {
      this.key = null;
      this.isNew = true;
      this.version = null;
      this.original = null;
      this.draft = { id: '', name: '', parameter: '', window: 'instant' };
      this.start();
      $('rule-field-id').focus();
    },

    start() {
      $('rule-editor').hidden = false;
      $('rule-editor-placeholder').hidden = true;
      $('rule-field-id').readOnly = !this.isNew;
      $('rule-delete').hidden = this.isNew;
      setStatus($('save-status'), '', 'idle');
      this.problems = [];
      this.rawError = null;
      this.preview = null;
      $('preview-result').hidden = true;
      setStatus($('preview-status'), t('previewIdle'), 'idle');
      this.fillForm();
      this.fillRaw();
      this.renderTitle();
      renderProblems(this.form, [], $('rule-other-errors'), $('rule-problems'), () => '');
      this.updateButtons();
      rules.render();
      this.loadHistory();
      if (this.isNew) this.setValidity('idle'); else this.validateSoon(0);
    },

    close() {
      this.key = null;
      this.isNew = false;
      this.draft = null;
      clearTimeout(this.timer);
      $('rule-editor').hidden = true;
      $('rule-editor-placeholder').hidden = false;
      rules.render();
    },

    renderTitle() {
      $('rule-editor-title').textContent = this.isNew ? t('newRuleTitle') : `${t('editRule')} ${this.key}`;
      $('rule-editor-version').textContent = this.version != null ? `(${t('version', this.version)})` : '';
      $('rule-editor').dataset.ruleId = this.key || '';
    },

    dirty() {
      return this.isNew || canonical(this.draft) !== canonical(this.original);
    },

    fillForm() {
      const d = this.draft;
      for (const input of this.form.querySelectorAll('[data-key]')) {
        const key = input.dataset.key;
        let value = d[key];
        if (key === 'window' && value == null) value = 'instant';
        input.value = value == null ? '' : String(value);
      }
      const multi = Array.isArray(d.thresholds) && d.thresholds.length > 0;
      for (const key of RULE_SIMPLE_FIELDS) $(`rule-field-${key}`).disabled = multi;
      for (const row of this.form.querySelectorAll('.simple-only')) row.classList.toggle('is-disabled', multi);
      $('multi-note').hidden = !multi;
      if (multi) $('rule-raw-details').open = true;
    },

    fillRaw() {
      $('rule-raw').value = JSON.stringify(this.draft, null, 2);
      this.rawError = null;
      $('rule-raw-error').hidden = true;
    },

    /** A form control changed: the draft follows. */
    fromControl(input) {
      const key = input.dataset.key;
      const raw = input.value;
      if (input.type === 'number') {
        if (raw === '') delete this.draft[key];
        else this.draft[key] = Number(raw);
      } else if (input.tagName === 'SELECT' && raw === '') {
        delete this.draft[key];
      } else if (key === 'window' && raw === 'instant' && this.original && this.original.window == null) {
        delete this.draft[key]; // the default, as the rule was stored
      } else {
        this.draft[key] = raw;
      }
      this.fillRaw();
      this.changed();
    },

    /** The raw JSON changed: the draft (and the form) follow when it parses. */
    fromRaw() {
      const box = $('rule-raw-error');
      let parsed;
      let problem = null;
      try {
        parsed = JSON.parse($('rule-raw').value);
        if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) problem = t('rawNotObject');
      } catch (exc) {
        problem = t('rawInvalid', exc.message);
      }
      this.rawError = problem;
      if (problem) {
        box.textContent = problem;
        box.hidden = false;
        clearTimeout(this.timer);
        this.seq += 1; // an answer still under way no longer applies
        this.setValidity('invalid', 1);
        this.updateButtons();
        return;
      }
      box.hidden = true;
      if (!this.isNew && parsed.id == null) parsed.id = this.key;
      this.draft = parsed;
      this.fillForm();
      this.changed();
    },

    changed() {
      this.markPreviewStale();
      setStatus($('save-status'), this.dirty() ? t('unsaved') : '', this.dirty() ? 'dirty' : 'idle');
      this.validateSoon(VALIDATE_DEBOUNCE_MS);
    },

    validateSoon(delay) {
      clearTimeout(this.timer);
      this.setValidity('checking');
      this.updateButtons();
      this.timer = setTimeout(() => this.validate(), delay);
    },

    localProblems() {
      const d = this.draft;
      const problems = [];
      if (this.isNew) {
        const id = typeof d.id === 'string' ? d.id : '';
        if (!id) problems.push({ field: 'id', message: t('idRequired') });
        else if (!RULE_ID.test(id)) problems.push({ field: 'id', message: t('idPattern') });
        else if (state.rules.has(id)) problems.push({ field: 'id', message: t('idExists') });
      }
      return problems;
    },

    /** Dry-run PUT: the server's own checks, shown next to the fields. */
    async validate() {
      clearTimeout(this.timer);
      if (!this.draft || this.rawError) return this.problems;
      const seq = ++this.seq;
      const local = this.localProblems();
      if (local.length) {
        this.showProblems(local, seq);
        return local;
      }
      const id = this.isNew ? this.draft.id : this.key;
      const result = await api('PUT', `/api/v1/config/rules/${encodeURIComponent(id)}?dry_run=1`, { item: this.draft });
      if (seq !== this.seq) return null; // a newer check is under way
      let problems = [];
      if (!result.ok) {
        problems = Array.isArray(result.body.problems) && result.body.problems.length
          ? result.body.problems
          : [{ field: '', message: result.body.error }];
      }
      this.showProblems(problems, seq);
      return problems;
    },

    showProblems(problems, seq) {
      this.problems = problems;
      this.checkedSeq = seq;
      const id = this.isNew ? this.draft.id : this.key;
      renderProblems(this.form, problems, $('rule-other-errors'), $('rule-problems'),
        (p) => ruleProblemField(p));
      if (problems.some((p) => /^(thresholds|area|kinds|stations|owners)/.test(ruleProblemField(p)))) {
        $('rule-raw-details').open = true;
      }
      this.setValidity(problems.length ? 'invalid' : 'valid', problems.length);
      this.updateButtons();
    },

    setValidity(kind, count) {
      const node = $('rule-validity');
      node.dataset.state = kind;
      node.textContent = kind === 'checking' ? t('validChecking')
        : kind === 'valid' ? t('validOk')
          : kind === 'invalid' ? t('validBad', count || 1) : '';
      $('rule-editor').dataset.valid = kind;
    },

    updateButtons() {
      const known = this.checkedSeq === this.seq && !this.rawError;
      const invalid = Boolean(this.rawError) || (known && this.problems.length > 0);
      const save = $('rule-save');
      save.disabled = !this.draft || invalid || !this.dirty();
      save.dataset.refused = invalid ? 'true' : 'false';
      $('preview-run').disabled = !this.draft || invalid;
    },

    async save() {
      if (!this.draft) return;
      const problems = await this.validate();
      if (problems === null) return; // superseded by a newer edit
      if (this.rawError || problems.length) {
        setStatus($('save-status'), t('refusedInvalid'), 'invalid');
        return;
      }
      const id = this.isNew ? this.draft.id : this.key;
      const body = { item: this.draft };
      body.version = this.isNew ? 0 : this.version;  // 0: the rule must not exist yet
      setStatus($('save-status'), t('saving'), 'saving');
      $('rule-save').disabled = true;
      const result = await api('PUT', `/api/v1/config/rules/${encodeURIComponent(id)}`, body);
      if (result.ok) {
        const change = result.body;
        state.rules.set(id, { version: change.id, item: change.new });
        this.key = id;
        this.isNew = false;
        this.version = change.id;
        this.original = clone(change.new);
        this.draft = clone(change.new);
        $('rule-field-id').readOnly = true;
        $('rule-delete').hidden = false;
        this.fillForm();
        this.fillRaw();
        this.renderTitle();
        setStatus($('save-status'), t('saved', change.id, formatClock(Date.now())), 'ok');
        this.updateButtons();
        rules.render();
        renderSilenceOptions();
        this.loadHistory();
        return;
      }
      this.answerRefusal(result, $('save-status'));
      this.updateButtons();
    },

    answerRefusal(result, statusNode) {
      if (result.status === 409) {
        const current = result.body.current_version;
        statusNode.replaceChildren();
        statusNode.dataset.state = 'conflict';
        const reload = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'conflict-reload' }, t('reload'));
        reload.addEventListener('click', () => this.reloadCurrent());
        statusNode.append(el('span', { 'data-testid': 'conflict-message' }, t('conflict', current)), ' ', reload);
      } else if (result.status === 400 && Array.isArray(result.body.problems)) {
        this.showProblems(result.body.problems, this.seq);
        setStatus(statusNode, t('refusedInvalid'), 'invalid');
      } else if (result.status === 403) {
        setStatus(statusNode, t('forbidden', result.body.error), 'error');
      } else {
        setStatus(statusNode, t('failed', errorText(result)), 'error');
      }
    },

    /** After a conflict: the rule as it is now (the edits are dropped). */
    async reloadCurrent() {
      const id = this.key;
      await rules.load();
      if (id && state.rules.has(id)) this.open(id); else this.close();
    },

    async remove() {
      if (this.isNew || !this.key) return;
      const id = this.key;
      const version = this.version != null ? `?version=${this.version}` : '';
      const result = await api('DELETE', `/api/v1/config/rules/${encodeURIComponent(id)}${version}`);
      if (result.ok) {
        state.rules.delete(id);
        this.close();
        toast(t('deleted', id), 'ok');
        rules.load();
        return;
      }
      this.answerRefusal(result, $('save-status'));
    },

    revert() {
      if (this.isNew) { this.close(); return; }
      this.draft = clone(this.original);
      this.fillForm();
      this.fillRaw();
      this.changed();
    },

    // --- history ----------------------------------------------------------------------

    async loadHistory() {
      const tbody = $('rule-history-tbody');
      if (this.isNew || !this.key) {
        tbody.replaceChildren(el('tr', null, el('td', { colspan: 5, class: 'muted' }, t('noHistory'))));
        return;
      }
      const key = this.key;
      const result = await api('GET', `/api/v1/config/history?kind=rule&key=${encodeURIComponent(key)}&limit=50`);
      if (key !== this.key) return;
      if (!result.ok) {
        tbody.replaceChildren(el('tr', null, el('td', { colspan: 5, class: 'muted' }, t('loadFailed', errorText(result)))));
        return;
      }
      const changes = result.body.changes;
      if (!changes.length) {
        tbody.replaceChildren(el('tr', null, el('td', { colspan: 5, class: 'muted' }, t('noHistory'))));
        return;
      }
      tbody.replaceChildren(...changes.map((c) => historyRow(c, { compact: true, after: () => this.afterRollback() })));
    },

    async afterRollback() {
      const id = this.key;
      await rules.load();
      if (id && state.rules.has(id)) this.open(id); else this.close();
    },

    // --- preview ----------------------------------------------------------------------

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

  /** The parameter of one station over the preview period, with the rule's levels as
   *  horizontal lines and the alerts the preview raised as dots. Plain SVG. */
  function drawChart(preview, points, truncated) {
    const svg = $('preview-chart');
    const W = 760;
    const H = 260;
    const pad = { left: 56, right: 70, top: 14, bottom: 28 };
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.replaceChildren();
    const rule = preview.draft;
    const levels = ruleLevels(rule);
    const station = preview.station;
    const events = (preview.events || []).filter((e) => e.station_id === station && e.firing);
    const x0 = preview.startMs;
    const x1 = preview.endMs;
    let lo = Infinity;
    let hi = -Infinity;
    for (const [, v] of points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (const l of levels) { lo = Math.min(lo, l.value, l.clear); hi = Math.max(hi, l.value, l.clear); }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (lo >= 0 && lo < hi * 0.5) lo = 0;
    if (hi === lo) { hi += 1; lo -= 1; }
    const span = hi - lo;
    hi += span * 0.08;
    if (lo !== 0) lo -= span * 0.05;
    const xs = (ms) => pad.left + ((ms - x0) / (x1 - x0)) * (W - pad.left - pad.right);
    const ys = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (H - pad.top - pad.bottom);

    // Grid and axes.
    const grid = svgEl('g', { class: 'chart-grid' });
    for (const v of niceTicks(lo, hi, 5)) {
      const y = ys(v);
      grid.append(svgEl('line', { x1: pad.left, x2: W - pad.right, y1: y, y2: y }));
      grid.append(svgEl('text', { x: pad.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, formatNumber(v)));
    }
    const dayStep = (x1 - x0) > 10 * DAY_MS ? 5 : 1;
    const firstMidnight = localMidnightAfter(x0);
    for (let ms = firstMidnight, i = 0; ms < x1; ms += DAY_MS, i += 1) {
      if (i % dayStep) continue;
      const x = xs(ms);
      grid.append(svgEl('line', { x1: x, x2: x, y1: pad.top, y2: H - pad.bottom, class: 'day' }));
      grid.append(svgEl('text', { x, y: H - 8, 'text-anchor': 'middle', class: 'tick' }, formatDayMonth(ms)));
    }
    svg.append(grid);

    // The values: one path, broken where data is missing for more than 6 hours.
    if (points.length) {
      let d = '';
      let last = null;
      for (const [ms, v] of points) {
        const cmd = last == null || ms - last > 6 * 3600 * 1000 ? 'M' : 'L';
        d += `${cmd}${xs(ms).toFixed(1)},${ys(v).toFixed(1)}`;
        last = ms;
      }
      svg.append(svgEl('path', { d, class: 'series', 'data-testid': 'preview-series', 'data-points': points.length }));
      if (points.length < 60) {
        const dots = svgEl('g', { class: 'series-dots' });
        for (const [ms, v] of points) dots.append(svgEl('circle', { cx: xs(ms), cy: ys(v), r: 2.2 }));
        svg.append(dots);
      }
    }

    // The rule's levels.
    for (const l of levels) {
      const y = ys(l.value);
      svg.append(svgEl('line', {
        x1: pad.left, x2: W - pad.right, y1: y, y2: y,
        class: `threshold sev-${l.severity}`,
        'data-testid': 'preview-threshold',
        'data-value': l.value,
      }));
      svg.append(svgEl('text', { x: W - pad.right + 4, y: y + 4, class: `threshold-label sev-${l.severity}` },
        `${t('threshold')} ${formatNumber(l.value)}`));
      if (l.clear !== l.value) {
        const yc = ys(l.clear);
        svg.append(svgEl('line', {
          x1: pad.left, x2: W - pad.right, y1: yc, y2: yc,
          class: 'clear-line', 'data-testid': 'preview-clear', 'data-value': l.clear,
        }));
        svg.append(svgEl('text', { x: W - pad.right + 4, y: yc + 4, class: 'clear-label' }, `${t('clearLine')} ${formatNumber(l.clear)}`));
      }
    }

    // Where the rule would have fired.
    const marks = svgEl('g', { class: 'events' });
    for (const e of events) {
      const ms = parseTime(e.time);
      const v = finite(e.value);
      if (ms == null || v == null || ms < x0 || ms > x1) continue;
      marks.append(svgEl('circle', {
        cx: xs(ms), cy: ys(Math.min(Math.max(v, lo), hi)), r: 4,
        class: `event sev-${e.severity}`, 'data-testid': 'preview-event',
      }));
    }
    svg.append(marks);
    svg.append(svgEl('rect', { x: pad.left, y: pad.top, width: W - pad.left - pad.right, height: H - pad.top - pad.bottom, class: 'frame' }));
    svg.dataset.station = station || '';
    svg.dataset.points = String(points.length);

    const windowed = rule.window && rule.window !== 'instant' ? windowLabel(rule) : '';
    $('chart-note').textContent = t('chartNote', points.length, windowed) + (truncated ? t('chartTruncated', READINGS_LIMIT) : '');
    const message = $('chart-message');
    message.hidden = points.length > 0 || !station;
    if (!points.length) message.textContent = t('chartNoData', rule.parameter);
  }

  function niceTicks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => raw <= s) || raw;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
    return ticks;
  }

  /** The first midnight in Vietnam (UTC+7, no DST) at or after ms. */
  function localMidnightAfter(ms) {
    const offset = 7 * 3600 * 1000;
    return Math.ceil((ms + offset) / DAY_MS) * DAY_MS - offset;
  }

  /** A row of configuration history (rules editor and History tab). */
  function historyRow(change, { compact: short = false, after } = {}) {
    const may = OFFICER_KINDS.has(change.kind) ? state.canConfigure : state.canAdminister;
    const cells = [];
    if (!short) cells.push(el('td', { class: 'mono muted' }, `#${change.id}`));
    cells.push(el('td', { class: 'mono nowrap' }, formatDateTime(change.time)));
    cells.push(el('td', null, change.actor));
    if (!short) {
      cells.push(el('td', null, t(`kind_${change.kind}`)));
      cells.push(el('td', { class: 'mono' }, change.key));
    }
    cells.push(el('td', { 'data-testid': 'history-action' }, actionText(change)));
    cells.push(el('td', { class: 'diff mono', 'data-testid': 'history-diff' }, diffText(change.old, change.new)));
    const actions = el('td', { class: 'actions' });
    if (may) {
      const button = el('button', {
        type: 'button',
        class: 'ghost small',
        'data-testid': 'history-rollback',
        'data-change-id': change.id,
        title: t('rollbackTitle'),
      }, change.old == null ? t('rollbackRemoves') : t('rollback'));
      confirmButton(button, async () => {
        const result = await api('POST', `/api/v1/config/history/${change.id}/rollback`);
        if (result.ok) {
          toast(t('rolledBack', change.id), 'ok');
          if (after) await after(result.body);
        } else {
          toast(t('failed', errorText(result)), 'error');
        }
      });
      actions.append(button);
    }
    cells.push(actions);
    return el('tr', { 'data-testid': 'history-row', 'data-change-id': change.id, 'data-kind': change.kind, 'data-key': change.key }, ...cells);
  }

  function initRules() {
    $('rule-new').addEventListener('click', () => editor.openNew());
    $('rule-close').addEventListener('click', () => editor.close());
    $('rule-filter').addEventListener('input', () => rules.render());
    const form = $('rule-form');
    form.addEventListener('submit', (e) => e.preventDefault());
    for (const input of form.querySelectorAll('[data-key]')) {
      input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
        if (editor.draft) editor.fromControl(input);
      });
    }
    $('rule-raw').addEventListener('input', () => { if (editor.draft) editor.fromRaw(); });
    $('rule-save').addEventListener('click', () => editor.save());
    $('rule-revert').addEventListener('click', () => editor.revert());
    confirmButton($('rule-delete'), () => editor.remove());
    $('preview-run').addEventListener('click', () => editor.runPreview());
    $('preview-station-select').addEventListener('change', () => editor.loadChart());
  }

  // ---------------------------------------------------------------------------
  // 5. Stations registry
  // ---------------------------------------------------------------------------

  /** The item editor of a registry kind (stations, and the transport registry's kinds):
   *  validation as one types (?dry_run=1, problems next to their fields), save with the
   *  version read (409: reload), delete. ``spec``: prefix of the editor's element ids
   *  (``${prefix}-save``, ``-status``, ``-problems``, ``-delete``, ``-editor``, ``-form``),
   *  path() of the kind's routes, items() its Map, canEdit(), keyOf(draft) for a new item,
   *  localProblems(draft, items) of a new item, inputProblems() (optional: controls that
   *  cannot be read), savedText(version), deletedText(key), and the list's
   *  load() and open(key) of the object it is merged into. */
  function registryEditor(spec) {
    const id = (suffix) => $(`${spec.prefix}-${suffix}`);
    return {
      key: null,
      isNew: false,
      version: null,
      original: null,
      draft: null,
      problems: [],
      seq: 0,
      checkedSeq: -1,
      timer: null,

      get form() { return id('form'); },

      close() {
        this.key = null;
        this.draft = null;
        id('editor').hidden = true;
        id('editor-placeholder').hidden = false;
        this.render();
      },

      dirty() {
        return this.isNew || canonical(this.draft) !== canonical(this.original);
      },

      /** After a change of the draft: status, and a validation once typing pauses. */
      changed() {
        setStatus(id('status'), this.dirty() ? t('unsaved') : '', this.dirty() ? 'dirty' : 'idle');
        clearTimeout(this.timer);
        this.seq += 1; // results of older checks no longer apply
        this.updateButtons();
        this.timer = setTimeout(() => this.validate(), VALIDATE_DEBOUNCE_MS);
      },

      itemKey() {
        return this.isNew ? spec.keyOf(this.draft) : this.key;
      },

      async validate() {
        clearTimeout(this.timer);
        if (!this.draft || !spec.canEdit()) return [];
        const seq = ++this.seq;
        let problems = spec.inputProblems ? spec.inputProblems() : [];
        if (!problems.length && this.isNew) problems = spec.localProblems(this.draft, spec.items());
        if (!problems.length) {
          const key = this.itemKey();
          const result = await api('PUT', `${spec.path()}/${encodeURIComponent(key)}?dry_run=1`, { item: this.draft });
          if (seq !== this.seq) return null;
          if (!result.ok) {
            problems = Array.isArray(result.body.problems) && result.body.problems.length
              ? result.body.problems : [{ field: '', message: result.body.error }];
          }
        }
        this.show(problems, seq);
        return problems;
      },

      show(problems, seq) {
        this.problems = problems;
        this.checkedSeq = seq;
        const box = id('problems');
        const shown = problems.map((p) => ({ field: p.field || '', message: p.message }));
        renderProblems(this.form, shown, box, box, (p) => p.field);
        this.updateButtons();
      },

      updateButtons() {
        const known = this.checkedSeq === this.seq;
        id('save').disabled = !this.draft || !spec.canEdit() || !this.dirty()
          || (known && this.problems.length > 0);
      },

      async save() {
        const problems = await this.validate();
        if (problems === null) return;
        if (problems.length) {
          setStatus(id('status'), t('refusedInvalid'), 'invalid');
          return;
        }
        const key = this.itemKey();
        const body = { item: this.draft };
        if (!this.isNew && this.version != null) body.version = this.version;
        setStatus(id('status'), t('saving'), 'saving');
        const result = await api('PUT', `${spec.path()}/${encodeURIComponent(key)}`, body);
        if (result.ok) {
          spec.items().set(key, { version: result.body.id, item: result.body.new });
          this.open(key);
          setStatus(id('status'), spec.savedText(result.body.id, formatClock(Date.now())), 'ok');
          this.load();
          return;
        }
        this.refused(result);
      },

      refused(result) {
        const status = id('status');
        if (result.status === 409) {
          status.replaceChildren();
          status.dataset.state = 'conflict';
          const reload = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'conflict-reload' }, t('reload'));
          reload.addEventListener('click', async () => {
            const key = this.key;
            await this.load();
            if (key && spec.items().has(key)) this.open(key); else this.close();
          });
          status.append(el('span', null, t('conflict', result.body.current_version)), ' ', reload);
        } else if (result.status === 400 && Array.isArray(result.body.problems)) {
          this.show(result.body.problems, this.seq);
          setStatus(status, t('refusedInvalid'), 'invalid');
        } else if (result.status === 403) {
          setStatus(status, t('forbidden', result.body.error), 'error');
        } else {
          setStatus(status, t('failed', errorText(result)), 'error');
        }
      },

      async remove() {
        if (this.isNew || !this.key) return;
        const key = this.key;
        const version = this.version != null ? `?version=${this.version}` : '';
        const result = await api('DELETE', `${spec.path()}/${encodeURIComponent(key)}${version}`);
        if (result.ok) {
          this.close();
          toast(spec.deletedText(key), 'ok');
          this.load();
          return;
        }
        this.refused(result);
      },
    };
  }

  const stations = Object.assign(registryEditor({
    prefix: 'station',
    path: () => '/api/v1/config/stations',
    items: () => state.configStations,
    canEdit: () => state.canAdminister,
    keyOf: (draft) => draft.id,
    localProblems(draft, items) {
      const id = draft.id || '';
      if (!id) return [{ field: 'id', message: t('stationIdRequired') }];
      if (!STATION_ID.test(id)) return [{ field: 'id', message: t('stationIdPattern') }];
      if (items.has(id)) return [{ field: 'id', message: t('stationIdExists') }];
      return [];
    },
    savedText: (version, time) => t('stationSaved', version, time),
    deletedText: (id) => t('stationDeleted', id),
  }), {
    async load() {
      const [list, enterprises, sets] = await Promise.all([
        api('GET', '/api/v1/config/stations'),
        api('GET', '/api/v1/config/enterprises'),
        api('GET', '/api/v1/config/parameter-sets'),
      ]);
      if (!list.ok) {
        toast(t('loadFailed', errorText(list)), 'error');
        return;
      }
      state.configStations = new Map(list.body.items.map((i) => [i.key, { version: i.version, item: i.item }]));
      if (enterprises.ok) state.enterprises = enterprises.body.items.map((i) => i.item);
      if (sets.ok) state.parameterSets = sets.body.items.map((i) => i.key);
      this.render();
      renderSilenceOptions();
    },

    render() {
      const admin = state.canAdminister;
      $('station-readonly').hidden = admin;
      $('station-new').hidden = !admin;
      const rows = [];
      for (const [id, { item, version }] of state.configStations) {
        const button = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'station-edit' }, admin ? t('edit') : t('view'));
        button.addEventListener('click', (e) => { e.stopPropagation(); this.open(id); });
        const row = el('tr', {
          'data-testid': 'station-row',
          'data-station-id': id,
          'data-version': version,
          class: this.key === id ? 'is-selected' : null,
        },
        el('td', { class: 'mono' }, id),
        el('td', null, item.name || ''),
        el('td', null, t(`kind_${item.kind}`)),
        el('td', null, ownerLabel(item.owner)),
        el('td', { class: 'num mono' }, formatCoord(item.lat)),
        el('td', { class: 'num mono' }, formatCoord(item.lon)),
        el('td', { class: 'num mono' }, item.interval_s ?? 300),
        el('td', { class: 'actions' }, button));
        row.addEventListener('click', () => this.open(id));
        rows.push(row);
      }
      $('station-tbody').replaceChildren(...rows);
    },

    fillSelects() {
      const owner = $('station-field-owner');
      owner.replaceChildren(el('option', { value: 'state' }, t('ownerState')),
        ...state.enterprises.map((e) => el('option', { value: e.id }, `${e.id} — ${e.name || ''}`)));
      const sets = $('station-field-parameters');
      const options = state.parameterSets.map((name) => el('option', { value: name }, name));
      const custom = this.draft && typeof this.draft.parameters === 'object' && this.draft.parameters !== null;
      if (custom) options.unshift(el('option', { value: '__custom__' }, t('customParams')));
      sets.replaceChildren(...options);
    },

    open(id) {
      const entry = state.configStations.get(id);
      if (!entry) return;
      this.key = id;
      this.isNew = false;
      this.version = entry.version;
      this.original = clone(entry.item);
      this.draft = clone(entry.item);
      this.start();
    },

    openNew() {
      this.key = null;
      this.isNew = true;
      this.version = null;
      this.original = null;
      this.draft = { id: '', name: '', kind: 'air', parameters: state.parameterSets[0] || '' };
      this.start();
    },

    start() {
      const admin = state.canAdminister;
      $('station-editor').hidden = false;
      $('station-editor-placeholder').hidden = true;
      $('station-editor-title').textContent = this.isNew ? t('newStationTitle')
        : `${admin ? t('editStation') : t('viewStation')} ${this.key}`;
      $('station-editor-version').textContent = this.version != null ? `(${t('version', this.version)})` : '';
      $('station-editor').dataset.stationId = this.key || '';
      this.fillSelects();
      for (const input of this.form.querySelectorAll('[data-key]')) {
        const key = input.dataset.key;
        let value = this.draft[key];
        if (key === 'owner' && value == null) value = 'state';
        if (key === 'parameters' && value && typeof value === 'object') value = '__custom__';
        input.value = value == null ? '' : String(value);
        input.disabled = !admin || (key === 'parameters' && input.value === '__custom__');
      }
      $('station-field-id').readOnly = !this.isNew;
      $('station-save').hidden = !admin;
      $('station-delete').hidden = !admin || this.isNew;
      setStatus($('station-status'), '', 'idle');
      renderProblems(this.form, [], $('station-problems'), $('station-problems'), () => '');
      this.problems = [];
      this.updateButtons();
      this.render();
    },

    fromControl(input) {
      const key = input.dataset.key;
      const raw = input.value;
      if (input.type === 'number') {
        if (raw === '') delete this.draft[key]; else this.draft[key] = Number(raw);
      } else if (key === 'owner' && raw === 'state' && this.original && this.original.owner == null) {
        delete this.draft.owner;
      } else if (key === 'parameters' && raw === '__custom__') {
        this.draft.parameters = clone(this.original?.parameters);
      } else {
        this.draft[key] = raw;
      }
      this.changed();
    },
  });

  function ownerLabel(owner) {
    if (!owner || owner === 'state') return t('ownerState');
    return owner;
  }

  function formatCoord(value) {
    const num = finite(value);
    return num == null ? '—' : num.toFixed(4);
  }

  function initStations() {
    $('station-new').addEventListener('click', () => stations.openNew());
    $('station-close').addEventListener('click', () => stations.close());
    const form = $('station-form');
    form.addEventListener('submit', (e) => e.preventDefault());
    for (const input of form.querySelectorAll('[data-key]')) {
      input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
        if (stations.draft && state.canAdminister) stations.fromControl(input);
      });
    }
    $('station-save').addEventListener('click', () => stations.save());
    confirmButton($('station-delete'), () => stations.remove());
  }


  // ---------------------------------------------------------------------------
  // 5b. Transport registry (companies, vehicles, drivers, zones, speed limits): the kinds'
  //     fields are in console/fleet-kinds.js; the editor is the stations' registryEditor.
  // ---------------------------------------------------------------------------

  /** Kinds officers change (the others: admins), as web/access.py CONFIG_WRITERS. */
  const OFFICER_KINDS = new Set(['rule', 'vehicle', 'driver', 'zone', 'speed_limit']);
  let fleetKinds = null; // the module, imported when the tab first opens

  const fleet = Object.assign(registryEditor({
    prefix: 'fleet',
    path: () => `/api/v1/config/${fleet.kind.path}`,
    items: () => fleet.items,
    canEdit: () => Boolean(fleet.kind) && (fleet.kind.admin ? state.canAdminister : state.canConfigure),
    keyOf: (draft) => fleet.kind.keyOf(draft, fleet.newKey),
    localProblems(draft, items) {
      const key = fleet.kind.keyOf(draft, fleet.newKey) || '';
      const field = fleet.kind.keyField || '__key';
      if (!key) return [{ field, message: t('keyRequired') }];
      if (items.has(key)) return [{ field, message: t('keyExists') }];
      return [];
    },
    inputProblems: () => [...fleet.badJson].map((field) => ({ field: field === '__body' ? '' : field, message: t('notJson') })),
    savedText: (version, time) => t('stationSaved', version, time),
    deletedText: (key) => t('itemDeleted', key),
  }), {
    kind: null,
    items: new Map(), // key -> {version, item} of the kind shown
    companies: [],
    newKey: '',
    badJson: new Set(), // fields whose text is not JSON (not sent)

    async load() {
      if (!fleetKinds) {
        fleetKinds = await import('/static/console/fleet-kinds.js');
        const select = $('fleet-kind');
        select.replaceChildren(...fleetKinds.FLEET_KINDS.map((k) => el('option', { value: k.kind }, t(k.label))));
        this.kind = fleetKinds.FLEET_KINDS[0];
      }
      const [list, companies] = await Promise.all([
        api('GET', `/api/v1/config/${this.kind.path}`),
        api('GET', '/api/v1/config/companies'),
      ]);
      if (!list.ok) {
        toast(t('loadFailed', errorText(list)), 'error');
        return;
      }
      this.items = new Map(list.body.items.map((i) => [i.key, { version: i.version, item: i.item }]));
      if (companies.ok) this.companies = companies.body.items.map((i) => i.item);
      this.render();
    },

    async switchKind(kind) {
      this.kind = fleetKinds.FLEET_KINDS.find((k) => k.kind === kind);
      this.close();
      await this.load();
    },

    render() {
      if (!this.kind) return;
      for (const option of $('fleet-kind').options) {
        option.textContent = t(fleetKinds.FLEET_KINDS.find((k) => k.kind === option.value).label);
      }
      $('fleet-kind').value = this.kind.kind;
      const may = this.canEditKind();
      $('fleet-readonly').hidden = may;
      $('fleet-new').hidden = !may;
      $('fleet-head').replaceChildren(...this.kind.columns.map(([label]) => el('th', null, t(label))), el('th'));
      const rows = [];
      for (const [key, { item, version }] of this.items) {
        const button = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'fleet-edit' }, may ? t('edit') : t('view'));
        button.addEventListener('click', (e) => { e.stopPropagation(); this.open(key); });
        const row = el('tr', {
          'data-testid': 'fleet-row',
          'data-kind': this.kind.kind,
          'data-key': key,
          'data-version': version,
          class: this.key === key ? 'is-selected' : null,
        }, ...this.kind.columns.map(([, cell], n) => el('td', { class: n === 0 ? 'mono' : null }, cell(key, item) ?? '')),
        el('td', { class: 'actions' }, button));
        row.addEventListener('click', () => this.open(key));
        rows.push(row);
      }
      $('fleet-tbody').replaceChildren(...rows);
    },

    canEditKind() {
      return Boolean(this.kind) && (this.kind.admin ? state.canAdminister : state.canConfigure);
    },

    open(key) {
      const entry = this.items.get(key);
      if (!entry) return;
      this.key = key;
      this.isNew = false;
      this.version = entry.version;
      this.original = clone(entry.item);
      this.draft = clone(entry.item);
      this.start();
      this.loadHistory();
    },

    openNew() {
      this.key = null;
      this.isNew = true;
      this.version = null;
      this.original = null;
      this.newKey = '';
      this.draft = this.kind.blank();
      if (this.draft.company === '' && this.companies.length) this.draft.company = this.companies[0].id;
      this.start();
      $('fleet-history-tbody').replaceChildren();
    },

    start() {
      const may = this.canEditKind();
      $('fleet-editor').hidden = false;
      $('fleet-editor-placeholder').hidden = true;
      $('fleet-editor-title').textContent = this.isNew ? t('newItemTitle', t(`kind_${this.kind.kind}`))
        : `${t(`kind_${this.kind.kind}`)} ${this.key}`;
      $('fleet-editor-version').textContent = this.version != null ? `(${t('version', this.version)})` : '';
      $('fleet-editor').dataset.kind = this.kind.kind;
      $('fleet-editor').dataset.key = this.key || '';
      this.badJson.clear();
      const rows = this.kind.fields.map((field) => this.fieldRow(field, may));
      this.form.replaceChildren(...rows);
      fleetKinds.decorateForm?.(this.kind, this.form, may); // the zone's "Draw on map"
      $('fleet-save').hidden = !may;
      $('fleet-delete').hidden = !may || this.isNew;
      setStatus($('fleet-status'), '', 'idle');
      renderProblems(this.form, [], $('fleet-problems'), $('fleet-problems'), () => '');
      this.problems = [];
      this.updateButtons();
      this.render();
    },

    fieldRow(field, may) {
      const id = `fleet-field-${field.key}`;
      let value = field.key === '__body' ? this.draft : this.draft[field.key];
      if (field.key === '__key') value = this.isNew ? this.newKey : this.key;
      let input;
      if (field.type === 'select') {
        const options = field.options === 'companies' ? this.companies.map((c) => c.id) : field.options;
        input = el('select', { id }, ...options.map((o) => el('option', { value: o }, o)));
      } else if (field.type === 'json') {
        input = el('textarea', { id, rows: 3, class: 'mono', spellcheck: 'false' });
      } else {
        input = el('input', { id, class: 'mono', ...(field.type === 'number' ? { type: 'number', step: 'any' } : {}) });
      }
      input.dataset.key = field.key;
      input.dataset.testid = id;
      input.value = fleetKinds.toInput(field, value);
      if (field.key === '__key' && this.isNew && !this.newKey) this.newKey = input.value;
      input.disabled = !may || (field.keyField && !this.isNew);
      input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
        if (this.draft && this.canEditKind()) this.fromControl(field, input);
      });
      return el('div', { class: 'form-row', 'data-field-row': field.key === '__body' ? '' : field.key },
        el('label', { for: id }, t(field.label)), input);
    },

    fromControl(field, input) {
      if (field.key === '__key') {
        this.newKey = input.value;
      } else {
        const read = fleetKinds.fromInput(field, input.value);
        if (read.error) this.badJson.add(field.key); else this.badJson.delete(field.key);
        if (read.error) {
          // not sent until it is JSON again
        } else if (field.key === '__body') {
          this.draft = read.value;
        } else if (read.value === undefined) {
          delete this.draft[field.key];
        } else {
          this.draft[field.key] = read.value;
        }
      }
      this.changed();
    },

    async loadHistory() {
      const key = this.key;
      const result = await api('GET', `/api/v1/config/${this.kind.path}/${encodeURIComponent(key)}`);
      if (!result.ok || key !== this.key) return;
      $('fleet-history-tbody').replaceChildren(...(result.body.history || []).map((c) => historyRow(c, {
        compact: true,
        after: async () => {
          await this.load();
          if (this.items.has(key)) this.open(key); else this.close();
        },
      })));
    },
  });

  function initFleet() {
    $('fleet-kind').addEventListener('change', () => fleet.switchKind($('fleet-kind').value));
    $('fleet-new').addEventListener('click', () => fleet.openNew());
    $('fleet-close').addEventListener('click', () => fleet.close());
    $('fleet-form').addEventListener('submit', (e) => e.preventDefault());
    $('fleet-save').addEventListener('click', () => fleet.save());
    confirmButton($('fleet-delete'), () => fleet.remove());
  }

  // ---------------------------------------------------------------------------
  // 6. Silences
  // ---------------------------------------------------------------------------

  const silences = {
    async load() {
      const result = await api('GET', '/api/v1/silences');
      if (!result.ok) {
        toast(t('loadFailed', errorText(result)), 'error');
        return;
      }
      state.silences = result.body.silences || [];
      this.render();
    },

    render() {
      const rows = state.silences.map((s) => {
        const remove = el('button', { type: 'button', class: 'ghost small danger-text', 'data-testid': 'silence-remove' }, t('remove'));
        confirmButton(remove, async () => {
          const result = await api('DELETE', `/api/v1/silences/${encodeURIComponent(s.id)}`);
          if (result.ok) {
            toast(t('silenceRemoved'), 'ok');
            await this.load();
          } else {
            toast(t('failed', errorText(result)), 'error');
          }
        });
        const rule = s.rule_id ? state.rules.get(s.rule_id)?.item : null;
        return el('tr', { 'data-testid': 'silence-row', 'data-silence-id': s.id, 'data-station-id': s.station_id || '', 'data-rule-id': s.rule_id || '' },
          el('td', null, s.station_id ? [el('span', { class: 'mono' }, s.station_id), ' ', el('span', { class: 'muted' }, stationName(s.station_id) !== s.station_id ? stationName(s.station_id) : '')] : el('em', null, t('allStations'))),
          el('td', null, s.rule_id ? [el('span', { class: 'mono' }, s.rule_id), rule?.name ? el('span', { class: 'muted' }, ` ${rule.name}`) : null] : el('em', null, t('allRules'))),
          el('td', { class: 'mono nowrap' }, formatDateTime(s.start)),
          el('td', { class: 'mono nowrap' }, formatDateTime(s.end)),
          el('td', null, s.reason),
          el('td', null, s.created_by),
          el('td', { class: 'actions' }, remove));
      });
      $('silence-tbody').replaceChildren(...rows);
      $('silences-empty').hidden = rows.length > 0;
    },

    async add(event) {
      event.preventDefault();
      const error = $('silence-error');
      error.hidden = true;
      const reason = $('silence-reason').value.trim();
      const end = isoFromLocalInput($('silence-end').value);
      if (!end) { error.textContent = t('endRequired'); error.hidden = false; return; }
      if (!reason) { error.textContent = t('reasonRequired'); error.hidden = false; return; }
      const body = { end, reason };
      if ($('silence-station').value) body.station_id = $('silence-station').value;
      if ($('silence-rule').value) body.rule_id = $('silence-rule').value;
      const button = $('silence-add');
      button.disabled = true;
      const result = await api('POST', '/api/v1/silences', body);
      button.disabled = false;
      if (!result.ok) {
        error.textContent = t('failed', errorText(result));
        error.hidden = false;
        return;
      }
      $('silence-reason').value = '';
      toast(t('silenceAdded'), 'ok');
      await this.load();
    },
  };

  function renderSilenceOptions() {
    const station = $('silence-station');
    const rule = $('silence-rule');
    const keepStation = station.value;
    const keepRule = rule.value;
    const ids = state.configStations.size ? [...state.configStations.keys()] : state.boardStations.map((s) => s.id);
    station.replaceChildren(el('option', { value: '' }, t('allStations')),
      ...ids.map((id) => el('option', { value: id }, `${id} — ${stationName(id)}`)));
    const builtIn = detectorRules ? detectorRules.silenceOptions() : [];
    rule.replaceChildren(el('option', { value: '' }, t('allRules')),
      ...[...state.rules.entries()].map(([id, { item }]) => el('option', { value: id }, `${id} — ${item.name || ''}`)),
      ...builtIn.map(([id, text]) => el('option', { value: id }, text)));
    station.value = ids.includes(keepStation) ? keepStation : '';
    rule.value = state.rules.has(keepRule) || builtIn.some(([id]) => id === keepRule) ? keepRule : '';
  }

  function initSilences() {
    $('silence-form').addEventListener('submit', (e) => silences.add(e));
    $('silence-end').value = localInputValue(Date.now() + 2 * 3600 * 1000);
  }

  // ---------------------------------------------------------------------------
  // 7. Configuration history
  // ---------------------------------------------------------------------------

  const configHistory = {
    async load() {
      const query = new URLSearchParams({ limit: '200' });
      if ($('history-kind').value) query.set('kind', $('history-kind').value);
      if ($('history-key').value.trim()) query.set('key', $('history-key').value.trim());
      const result = await api('GET', `/api/v1/config/history?${query}`);
      if (!result.ok) {
        toast(t('loadFailed', errorText(result)), 'error');
        return;
      }
      state.history = result.body.changes || [];
      this.render();
    },

    render() {
      const tbody = $('history-tbody');
      if (!state.history.length) {
        tbody.replaceChildren(el('tr', null, el('td', { colspan: 8, class: 'muted' }, t('noEntries'))));
        return;
      }
      tbody.replaceChildren(...state.history.map((c) => historyRow(c, {
        after: async (change) => {
          await this.load();
          if (change.kind === 'rule') {
            await rules.load();
            if (editor.key === change.key) {
              if (state.rules.has(change.key)) editor.open(change.key); else editor.close();
            }
          } else if (change.kind === 'detector') {
            await loadDetectorRules();
          } else if (fleet.kind && fleetKinds.FLEET_KINDS.some((k) => k.kind === change.kind)) {
            await fleet.load();
          } else {
            await stations.load();
          }
        },
      })));
    },
  };

  function initHistory() {
    $('history-filter').addEventListener('submit', (e) => { e.preventDefault(); configHistory.load(); });
    $('history-kind').addEventListener('change', () => configHistory.load());
  }

  // ---------------------------------------------------------------------------
  // 8. Audit log (admins)
  // ---------------------------------------------------------------------------

  const audit = {
    async load() {
      if (!state.canAdminister) return;
      const query = new URLSearchParams({ limit: $('audit-limit').value || '200' });
      for (const [name, id] of [['actor', 'audit-actor'], ['action', 'audit-action'], ['outcome', 'audit-outcome']]) {
        const value = $(id).value.trim();
        if (value) query.set(name, value);
      }
      const result = await api('GET', `/api/v1/audit?${query}`);
      if (!result.ok) {
        toast(t('loadFailed', errorText(result)), 'error');
        return;
      }
      state.audit = result.body.entries || [];
      this.render();
    },

    render() {
      const tbody = $('audit-tbody');
      if (!state.audit.length) {
        tbody.replaceChildren(el('tr', null, el('td', { colspan: 7, class: 'muted' }, t('noEntries'))));
        return;
      }
      tbody.replaceChildren(...state.audit.map((e) => el('tr', {
        'data-testid': 'audit-row',
        'data-outcome': e.outcome,
        'data-action': e.action,
        class: `outcome-${e.outcome}`,
      },
      el('td', { class: 'mono nowrap' }, formatDateTime(e.time)),
      el('td', null, e.actor),
      el('td', { class: 'mono' }, e.action),
      el('td', { class: 'mono' }, e.target),
      el('td', null, el('span', { class: `badge outcome-${e.outcome}` }, e.outcome)),
      el('td', { class: 'mono' }, e.address),
      el('td', { class: 'diff mono', title: JSON.stringify(e.detail) }, e.detail && Object.keys(e.detail).length ? compact(e.detail, 240) : ''))));
    },
  };

  function initAudit() {
    $('audit-filter').addEventListener('submit', (e) => { e.preventDefault(); audit.load(); });
    for (const id of ['audit-outcome', 'audit-limit']) $(id).addEventListener('change', () => audit.load());
  }

  // ---------------------------------------------------------------------------
  // 9. Header, tabs, language, start-up
  // ---------------------------------------------------------------------------

  function renderHeader() {
    const me = state.me;
    if (!me) return;
    $('user-name').textContent = me.display_name || me.username;
    $('user-name').title = me.username;
    $('user-role').textContent = t(`role_${me.role}`);
    document.body.dataset.role = me.role;
    document.body.dataset.user = me.username;
  }

  function showTab(name, { load = true } = {}) {
    if (!TABS.includes(name) || (name === 'audit' && !state.canAdminister)) name = 'rules';
    state.tab = name;
    for (const b of document.querySelectorAll('[data-tab]')) {
      const on = b.dataset.tab === name;
      b.classList.toggle('is-active', on);
      b.setAttribute('aria-selected', String(on));
    }
    for (const panel of document.querySelectorAll('[data-panel]')) panel.hidden = panel.dataset.panel !== name;
    document.body.dataset.tab = name;
    if (location.hash !== `#${name}`) replaceHash(`#${name}`);
    if (!load) return;
    if (name === 'rules') rules.load();
    else if (name === 'stations') stations.load();
    else if (name === 'fleet') fleet.load();
    else if (name === 'silences') { silences.load(); }
    else if (name === 'history') configHistory.load();
    else if (name === 'audit') audit.load();
  }

  function replaceHash(hash) {
    const url = new URL(location.href);
    url.hash = hash;
    window.history.replaceState(null, '', url);
  }

  function applyLang() {
    translatePage(t, state.lang);
    renderHeader();
  }

  function switchLang(lang) {
    state.lang = lang;
    rememberLang(LANG_STORAGE_KEY, lang);
    applyLang();
    rules.render();
    stations.render();
    silences.render();
    renderSilenceOptions();
    if (state.history.length) configHistory.render();
    if (state.audit.length) audit.render();
    if (editor.draft) {
      editor.renderTitle();
      editor.showProblems(editor.problems, editor.checkedSeq);
      if (editor.preview) editor.renderPreview();
    }
    if (stations.draft) stations.start();
    if (fleet.kind) fleet.render();
    if (fleet.draft) fleet.start();
    if (detectorRules) detectorRules.render();
  }

  async function start() {
    applyLang();
    for (const b of document.querySelectorAll('[data-lang]')) b.addEventListener('click', () => switchLang(b.dataset.lang));
    for (const b of document.querySelectorAll('[data-tab]')) b.addEventListener('click', () => showTab(b.dataset.tab));
    window.addEventListener('hashchange', () => {
      const name = location.hash.slice(1);
      if (name !== state.tab) showTab(name);
    });
    $('logout').addEventListener('click', () => IOC.logout());
    initRules();
    initStations();
    initFleet();
    initSilences();
    initHistory();
    initAudit();

    const me = await api('GET', '/api/v1/auth/me');
    if (!me.ok) {
      if (me.status !== 401) toast(t('loadFailed', errorText(me)), 'error');
      return;
    }
    state.me = me.body;
    const caps = new Set(me.body.capabilities || []);
    state.canAdminister = caps.has('administer');
    state.canConfigure = caps.has('configure');
    document.body.dataset.admin = String(state.canAdminister);
    $('rule-new').hidden = !state.canConfigure;
    document.querySelector('[data-tab="audit"]').hidden = !state.canAdminister;
    renderHeader();

    const board = await api('GET', '/api/v1/stations');
    if (board.ok) state.boardStations = board.body.stations || [];
    await Promise.all([rules.load(), stations.load()]);
    showTab(location.hash.slice(1) || 'rules', { load: false });
    if (state.tab !== 'rules' && state.tab !== 'stations') showTab(state.tab);
    document.body.dataset.ready = 'true';
  }

  start();
})();
