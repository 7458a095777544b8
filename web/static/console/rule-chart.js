/*
 * The rule preview's chart: one station's parameter over the preview period, the rule's
 * levels as horizontal lines and the alerts the preview raised as dots. Plain SVG.
 */
import { t, DAY_MS } from './core.js';
import { formatDayMonth, formatNumber, ruleLevels, windowLabel } from './format.js';

const { $, svgEl, parseTime, finiteOrNull: finite } = IOC;

export const READINGS_LIMIT = 10000; // the API's maximum rows

/** The parameter of one station over the preview period, with the rule's levels as
 *  horizontal lines and the alerts the preview raised as dots. Plain SVG. */
export function drawChart(preview, points, truncated) {
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
