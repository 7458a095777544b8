/*
 * Texts of the monthly report (VI default, EN), shared by the printable page (report.js) and
 * the portal's report section (portal/report.js).
 */

export const REPORT_I18N = {
  vi: {
    pageTitle: 'Báo cáo tháng — Trung tâm Điều hành Thông minh',
    title: 'Báo cáo quan trắc tự động hằng tháng',
    subtitle: 'Độ đầy đủ dữ liệu và vượt ngưỡng',
    province: 'Toàn tỉnh',
    month: 'Tháng',
    load: 'Xem',
    print: 'In',
    generatedAt: (time) => `Lập lúc ${time} (giờ Việt Nam)`,
    period: (start, end) => `Kỳ báo cáo: ${start} – ${end} (giờ Việt Nam)`,
    partial: 'Tháng chưa kết thúc: số liệu tính đến hiện tại.',
    ownersTitle: 'Tổng hợp theo chủ quản',
    stationsTitle: 'Độ đầy đủ dữ liệu theo trạm',
    exceedancesTitle: 'Vượt ngưỡng theo thông số',
    gapsTitle: 'Các khoảng mất dữ liệu',
    noExceedances: 'Không có vượt ngưỡng trong tháng.',
    noGaps: 'Không có khoảng mất dữ liệu.',
    noStations: 'Không có trạm.',
    owner: 'Chủ quản',
    stations: 'Số trạm',
    station: 'Trạm',
    interval: 'Chu kỳ',
    expected: 'Theo chu kỳ',
    received: 'Nhận được',
    valid: 'Hợp lệ (00)',
    calibrating: 'Hiệu chuẩn (01)',
    deviceError: 'Lỗi thiết bị (02)',
    missing: 'Thiếu',
    ratio: 'Đầy đủ',
    validRatio: 'Hợp lệ',
    exceedances: 'Vượt ngưỡng',
    overFrequent: 'Gửi dày hơn đăng ký',
    gaps: 'Số đợt mất dữ liệu',
    rule: 'Quy tắc',
    severity: 'Mức độ',
    start: 'Bắt đầu',
    end: 'Kết thúc',
    ongoing: 'đang tiếp diễn',
    duration: 'Thời gian',
    peak: 'Cực trị',
    limit: 'Ngưỡng',
    intervals: 'Số chu kỳ',
    events: (n, d) => `${n} lần, tổng ${d}`,
    moreGaps: (shown, all) => `Hiển thị ${shown} / ${all} khoảng.`,
    loadFailed: (d) => `Không tải được báo cáo: ${d}`,
    dbUnavailable: 'Cơ sở dữ liệu tạm thời không truy cập được — chưa thể lập báo cáo.',
  },
  en: {
    pageTitle: 'Monthly report — Intelligent Operations Center',
    title: 'Monthly automatic monitoring report',
    subtitle: 'Data completeness and exceedances',
    province: 'Whole province',
    month: 'Month',
    load: 'Show',
    print: 'Print',
    generatedAt: (time) => `Made ${time} (Vietnam time)`,
    period: (start, end) => `Period: ${start} – ${end} (Vietnam time)`,
    partial: 'The month is not over: figures so far.',
    ownersTitle: 'Summary by owner',
    stationsTitle: 'Data completeness per station',
    exceedancesTitle: 'Exceedances per parameter',
    gapsTitle: 'Data gaps',
    noExceedances: 'No exceedance this month.',
    noGaps: 'No data gap.',
    noStations: 'No station.',
    owner: 'Owner',
    stations: 'Stations',
    station: 'Station',
    interval: 'Interval',
    expected: 'Expected',
    received: 'Received',
    valid: 'Valid (00)',
    calibrating: 'Calibrating (01)',
    deviceError: 'Device error (02)',
    missing: 'Missing',
    ratio: 'Complete',
    validRatio: 'Valid',
    exceedances: 'Exceedances',
    overFrequent: 'More often than registered',
    gaps: 'Gaps',
    rule: 'Rule',
    severity: 'Severity',
    start: 'Start',
    end: 'End',
    ongoing: 'ongoing',
    duration: 'Duration',
    peak: 'Peak',
    limit: 'Limit',
    intervals: 'Intervals',
    events: (n, d) => `${n} time${n === 1 ? '' : 's'}, ${d} in all`,
    moreGaps: (shown, all) => `${shown} of ${all} gaps shown.`,
    loadFailed: (d) => `Could not load the report: ${d}`,
    dbUnavailable: 'The database is unreachable for now — the report cannot be made yet.',
  },
};

/** "2026-11" of the current local month (Asia/Ho_Chi_Minh). */
export function thisMonth() {
  const p = IOC.zonedParts(Date.now());
  return `${p.year}-${p.month}`;
}

/** The last `count` local months, newest first ("2026-11", "2026-10", ...). */
export function recentMonths(count) {
  const [year, month] = thisMonth().split('-').map(Number);
  return Array.from({ length: count }, (_, i) => {
    const index = year * 12 + (month - 1) - i;
    return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
  });
}

/** The API of the report: the portal's for the portal page, the officers' otherwise. */
export function reportUrl({ portal, month, enterprise, format = 'json', lang }) {
  const query = new URLSearchParams({ month, format });
  if (enterprise) query.set('enterprise', enterprise);
  if (lang && format !== 'json') query.set('lang', lang);
  return `/api/v1/${portal ? 'portal/' : ''}reports/monthly?${query}`;
}
