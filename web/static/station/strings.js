/*
 * Texts of the station page (VI default, EN).
 */

export const STATION_I18N = {
  vi: {
    pageTitle: 'Trạm quan trắc — Trung tâm Điều hành Thông minh',
    backToWall: '← Màn hình giám sát',
    from: 'Từ',
    to: 'Đến',
    load: 'Xem',
    last24h: '24 giờ',
    last7d: '7 ngày',
    last30d: '30 ngày',
    downloadCsv: 'Tải CSV',
    print: 'In',
    aqiTitle: 'Chỉ số chất lượng không khí VN_AQI',
    aqiHourly: 'VN_AQI giờ',
    aqiDaily: 'VN_AQI ngày',
    chartsTitle: 'Diễn biến các thông số',
    alertsTitle: 'Lịch sử cảnh báo',
    period: (start, end) => `Khoảng thời gian: ${start} – ${end} (giờ Việt Nam)`,
    step: (minutes) => `Mỗi điểm là giá trị trung bình ${minutes} phút. Đường đứt nét: ngưỡng cảnh báo (QCVN).`,
    kind: { air: 'Không khí', weather: 'Khí tượng', stack: 'Khí thải', wastewater: 'Nước thải', groundwater: 'Nước dưới đất' },
    owner: 'Chủ quản',
    state: 'Nhà nước',
    noData: 'Không có dữ liệu trong khoảng thời gian này.',
    noAqi: 'Chưa có VN_AQI trong khoảng thời gian này.',
    noAlerts: 'Không có cảnh báo trong khoảng thời gian này.',
    limit: (name, window, value) => `${name} (${windowLabel('vi', window)}): ${value}`,
    partialDay: 'chưa đủ ngày',
    opened: 'Bắt đầu',
    resolved: 'Kết thúc',
    rule: 'Quy tắc',
    parameter: 'Thông số',
    severity: 'Mức độ',
    stateCol: 'Trạng thái',
    value: 'Giá trị',
    peak: 'Cực trị',
    limitCol: 'Ngưỡng',
    baseline: 'nền',
    severities: { critical: 'Nghiêm trọng', warning: 'Cảnh báo', info: 'Thông tin' },
    states: { open: 'Đang mở', acknowledged: 'Đã xác nhận', resolved: 'Đã hết', closed: 'Đã đóng' },
    badRange: 'Khoảng thời gian không hợp lệ (tối đa 31 ngày).',
    dbUnavailable: 'Cơ sở dữ liệu đang không truy cập được; thử lại sau.',
    notFound: 'Không có trạm này.',
    forbidden: 'Bạn không được xem trạm này.',
    loadFailed: (reason) => `Không tải được dữ liệu: ${reason}`,
  },
  en: {
    pageTitle: 'Monitoring station — Intelligent Operations Centre',
    backToWall: '← Monitoring wall',
    from: 'From',
    to: 'To',
    load: 'Show',
    last24h: '24 hours',
    last7d: '7 days',
    last30d: '30 days',
    downloadCsv: 'Download CSV',
    print: 'Print',
    aqiTitle: 'Air quality index VN_AQI',
    aqiHourly: 'Hourly VN_AQI',
    aqiDaily: 'Daily VN_AQI',
    chartsTitle: 'Parameters over time',
    alertsTitle: 'Alert history',
    period: (start, end) => `Period: ${start} – ${end} (Vietnam time)`,
    step: (minutes) => `Each point is a ${minutes}-minute mean. Dashed lines: alert limits (QCVN).`,
    kind: { air: 'Air', weather: 'Weather', stack: 'Stack emissions', wastewater: 'Wastewater', groundwater: 'Groundwater' },
    owner: 'Owner',
    state: 'State',
    noData: 'No data in this period.',
    noAqi: 'No VN_AQI in this period.',
    noAlerts: 'No alerts in this period.',
    limit: (name, window, value) => `${name} (${windowLabel('en', window)}): ${value}`,
    partialDay: 'day not complete',
    opened: 'Start',
    resolved: 'End',
    rule: 'Rule',
    parameter: 'Parameter',
    severity: 'Severity',
    stateCol: 'State',
    value: 'Value',
    peak: 'Peak',
    limitCol: 'Limit',
    baseline: 'baseline',
    severities: { critical: 'Critical', warning: 'Warning', info: 'Info' },
    states: { open: 'Open', acknowledged: 'Acknowledged', resolved: 'Resolved', closed: 'Closed' },
    badRange: 'Not a usable period (31 days at most).',
    dbUnavailable: 'The database cannot be reached; try again later.',
    notFound: 'No such station.',
    forbidden: 'You may not see this station.',
    loadFailed: (reason) => `Could not load the data: ${reason}`,
  },
};

function windowLabel(lang, window) {
  if (window === 'instant') return lang === 'vi' ? 'tức thời' : 'instant';
  return lang === 'vi' ? `TB ${window}` : `${window} mean`;
}

/** "YYYY-MM-DDTHH:mm" (a datetime-local value) of a time in Asia/Ho_Chi_Minh. */
export function localInputValue(ms) {
  const p = IOC.zonedParts(ms);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** Epoch ms of a datetime-local value read as Asia/Ho_Chi_Minh (UTC+7, no DST); null if bad. */
export function fromLocalInput(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value || '')) return null;
  const ms = Date.parse(`${value.length === 16 ? `${value}:00` : value}+07:00`);
  return Number.isFinite(ms) ? ms : null;
}
