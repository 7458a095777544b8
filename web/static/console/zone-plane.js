/*
 * The zone drawing editor's plane (console/zone-editor.js): the svg()/html() DOM helpers,
 * the reference layers' data (stations, the fleet's other zones, roads and towns) and the
 * plane's layers drawn for an editor: the graticule, the reference layers and the shape.
 */
import { W, H, M_PER_DEG, STEPS, isPoint } from './zone-geometry.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

export function html(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === 'class') node.className = v; else node.setAttribute(k, String(v));
  }
  for (const c of children) node.append(c);
  return node;
}

async function getJson(path) {
  try {
    const response = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    return response.ok ? await response.json() : null;
  } catch (_) {
    return null;
  }
}

/** Reference layers: stations (GET /api/v1/stations), the fleet's zones, and its roads and
 * towns (GET /api/v1/fleet/map). */
export async function loadReference(exclude) {
  const [board, zones, map] = await Promise.all([
    getJson('/api/v1/stations'), getJson('/api/v1/config/zones'), getJson('/api/v1/fleet/map'),
  ]);
  const stations = (board?.stations || []).filter((s) => Number.isFinite(s.lat) && Number.isFinite(s.lon))
    .map((s) => ({ id: s.id, name: s.name || s.id, lat: s.lat, lon: s.lon }));
  const others = (zones?.items || []).filter((i) => i.key !== exclude).map((i) => ({ id: i.key, ...i.item }));
  return { stations, zones: others, roads: map?.roads || [], towns: map?.towns || [] };
}

/** The lat/lon grid with its labels, at a step of about 90 px (STEPS). */
export function graticule(editor) {
  const g = svg('g', { class: 'zone-graticule' });
  const [north, west] = editor.unproject(0, 0);
  const [south, east] = editor.unproject(W, H);
  const want = 90 / editor.view.k; // degrees for ~90 px
  const step = STEPS.find((s) => s >= want) || STEPS[STEPS.length - 1];
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  for (let lat = Math.ceil(south / step) * step; lat <= north; lat += step) {
    const [, y] = editor.project(lat, west);
    g.append(svg('line', { x1: 0, x2: W, y1: y, y2: y }),
      svg('text', { x: 4, y: y - 3, class: 'zone-grid-label' }, `${lat.toFixed(decimals)}°N`));
  }
  for (let lon = Math.ceil(west / step) * step; lon <= east; lon += step) {
    const [x] = editor.project(north, lon);
    g.append(svg('line', { x1: x, x2: x, y1: 0, y2: H }));
    if (x < W - 80) g.append(svg('text', { x: x + 3, y: H - 5, class: 'zone-grid-label' }, `${lon.toFixed(decimals)}°E`));
  }
  g.dataset.step = String(step);
  return g;
}

/** A circle of radius_m metres at (lat, lon) as the ellipse it is in this projection. */
export function circleRadii(editor, lat, radiusM) {
  const ry = (radiusM / M_PER_DEG) * editor.view.k;
  const rx = (radiusM / (M_PER_DEG * Math.cos((lat * Math.PI) / 180))) * Math.cos((editor.view.lat0 * Math.PI) / 180) * editor.view.k;
  return [rx, ry];
}

