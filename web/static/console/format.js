/*
 * Texts of the officer console: times (Asia/Ho_Chi_Minh), numbers, durations, rule windows,
 * levels and severities, station names, and the differences between two versions of an item.
 */
import { state, t, canonical } from './core.js';

const { zonedParts, finiteOrNull: finite } = IOC;

const VN_OFFSET = '+07:00';

export function formatDayMonth(ms) {
  const p = zonedParts(ms);
  return `${p.day}/${p.month}`;
}

/** "YYYY-MM-DDTHH:mm" (datetime-local) of a time in Vietnam. */
export function localInputValue(ms) {
  const p = zonedParts(ms);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** ISO 8601 with offset of a datetime-local value read as Vietnam time. */
export function isoFromLocalInput(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  return `${value.length === 16 ? `${value}:00` : value}${VN_OFFSET}`;
}

/** As IOC.formatNumber, but with decimals up to 1000 (not 100). */
export function formatNumber(value) {
  return IOC.formatNumber(value, state.lang, { wholeFrom: 1000 });
}

export function formatDuration(seconds) {
  const s = Math.round(Number(seconds) || 0);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

export function compact(value, max = 160) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text == null) return '—';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function severityLabel(severity) {
  return t(`sev_${['critical', 'warning', 'info'].includes(severity) ? severity : 'warning'}`);
}

export function windowLabel(rule) {
  const w = rule.window || 'instant';
  if (w === 'instant') return t('window_instant');
  return rule.aggregate === 'max' ? t('window_max', w) : t('window_mean', w);
}

/** A rule's levels as the engine reads them (RuleConfig.levels). */
export function ruleLevels(rule) {
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

export function levelsText(rule) {
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

export function stationName(id) {
  const config = state.configStations.get(id)?.item;
  const board = state.boardStations.find((s) => s.id === id);
  return config?.name || board?.name || id;
}

/** "above: 100 → 40, clear_at: 80 → 35" between two versions of an item. */
export function diffText(oldItem, newItem) {
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

export function actionText(change) {
  const label = t(`action_${change.action}`);
  return change.rollback_of ? `${label} (${t('rollbackOf', change.rollback_of)})` : label;
}
