/*
 * The codes the wall knows (station kinds and statuses, alert severities, VN_AQI bands, fire
 * danger levels) and how the wall writes things in the current language: times in
 * Asia/Ho_Chi_Minh on the server's clock, relative times, numbers, parameters with their units,
 * labels. createFormatters(state) binds them to the wall's state (language, server clock
 * offset, stations, parameter registry).
 */

import { WALL_I18N } from './i18n.js';

export const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
export const KINDS = ['air', 'weather', 'stack', 'wastewater', 'groundwater'];
export const STATUSES = ['ok', 'alert', 'offline', 'unknown'];

/** Upper bounds of the VN_AQI bands (Decision 1459/QĐ-TCMT); colours are in wall.css
 *  (--aqi-0 … --aqi-5: green, yellow, orange, red, purple, maroon). */
export const AQI_BANDS = [{ max: 50 }, { max: 100 }, { max: 150 }, { max: 200 }, { max: 300 }, { max: Infinity }];
export const ROMAN = ['I', 'II', 'III', 'IV', 'V'];

/** VN_AQI band 0..5 of a station's values: its aqi_band when valid, else from aqi. */
export function aqiBandOf(values) {
  if (!values) return null;
  const band = IOC.finiteOrNull(values.aqi_band);
  if (band != null && Number.isInteger(band) && band >= 0 && band <= 5) return band;
  const aqi = IOC.finiteOrNull(values.aqi);
  if (aqi == null || aqi < 0) return null;
  return AQI_BANDS.findIndex((b) => Math.round(aqi) <= b.max);
}

/** Nesterov fire danger level 1..5 of a station's values, else null. */
export function fireLevelOf(values) {
  const level = IOC.finiteOrNull(values?.fire_level);
  if (level == null) return null;
  return Math.min(5, Math.max(1, Math.round(level)));
}

/** 1, 2, 2.5 or 5 × 10^n closest below the raw value (grid, scale bar and axis steps). */
/** An anomaly alert (rule anomaly.*): its `limit` is a detector threshold, a score, not a level
 *  in the value's unit; it shows its `baseline` (the level judged against) instead. */
export function isAnomaly(alert) {
  return String(alert?.rule_id || '').startsWith('anomaly.');
}

export function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / exp;
  const nice = f >= 5 ? 5 : f >= 2.5 ? 2.5 : f >= 2 ? 2 : 1;
  return nice * exp;
}

/**
 * state: the wall's state (wall.js), read only: lang, serverOffsetMs, stations, parameters.
 */
export function createFormatters(state) {
  const { TIME_ZONE, zonedParts, translator } = IOC;

  const weekdayFormatters = {
    vi: new Intl.DateTimeFormat('vi-VN', { timeZone: TIME_ZONE, weekday: 'long' }),
    en: new Intl.DateTimeFormat('en-GB', { timeZone: TIME_ZONE, weekday: 'long' }),
  };

  /** Translate a key for the current language; functions are called with args. */
  const t = translator(WALL_I18N, () => state.lang);

  /** Current time, corrected by the server clock offset when significant. */
  function nowMs() {
    return Date.now() + state.serverOffsetMs;
  }

  /** "Thứ Hai," / "Monday,": the clock's weekday. */
  function formatWeekday(ms) {
    const weekday = weekdayFormatters[state.lang].format(ms);
    return weekday.charAt(0).toUpperCase() + weekday.slice(1) + ',';
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

  /** A number with exactly `digits` decimals (axis ticks). */
  function formatFixed(value, digits) {
    return IOC.numberFormat(state.lang, digits, digits).format(value);
  }

  /** Label and unit of a parameter; a station's own unit wins (so2 is µg/m³ in the air but
   *  mg/Nm³ in a stack). */
  function parameterInfo(key, stationId) {
    const station = stationId != null ? state.stations.get(String(stationId)) : null;
    const p = station?.labels?.[key] || state.parameters[key] || {};
    const fallback = WALL_I18N.vi[`param_${key}`] != null ? t(`param_${key}`) : key;
    const label = (state.lang === 'en' ? p.label_en || p.label_vi : p.label_vi || p.label_en) || fallback;
    return { label, unit: station?.units?.[key] || state.parameters[key]?.unit || '' };
  }

  function formatValueWithUnit(value, paramKey, stationId) {
    const { unit } = parameterInfo(paramKey, stationId);
    const hasValue = value != null && value !== '';
    return unit && hasValue ? `${formatNumber(value)} ${unit}` : formatNumber(value);
  }

  /** An alert's value in words: a limit rule's value / limit (`132/50 µg/m³`); an anomaly's
   *  value and baseline (`132 µg/m³ · nền 8 µg/m³`), never its detector threshold (a score). */
  function formatAlertValue(alert) {
    const { parameter, station_id: stationId } = alert;
    if (!isAnomaly(alert)) return `${formatNumber(alert.value)}/${formatValueWithUnit(alert.limit, parameter, stationId)}`;
    const value = formatValueWithUnit(alert.value, parameter, stationId);
    const baseline = IOC.finiteOrNull(alert.baseline);
    return baseline == null ? value : `${value} · ${t('baseline')} ${formatValueWithUnit(baseline, parameter, stationId)}`;
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

  function aqiBandLabel(band) {
    return t('aqiBand')[band] ?? '';
  }

  function fireLevelLabel(level) {
    return t('fireLevel')[level - 1] ?? '';
  }

  return {
    t, nowMs, formatWeekday, formatTimeSmart, formatRelative, formatNumber, formatFixed, parameterInfo,
    formatValueWithUnit, formatAlertValue, formatOwner, formatWindow, statusLabel, kindLabel, severityLabel,
    aqiBandLabel, fireLevelLabel,
  };
}
