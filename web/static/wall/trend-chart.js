/*
 * The trend panel's chart (SVG): one parameter of one station over the last 24 hours, with
 * the limits of its open alerts (dashed, the line drawn over a limit in the alert colour), the
 * baselines of its open anomaly alerts (dashed, grey, "nền"/"baseline": not a limit),
 * hour ticks on Asia/Ho_Chi_Minh time (a date at midnight), a y axis in round steps, gaps in
 * the data left as gaps, and a read-out of the nearest point under the pointer. Dense data is
 * reduced to what a pixel column can show (decimate).
 */

import { niceStep } from './format.js';

const HOUR_MS = 3600 * 1000;
export const TREND_WINDOW_MS = 24 * HOUR_MS;

/** Offset of Asia/Ho_Chi_Minh from UTC at `ms`, to align axis ticks on local hours. */
function zoneOffsetMs(ms) {
  const p = window.IOC.zonedParts(ms);
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day),
    Number(p.hour), Number(p.minute), Number(p.second));
  return local - Math.floor(ms / 1000) * 1000;
}

/** Index of the first point at or after `ms` in an ascending [[ms, value]] list. */
export function lowerBound(points, ms) {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Decimals an axis tick needs for the tick step (0.5 → 1, 0.25 → 2, 2.5 → 1, 20 → 0). */
function tickDigits(step) {
  const exponent = Math.floor(Math.log10(step) + 1e-9);
  const mantissa = Math.round(step / 10 ** exponent * 10) / 10;
  return Math.min(4, Math.max(0, -exponent + (mantissa === 2.5 ? 1 : 0)));
}

/**
 * body       the element the chart fills (its size is the chart's)
 * svg        the chart's <svg>
 * hoverBox   the read-out shown next to the point under the pointer
 * fmt        the wall's formatters (wall/format.js)
 */
export function createTrendChart({ body, svg, hoverBox, fmt }) {
  const { el, svgEl, zonedParts } = window.IOC;
  const { t, nowMs, parameterInfo, formatValueWithUnit, formatWindow, formatFixed } = fmt;
  let plot = null;  // geometry of the last drawing, for the hover read-out

  /** Axis tick text with as many decimals as the tick step needs. */
  function formatTick(value, step) {
    return formatFixed(Math.abs(value) < step / 1e6 ? 0 : value, tickDigits(step));
  }

  /**
   * Draw `points` ([[ms, value]] ascending, inside the window) of `param` at `stationId`, with
   * `limits` ([{value, severity, window}] ascending by value) and the anomaly alerts'
   * `baselines` ([{value, severity}]).
   */
  function draw({ points, limits, baselines = [], param, stationId }) {
    const width = body.clientWidth;
    const height = body.clientHeight;
    if (!width || !height) return;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 14;

    const end = nowMs();
    const start = end - TREND_WINDOW_MS;
    const info = parameterInfo(param, stationId);

    // ---- y domain: data and limits, zero kept in view for mostly positive data
    let lo = Infinity;
    let hi = -Infinity;
    for (const [, v] of points) { if (v < lo) lo = v; if (v > hi) hi = v; }
    for (const limit of [...limits, ...baselines]) { lo = Math.min(lo, limit.value); hi = Math.max(hi, limit.value); }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (lo >= 0 && lo <= hi * 0.5) lo = 0;
    if (hi - lo < 1e-9) { const pad = Math.abs(hi) * 0.1 || 1; lo -= pad; hi += pad; }
    const top = 1.55 * rem;
    const bottom = 1.65 * rem;
    const plotH = Math.max(20, height - top - bottom);
    const step = niceStep((hi - lo) / Math.max(2, Math.floor(plotH / (2.4 * rem))));
    const dataMax = hi;
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
    if (hi - dataMax < step * 0.2) hi += step; // headroom for the limit label
    const yTicks = [];
    for (let i = Math.round(lo / step); i * step <= hi + step * 1e-6; i += 1) yTicks.push(i * step);
    const tickLabels = yTicks.map((v) => formatTick(v, step));
    const labelChars = Math.max(...tickLabels.map((s) => s.length), 3);
    const left = Math.round(labelChars * 0.78 * rem * 0.6 + 1.1 * rem);
    const right = Math.round(1.1 * rem);
    const plotW = Math.max(20, width - left - right);
    const x = (ms) => left + ((ms - start) / TREND_WINDOW_MS) * plotW;
    const y = (v) => top + (1 - (v - lo) / (hi - lo)) * plotH;

    const nodes = [];
    const defs = svgEl('defs');
    const gradient = svgEl('linearGradient', { id: 'trend-fill', x1: 0, y1: 0, x2: 0, y2: 1 });
    gradient.append(svgEl('stop', { offset: '0%', class: 'trend-fill-top' }),
      svgEl('stop', { offset: '100%', class: 'trend-fill-bottom' }));
    const plotClip = svgEl('clipPath', { id: 'trend-clip-plot' });
    plotClip.append(svgEl('rect', { x: left, y: top - 4, width: plotW, height: plotH + 8 }));
    defs.append(gradient, plotClip);
    nodes.push(defs);

    // ---- grid and axes
    const grid = svgEl('g', { class: 'trend-grid' });
    const axis = svgEl('g', { class: 'trend-axis' });
    yTicks.forEach((v, i) => {
      const yy = Math.round(y(v)) + 0.5;
      grid.append(svgEl('line', { x1: left, x2: left + plotW, y1: yy, y2: yy, class: i === 0 ? 'is-base' : null }));
      if (points.length) axis.append(svgEl('text', { x: left - 0.45 * rem, y: yy + 0.28 * rem, 'text-anchor': 'end' }, tickLabels[i]));
    });
    const hourChoices = [1, 2, 3, 4, 6, 12];
    const hours = hourChoices.find((h) => (24 / h) * 4.3 * rem <= plotW) || 12;
    const stepMs = hours * HOUR_MS;
    const offset = zoneOffsetMs(end);
    for (let tick = Math.ceil((start + offset) / stepMs) * stepMs - offset; tick <= end; tick += stepMs) {
      const xx = Math.round(x(tick)) + 0.5;
      const p = zonedParts(tick);
      const midnight = p.hour === '00' && p.minute === '00';
      grid.append(svgEl('line', { x1: xx, x2: xx, y1: top, y2: top + plotH, class: midnight ? 'is-day' : 'is-time' }));
      if (xx > left + 1.2 * rem && xx < left + plotW - 1.2 * rem) {
        axis.append(svgEl('text', { x: xx, y: top + plotH + 1.2 * rem, 'text-anchor': 'middle', class: 'trend-x' }, `${p.hour}:${p.minute}`));
      }
      if (midnight) {
        axis.append(svgEl('text', { x: xx + 0.35 * rem, y: top + 0.85 * rem, class: 'trend-day' }, `${p.day}/${p.month}`));
      }
    }
    const unitText = info.unit ? `${info.label} (${info.unit})` : info.label;
    axis.append(svgEl('text', { x: left - 0.45 * rem, y: top - 0.6 * rem, class: 'trend-unit', 'text-anchor': 'start' }, unitText));
    nodes.push(grid, axis);

    // ---- limits of open alerts (dashed) with their values
    const limitGroup = svgEl('g', { class: 'trend-limits' });
    for (const limit of limits) {
      const yy = Math.round(y(limit.value)) + 0.5;
      limitGroup.append(
        svgEl('line', { x1: left, x2: left + plotW, y1: yy, y2: yy, class: `trend-limit sev-${limit.severity}`, 'data-testid': 'trend-limit', 'data-value': limit.value }),
        svgEl('text', { x: left + plotW - 0.3 * rem, y: yy - 0.38 * rem, 'text-anchor': 'end', class: `trend-limit-label sev-${limit.severity}` },
          `${t('limit')} ${formatValueWithUnit(limit.value, param, stationId)}${limit.window ? ` · ${formatWindow(limit.window)}` : ''}`),
      );
    }

    // ---- baselines of open anomaly alerts (dashed, neutral): the level judged against
    for (const baseline of baselines) {
      const yy = Math.round(y(baseline.value)) + 0.5;
      limitGroup.append(
        svgEl('line', { x1: left, x2: left + plotW, y1: yy, y2: yy, class: 'trend-baseline', 'data-testid': 'trend-baseline', 'data-value': baseline.value }),
        svgEl('text', { x: left + 0.3 * rem, y: yy - 0.38 * rem, 'text-anchor': 'start', class: 'trend-baseline-label', 'data-testid': 'trend-baseline-label' },
          `${t('baseline')} ${formatValueWithUnit(baseline.value, param, stationId)}`),
      );
    }

    // ---- the series: gaps break the line; dense data is reduced to min/max per pixel
    if (points.length) {
      const diffs = [];
      for (let i = Math.max(1, points.length - 400); i < points.length; i += 1) diffs.push(points[i][0] - points[i - 1][0]);
      diffs.sort((a, b) => a - b);
      const typical = diffs.length ? diffs[diffs.length >> 1] : 0;
      const gapMs = Math.max(typical * 5, 15 * 60 * 1000);
      const drawn = points.length > plotW * 2 ? decimate(points, x) : points;

      let line = '';
      let area = '';
      const base = y(Math.max(lo, Math.min(0, hi))).toFixed(1);
      let segmentStart = null;
      let previous = null;
      let lastX = 0;
      for (const [ms, v] of drawn) {
        const px = x(ms).toFixed(1);
        const py = y(v).toFixed(1);
        if (previous == null || ms - previous > gapMs) {
          if (segmentStart != null) area += `L${lastX},${base}Z`;
          line += `M${px},${py}`;
          area += `M${px},${base}L${px},${py}`;
          segmentStart = px;
        } else {
          line += `L${px},${py}`;
          area += `L${px},${py}`;
        }
        previous = ms;
        lastX = px;
      }
      area += `L${lastX},${base}Z`;
      const series = svgEl('g', { 'clip-path': 'url(#trend-clip-plot)' });
      series.append(svgEl('path', { d: area, class: 'trend-area' }),
        svgEl('path', { d: line, class: 'trend-line', 'data-testid': 'trend-line', 'data-points': points.length }));
      if (limits.length) {
        const over = svgEl('clipPath', { id: 'trend-clip-over' });
        over.append(svgEl('rect', { x: left, y: 0, width: plotW, height: Math.max(0, y(limits[0].value)) }));
        defs.append(over);
        series.append(svgEl('path', { d: line, class: 'trend-line-over', 'clip-path': 'url(#trend-clip-over)' }));
      }
      nodes.push(series);
      const last = points[points.length - 1];
      nodes.push(limitGroup,
        svgEl('circle', { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 0.55 * rem, class: 'trend-last-halo' }),
        svgEl('circle', { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 0.25 * rem, class: 'trend-last' }));
    } else {
      nodes.push(limitGroup);
    }

    const hoverGroup = svgEl('g', { class: 'trend-hover-mark', visibility: 'hidden' });
    hoverGroup.append(svgEl('line', { y1: top, y2: top + plotH }), svgEl('circle', { r: 0.3 * rem }));
    nodes.push(hoverGroup);
    svg.replaceChildren(...nodes);
    plot = { points, x, y, left, plotW, top, plotH, start, hoverGroup, param, stationId };
    hoverBox.hidden = true;
  }

  /** Read-out of the nearest point under the pointer. */
  function hover(event) {
    const box = hoverBox;
    if (!event || !plot || !plot.points.length) {
      box.hidden = true;
      if (plot) plot.hoverGroup.setAttribute('visibility', 'hidden');
      return;
    }
    const rect = svg.getBoundingClientRect();
    const px = event.clientX - rect.left;
    if (px < plot.left - 8 || px > plot.left + plot.plotW + 8) { hover(null); return; }
    const ms = plot.start + ((px - plot.left) / plot.plotW) * TREND_WINDOW_MS;
    const i = Math.min(plot.points.length - 1, lowerBound(plot.points, ms));
    const candidates = [plot.points[i], plot.points[Math.max(0, i - 1)]];
    const [pms, value] = candidates.reduce((a, b) => (Math.abs(a[0] - ms) <= Math.abs(b[0] - ms) ? a : b));
    const hx = plot.x(pms);
    const hy = plot.y(value);
    const [line, dot] = plot.hoverGroup.children;
    line.setAttribute('x1', hx.toFixed(1));
    line.setAttribute('x2', hx.toFixed(1));
    dot.setAttribute('cx', hx.toFixed(1));
    dot.setAttribute('cy', hy.toFixed(1));
    plot.hoverGroup.setAttribute('visibility', 'visible');
    const p = zonedParts(pms);
    box.replaceChildren(
      el('span', { class: 'mono muted' }, `${p.day}/${p.month} ${p.hour}:${p.minute}`),
      el('strong', { class: 'mono' }, formatValueWithUnit(value, plot.param, plot.stationId)));
    box.hidden = false;
    const w = box.offsetWidth;
    const left = hx + 12 + w > plot.left + plot.plotW ? hx - 12 - w : hx + 12;
    box.style.transform = `translate(${Math.round(left)}px, ${Math.round(Math.max(plot.top, hy - 40))}px)`;
  }

  function clear() {
    plot = null;
    svg.replaceChildren();
    hoverBox.hidden = true;
  }

  svg.addEventListener('pointermove', (event) => hover(event));
  svg.addEventListener('pointerleave', () => hover(null));

  return { draw, clear };
}

/** Keep the first, lowest, highest and last point of each pixel column, in time order. */
function decimate(points, x) {
  const out = [];
  let column = null;
  let bucket = [];
  const flush = () => {
    if (!bucket.length) return;
    let min = bucket[0];
    let max = bucket[0];
    for (const p of bucket) { if (p[1] < min[1]) min = p; if (p[1] > max[1]) max = p; }
    const keep = new Set([bucket[0], min, max, bucket[bucket.length - 1]]);
    for (const p of bucket) if (keep.has(p)) out.push(p);
    bucket = [];
  };
  for (const p of points) {
    const c = Math.floor(x(p[0]));
    if (c !== column) { flush(); column = c; }
    bucket.push(p);
  }
  flush();
  return out;
}
