/*
 * Small SVG charts of the station page (no library): a parameter's series with its limit
 * lines, and the hourly VN_AQI over its colour bands. Times on the x axis are shown in
 * Asia/Ho_Chi_Minh. Gaps (null values) break the line.
 */

const AQI_W = 900; // the AQI chart spans the page
const CARD_W = 560; // a parameter's chart sits in a card, two side by side
const H = 240;
const PAD = { left: 56, right: 16, top: 14, bottom: 30 };

function scale(domainLow, domainHigh, rangeLow, rangeHigh) {
  const span = domainHigh - domainLow || 1;
  return (v) => rangeLow + ((v - domainLow) / span) * (rangeHigh - rangeLow);
}

/** Round-ish tick values between low and high (about n of them). */
function ticks(low, high, n = 5) {
  const span = high - low;
  if (!(span > 0)) return [low];
  const raw = span / n;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(low / step) * step; v <= high + 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

function timeLabel(ms, spanMs) {
  const p = IOC.zonedParts(ms);
  if (spanMs <= 2 * 86_400_000) return `${p.hour}:${p.minute}`;
  return `${p.day}/${p.month}`;
}

function frame(svg, W, startMs, endMs, yLow, yHigh, lang) {
  const { svgEl } = IOC;
  const x = scale(startMs, endMs, PAD.left, W - PAD.right);
  const y = scale(yLow, yHigh, H - PAD.bottom, PAD.top);
  for (const v of ticks(yLow, yHigh)) {
    svg.append(svgEl('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    svg.append(svgEl('text', { class: 'tick', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' },
      IOC.formatNumber(v, lang)));
  }
  const count = W > 700 ? 6 : 4;
  for (let i = 0; i <= count; i += 1) {
    const ms = startMs + ((endMs - startMs) * i) / count;
    svg.append(svgEl('text', { class: 'tick', x: x(ms), y: H - 10, 'text-anchor': 'middle' },
      timeLabel(ms, endMs - startMs)));
  }
  svg.append(svgEl('line', { class: 'axis', x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom }));
  svg.append(svgEl('line', { class: 'axis', x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom }));
  return { x, y };
}

/** The line through the points; a gap longer than maxGapMs (no value) breaks it. */
function pathOf(points, x, y, maxGapMs = Infinity) {
  let d = '';
  let last = null;
  for (const [t, v] of points) {
    if (v == null) continue;
    const pen = last != null && t - last <= maxGapMs;
    d += `${pen ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    last = t;
  }
  return d;
}

/**
 * A parameter's chart: points [[ms, value|null], ...], limits [{value, window, rule_name}],
 * range [startMs, endMs]. Limit lines always show, even above the data. The line joins values
 * up to maxGapMs apart (a station reporting less often than the step is still a line).
 */
export function seriesChart({ points, limits, startMs, endMs, lang, testid, maxGapMs }) {
  const W = CARD_W;
  const { svgEl } = IOC;
  const values = points.map(([, v]) => v).filter((v) => v != null);
  const limitValues = limits.map((l) => l.value);
  let low = Math.min(0, ...values, ...limitValues);
  let high = Math.max(...values, ...limitValues, 1);
  high += (high - low) * 0.08;
  if (low < 0) low -= (high - low) * 0.05;
  const svg = svgEl('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-testid': testid,
    'data-points': values.length,
  });
  const { x, y } = frame(svg, W, startMs, endMs, low, high, lang);
  for (const limit of limits) {
    svg.append(svgEl('line', {
      class: `limit window-${limit.window}`, x1: PAD.left, x2: W - PAD.right,
      y1: y(limit.value), y2: y(limit.value), 'data-testid': 'limit-line', 'data-value': limit.value,
      'data-rule': limit.rule_id,
    }));
    svg.append(svgEl('text', { class: 'limit-label', x: W - PAD.right - 4, y: y(limit.value) - 4, 'text-anchor': 'end' },
      `${limit.rule_name}: ${IOC.formatNumber(limit.value, lang)}`));
  }
  svg.append(svgEl('path', { class: 'series', d: pathOf(points, x, y, maxGapMs) }));
  if (values.length <= 200) {
    for (const [t, v] of points) {
      if (v != null) svg.append(svgEl('circle', { class: 'dot', cx: x(t), cy: y(v), r: 2.5 }));
    }
  }
  return svg;
}

/**
 * The hourly VN_AQI over the bands [{low, high, color}]: points [{time, aqi, color}].
 */
export function aqiChart({ points, bands, startMs, endMs, lang }) {
  const { svgEl } = IOC;
  const W = AQI_W;
  const top = Math.max(100, ...points.map((p) => p.aqi)) * 1.08;
  const svg = svgEl('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-testid': 'aqi-chart' });
  const x = scale(startMs, endMs, PAD.left, W - PAD.right);
  const y = scale(0, top, H - PAD.bottom, PAD.top);
  bands.forEach((band, index) => {
    const low = index === 0 ? 0 : bands[index - 1].high;
    if (low >= top) return;
    const high = Math.min(band.high, top);
    svg.append(svgEl('rect', {
      class: 'band', x: PAD.left, width: W - PAD.right - PAD.left, y: y(high), height: y(low) - y(high),
      fill: band.color, 'data-testid': 'aqi-band', 'data-band': index,
    }));
  });
  frame(svg, W, startMs, endMs, 0, top, lang);
  const series = points.map((p) => [Date.parse(p.time), p.aqi]);
  svg.append(svgEl('path', { class: 'aqi-line', d: pathOf(series, x, y, 3 * 3_600_000) }));
  for (const p of points) {
    svg.append(svgEl('circle', {
      cx: x(Date.parse(p.time)), cy: y(p.aqi), r: 3, fill: p.color || '#999', stroke: '#1b2635',
      'stroke-width': 0.6, 'data-testid': 'aqi-point', 'data-aqi': p.aqi,
    }));
  }
  return svg;
}
