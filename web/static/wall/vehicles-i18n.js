/*
 * The vehicle layer's words, VI (default) and EN: merged into the wall's dictionary, so the
 * wall's t() and its data-i18n attributes know them.
 */

export const VEHICLE_I18N = {
  vi: {
    vehOnline: 'Xe trực tuyến',
    vehMoving: 'Đang chạy',
    vehViolationsToday: 'Vi phạm hôm nay',
    vehLayerStations: 'Trạm',
    vehLayerVehicles: 'Phương tiện',
    vehLayerLabel: 'Lớp bản đồ',
    vehLegendTitle: 'Phương tiện',
    vehState_moving: 'Đang chạy',
    vehState_stopped: 'Đang dừng',
    vehState_offline: 'Mất tín hiệu',
    vehState_violating: 'Vi phạm',
    vehType_bus: 'Xe buýt',
    vehType_coach: 'Xe khách',
    vehType_truck: 'Xe tải',
    vehType_container: 'Xe container',
    vehType_tractor: 'Xe đầu kéo',
    vehType_taxi: 'Taxi',
    vehRule_speeding: 'Quá tốc độ',
    vehRule_continuous_driving: 'Lái xe liên tục quá thời gian',
    vehRule_zone_forbidden: 'Đi vào vùng cấm',
    vehRule_signal_lost: 'Mất tín hiệu GPS',
    vehRule_silent: 'Không nhận dữ liệu',
    vehTickerTitle: 'Vi phạm hành trình',
    vehTickerEmpty: 'Chưa có vi phạm',
    vehPanelType: 'Loại xe',
    vehPanelCompany: 'Đơn vị vận tải',
    vehPanelSpeed: 'Tốc độ',
    vehPanelHeading: 'Hướng',
    vehPanelState: 'Trạng thái',
    vehPanelLastFix: 'Vị trí lúc',
    vehPanelTrack: 'Hành trình hôm nay',
    vehPanelClose: 'Đóng',
    vehTrackLoading: 'Đang tải hành trình…',
    vehTrackNone: 'Chưa có hành trình hôm nay cho xe này',
    vehTrackEmpty: 'Hành trình hôm nay chưa có điểm nào',
    vehTrackError: (reason) => `Không tải được hành trình: ${reason}`,
    vehTrackInvalid: 'dữ liệu hành trình không hợp lệ',
    vehTrackSummary: (n, km) => `${n} điểm · ${km} km`,
    vehDriverImage: (time) => `Ảnh lái xe lúc ${time}`,
    vehPlay: 'Phát',
    vehPause: 'Dừng',
    vehPlaybackSpeed: 'Tốc độ phát',
    vehPlaybackTime: 'Thời điểm phát lại',
    vehUnknown: 'không rõ',
  },
  en: {
    vehOnline: 'Vehicles online',
    vehMoving: 'Moving',
    vehViolationsToday: 'Violations today',
    vehLayerStations: 'Stations',
    vehLayerVehicles: 'Vehicles',
    vehLayerLabel: 'Map layers',
    vehLegendTitle: 'Vehicles',
    vehState_moving: 'Moving',
    vehState_stopped: 'Stopped',
    vehState_offline: 'Offline',
    vehState_violating: 'Violating',
    vehType_bus: 'Bus',
    vehType_coach: 'Coach',
    vehType_truck: 'Truck',
    vehType_container: 'Container truck',
    vehType_tractor: 'Tractor unit',
    vehType_taxi: 'Taxi',
    vehRule_speeding: 'Speeding',
    vehRule_continuous_driving: 'Continuous driving too long',
    vehRule_zone_forbidden: 'Entered a forbidden zone',
    vehRule_signal_lost: 'GPS signal lost',
    vehRule_silent: 'Not reporting',
    vehTickerTitle: 'Journey violations',
    vehTickerEmpty: 'No violations yet',
    vehPanelType: 'Type',
    vehPanelCompany: 'Operator',
    vehPanelSpeed: 'Speed',
    vehPanelHeading: 'Heading',
    vehPanelState: 'State',
    vehPanelLastFix: 'Last fix',
    vehPanelTrack: "Today's track",
    vehPanelClose: 'Close',
    vehTrackLoading: 'Loading the track…',
    vehTrackNone: 'No track today for this vehicle',
    vehTrackEmpty: "Today's track has no fixes yet",
    vehTrackError: (reason) => `Could not load the track: ${reason}`,
    vehTrackInvalid: 'invalid track data',
    vehTrackSummary: (n, km) => `${n} fixes · ${km} km`,
    vehDriverImage: (time) => `Driver image at ${time}`,
    vehPlay: 'Play',
    vehPause: 'Pause',
    vehPlaybackSpeed: 'Playback speed',
    vehPlaybackTime: 'Playback time',
    vehUnknown: 'unknown',
  },
};

/** Rule ids of journey violations: `journey.<kind>`. */
export const JOURNEY_PREFIX = 'journey.';

export function isJourneyAlert(alert) {
  return Boolean(alert && typeof alert.rule_id === 'string' && alert.rule_id.startsWith(JOURNEY_PREFIX));
}

/** The kind of a journey violation in words (the rule's own name for an unknown kind). */
export function journeyKindLabel(t, alert) {
  const kind = String(alert.rule_id).slice(JOURNEY_PREFIX.length);
  const key = `vehRule_${kind}`;
  const words = t(key);
  return words && words !== key ? words : alert.rule_name || kind;
}