/** The reference layers: roads and towns, the fleet's other zones with their names, the stations. */
export function referenceLayers(editor) {
  const roads = svg('g', { class: 'zone-ref-roads' });
  for (const road of editor.reference.roads) {
    const pts = road.points.filter(isPoint).map((p) => editor.project(p[0], p[1]));
    if (pts.length < 2) continue;
    roads.append(svg('polyline', { points: pts.map((p) => p.join(',')).join(' '), 'data-road-id': road.id },
      svg('title', {}, road.name)));
  }
  for (const town of editor.reference.towns) {
    const [cx, cy] = editor.project(town.lat, town.lon);
    const [rx, ry] = circleRadii(editor, town.lat, Number(town.urban_radius_m));
    roads.append(svg('ellipse', { cx, cy, rx, ry, class: 'zone-ref-town', 'data-town-id': town.id }),
      svg('text', { x: cx, y: cy - ry - 3, class: 'zone-ref-town-label', 'text-anchor': 'middle' }, town.id));
  }
  const zones = svg('g', { class: 'zone-ref-zones' });
  for (const z of editor.reference.zones) {
    let label = null;
    if (z.shape === 'polygon' && Array.isArray(z.polygon) && z.polygon.filter(isPoint).length >= 2) {
      const pts = z.polygon.filter(isPoint).map((p) => editor.project(p[0], p[1]));
      zones.append(svg('polygon', { points: pts.map((p) => p.join(',')).join(' '), 'data-zone-id': z.id }));
      label = [pts.reduce((s, p) => s + p[0], 0) / pts.length, pts.reduce((s, p) => s + p[1], 0) / pts.length];
    } else if (z.shape === 'circle' && isPoint(z.centre) && Number(z.radius_m) > 0) {
      const [cx, cy] = editor.project(z.centre[0], z.centre[1]);
      const [rx, ry] = circleRadii(editor, z.centre[0], Number(z.radius_m));
      zones.append(svg('ellipse', { cx, cy, rx, ry, 'data-zone-id': z.id }));
      label = [cx, cy];
    }
    if (label) zones.append(svg('text', { x: label[0], y: label[1], class: 'zone-ref-label', 'text-anchor': 'middle' }, z.name || z.id));
  }
  const stations = svg('g', { class: 'zone-ref-stations' });
  for (const s of editor.reference.stations) {
    const [x, y] = editor.project(s.lat, s.lon);
    if (x < -20 || x > W + 20 || y < -20 || y > H + 20) continue;
    stations.append(svg('circle', { cx: x, cy: y, r: 3.5, 'data-station-id': s.id }, svg('title', {}, `${s.id} ${s.name}`)),
      svg('text', { x: x + 6, y: y + 4, class: 'zone-station-label' }, s.id));
  }
  return [roads, zones, stations];
}

/** The shape drawn: the polygon and its vertices, or the circle, its centre and radius handle. */
export function shapeLayer(editor) {
  const g = svg('g', { class: 'zone-shape', 'data-testid': 'zone-editor-shape' });
  if (editor.mode === 'polygon') {
    const pts = editor.polygon.map((p) => editor.project(p[0], p[1]));
    const text = pts.map((p) => p.join(',')).join(' ');
    if (pts.length >= 2) g.append(svg(editor.closed ? 'polygon' : 'polyline', { points: text, class: 'zone-outline' }));
    pts.forEach(([x, y], i) => {
      const cls = ['zone-vertex', i === 0 ? 'is-first' : '', i === editor.selected ? 'is-selected' : ''].join(' ').trim();
      g.append(svg('circle', { cx: x, cy: y, r: i === 0 ? 7 : 6, class: cls, 'data-handle': 'vertex', 'data-index': i, 'data-testid': 'zone-editor-vertex' }));
    });
  } else if (editor.centre) {
    const [cx, cy] = editor.project(editor.centre[0], editor.centre[1]);
    if (editor.radius) {
      const [rx, ry] = circleRadii(editor, editor.centre[0], editor.radius);
      g.append(svg('ellipse', { cx, cy, rx, ry, class: 'zone-outline', 'data-testid': 'zone-editor-circle' }),
        svg('line', { x1: cx, y1: cy, x2: cx + rx, y2: cy, class: 'zone-radius-line' }),
        svg('circle', { cx: cx + rx, cy, r: 6, class: 'zone-vertex', 'data-handle': 'radius', 'data-testid': 'zone-editor-radius-handle' }));
    }
    g.append(svg('circle', { cx, cy, r: 7, class: 'zone-vertex is-first', 'data-handle': 'centre', 'data-testid': 'zone-editor-centre' }));
  }
  return g;
}
