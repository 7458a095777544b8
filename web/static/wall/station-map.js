/*
 * The wall's station map: one SVG marker per station (shape by kind, colour by status or by
 * VN_AQI band, alerting stations on top with a pulse ring and their name), the lat/lon grid,
 * the scale bar and north arrow, the legend and the status / AQI colouring switch (?map=).
 *
 * Station names on the map never overlap (layoutLabels): the labelled stations are placed
 * greedily, highest priority first (a critical alert, then by status: alert, offline, unknown,
 * ok), each label above its marker, else below, right or left of it, whichever position does
 * not overlap a label already placed; a label with no free position is hidden (the station's
 * tooltip still names it). Measured in the label's own font, so it holds at any size (kiosk).
 *
 * The projection comes from the basemap (wall/map.js: Leaflet fitted to the stations); without
 * Leaflet, the map fits its own equirectangular projection. The map is fitted again on every
 * resize and whenever the stations' bounding box may have changed.
 */

import { createBasemap } from './map.js';
import { AQI_BANDS, KINDS, STATUSES, aqiBandOf, niceStep } from './format.js';

const MAP_COLOR_STORAGE_KEY = 'ioc.wall.mapColor';
const MAP_COLOR_MODES = ['status', 'aqi'];
const LABEL_STATUS_RANK = { alert: 1, offline: 2, unknown: 3, ok: 4 };
const LABEL_GAP = 2;       // px kept free around a label
const LABEL_MARKER_R = 11; // px from a marker's centre to its label

/** Two boxes {left, top, right, bottom} overlap (touching edges do not). */
function overlaps(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/**
 * Greedy label placement. items: [{ id, point: [x, y], width, ascent, descent, rank }] in
 * any order; returns id -> { x, y, anchor } (baseline position relative to the marker) or
 * null (no free position: hide). Lower rank first; bounds {width, height}: a position inside
 * the map is preferred to one that spills over its edge; obstacles: boxes no label may cover
 * (the markers).
 */
export function placeLabels(items, bounds, obstacles = []) {
  const placed = [...obstacles]; // the markers themselves: a name never covers a marker
  const result = new Map();
  const ordered = [...items].sort((a, b) => a.rank - b.rank
    || String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
  for (const item of ordered) {
    const { width: w, ascent, descent } = item;
    const [px, py] = item.point;
    const r = LABEL_MARKER_R;
    const mid = (ascent - descent) / 2;
    const candidates = [
      { x: 0, y: -r - descent, anchor: 'middle' },
      { x: 0, y: r + ascent, anchor: 'middle' },
      { x: r + 2, y: mid, anchor: 'start' },
      { x: -r - 2, y: mid, anchor: 'end' },
    ];
    const boxOf = (c) => {
      const left = px + c.x - (c.anchor === 'middle' ? w / 2 : c.anchor === 'end' ? w : 0);
      const top = py + c.y - ascent;
      return { left: left - LABEL_GAP, top: top - LABEL_GAP, right: left + w + LABEL_GAP, bottom: top + ascent + descent + LABEL_GAP };
    };
    const inside = (box) => !bounds || (box.left >= 0 && box.top >= 0
      && box.right <= bounds.width && box.bottom <= bounds.height);
    let chosen = null;
    let spilling = null;
    for (const c of candidates) {
      const box = boxOf(c);
      if (placed.some((other) => overlaps(box, other))) continue;
      if (inside(box)) { chosen = { c, box }; break; }
      spilling = spilling || { c, box };
    }
    chosen = chosen || spilling;
    if (chosen) placed.push(chosen.box);
    result.set(item.id, chosen ? chosen.c : null);
  }
  return result;
}

/** A marker's shape, centred on 0,0. */
function shape(tag, attrs) {
  return window.IOC.svgEl(tag, { class: 'shape', ...attrs });
}

const MARKER_SHAPES = {
  air: () => shape('circle', { r: 6.5 }),
  weather: () => shape('path', { d: 'M0,-8.5 L7.8,5.5 L-7.8,5.5 Z' }),
  stack: () => shape('rect', { x: -6, y: -6, width: 12, height: 12 }),
  wastewater: () => shape('path', { d: 'M0,-8.5 L8.5,0 L0,8.5 L-8.5,0 Z' }),
  groundwater: () => shape('path', { d: 'M0,8.5 L7.8,-5.5 L-7.8,-5.5 Z' }),
};

/**
 * state             the wall's state (wall.js): stations, openAlerts, mapColor and
 *                   hoveredStationId (both written here)
 * fmt               the wall's formatters (wall/format.js)
 * onSelect(id)      a marker was clicked (null: the map's background)
 * onHover()         the hovered station (state.hoveredStationId) changed
 * onMarkersPlaced() the markers moved (a fit with stations placed)
 * onProjection()    the projection changed (or is gone: no station has coordinates)
 */
export function createStationMap({ state, fmt, onSelect, onHover, onMarkersPlaced, onProjection }) {
  const { $, el, svgEl, setText, pickSetting } = window.IOC;
  const { t, formatNumber, statusLabel, kindLabel, aqiBandLabel } = fmt;

  const map = {
    svg: null,
    wrap: null,
    width: 0,
    height: 0,
    projection: null,
    basemap: null,      // wall/map.js (Leaflet), or null: the wall's own projection
    markers: new Map(), // id -> { group, label }
    renderLegend,

    init() {
      for (const button of document.querySelectorAll('button[data-map-color]')) {
        button.addEventListener('click', () => setMapColor(button.dataset.mapColor, { persist: true }));
      }
      setMapColor(pickSetting('map', MAP_COLOR_STORAGE_KEY, MAP_COLOR_MODES, 'status'), { persist: false });
      this.svg = $('map');
      this.wrap = $('map-wrap');
      this.layerNormal = $('map-layer-normal');
      this.layerAlert = $('map-layer-alert');
      // Pulse rings are HTML elements beneath the SVG so the browser can
      // animate them on the compositor instead of repainting the SVG.
      this.pulseLayer = $('map-pulses');
      this.basemap = createBasemap({
        container: $('basemap'),
        wrap: this.wrap,
        note: $('basemap-note'),
        t,
        onChange: () => { if (this.projection) this.fit(); },
      });
      this.svg.addEventListener('pointerover', (e) => this.onPointer(e, 'over'));
      this.svg.addEventListener('pointerout', (e) => this.onPointer(e, 'out'));
      this.svg.addEventListener('click', (e) => {
        const marker = e.target.closest('.marker');
        if (marker) onSelect(marker.dataset.stationId);
        else onSelect(null);
      });
      new ResizeObserver(() => this.fit()).observe(this.wrap);
      renderLegend();
    },

    onPointer(event, phase) {
      const marker = event.target.closest('.marker');
      if (!marker) return;
      if (phase === 'over') {
        state.hoveredStationId = marker.dataset.stationId;
      } else if (!marker.contains(event.relatedTarget)) {
        state.hoveredStationId = null;
      }
      onHover();
    },

    /** Full rebuild: used on snapshot only. */
    rebuild() {
      this.layerNormal.replaceChildren();
      this.layerAlert.replaceChildren();
      this.pulseLayer.replaceChildren();
      this.markers.clear();
      for (const station of state.stations.values()) this.createMarker(station);
      this.fit();
    },

    addStation(station) {
      this.createMarker(station);
      this.fit(); // the bounding box may have grown
    },

    createMarker(station) {
      const group = svgEl('g', {
        class: 'marker',
        'data-testid': 'station-marker',
        'data-station-id': station.id,
        'data-status': station.status || 'unknown',
        'data-kind': station.kind || 'air',
        tabindex: 0,
      });
      group.append(
        svgEl('circle', { class: 'hit', r: 13 }),
        (MARKER_SHAPES[station.kind] || MARKER_SHAPES.air)(),
      );
      const label = svgEl('text', { class: 'marker-label', 'data-testid': 'marker-label', y: -14, 'text-anchor': 'middle' });
      group.append(label);
      group.addEventListener('focus', () => { state.hoveredStationId = station.id; onHover(); });
      group.addEventListener('blur', () => { state.hoveredStationId = null; onHover(); });
      this.markers.set(station.id, { group, label, ring: null, point: null });
      this.placeMarker(station);
      this.applyStatus(station);
      this.applyAqi(station);
    },

    /** Incremental update for a station delta. */
    updateStation(station, previousStatus) {
      const marker = this.markers.get(station.id);
      if (!marker) return;
      if (previousStatus !== station.status) this.applyStatus(station);
      this.applyAqi(station);
    },

    /** Air stations carry their VN_AQI band for the "AQI" colouring (CSS does the rest). */
    applyAqi(station) {
      const marker = this.markers.get(station.id);
      if (!marker || (station.kind || 'air') !== 'air') return;
      const band = aqiBandOf(station.values);
      const value = band == null ? 'none' : String(band);
      if (marker.group.dataset.aqiBand !== value) marker.group.dataset.aqiBand = value;
    },

    applyStatus(station) {
      const marker = this.markers.get(station.id);
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      marker.group.setAttribute('data-status', status);
      const layer = status === 'alert' ? this.layerAlert : this.layerNormal;
      if (marker.group.parentNode !== layer) layer.append(marker.group); // alerts drawn on top
      if (status === 'alert' && !marker.ring) {
        marker.ring = el('span', { class: 'pulse-ring' });
        this.pulseLayer.append(marker.ring);
        this.positionRing(marker);
      } else if (status !== 'alert' && marker.ring) {
        marker.ring.remove();
        marker.ring = null;
      }
      this.updateLabel(station);
    },

    /** Alerting stations carry their name on the map. */
    updateLabel(station) {
      const marker = this.markers.get(station.id);
      if (!marker) return;
      const show = station.status === 'alert' || this.stationHasCriticalAlert(station.id);
      const text = show ? station.name || station.id : '';
      if (marker.label.textContent !== text) {
        setText(marker.label, text);
        this.scheduleLabelLayout();
      }
    },

    scheduleLabelLayout() {
      if (this.labelFrame) return;
      this.labelFrame = requestAnimationFrame(() => {
        this.labelFrame = 0;
        this.layoutLabels();
      });
    },

    /** Place the map's labels so that none overlaps another (see the header). */
    layoutLabels() {
      const labelled = [];
      for (const [id, marker] of this.markers) {
        const { label } = marker;
        if (!label.textContent || !marker.point) continue;
        label.removeAttribute('display');
        label.setAttribute('x', 0);
        label.setAttribute('y', 0);
        label.setAttribute('text-anchor', 'start');
        labelled.push([id, marker]);
      }
      const items = [];
      for (const [id, marker] of labelled) { // every write above, then every read: one layout
        let box;
        try { box = marker.label.getBBox(); } catch (_) { box = null; }
        if (!box || !box.width) continue;
        const status = marker.group.getAttribute('data-status');
        items.push({
          id,
          point: marker.point,
          width: box.width,
          ascent: -box.y,
          descent: box.y + box.height,
          rank: this.stationHasCriticalAlert(id) ? 0 : (LABEL_STATUS_RANK[status] ?? 5),
        });
      }
      const obstacles = [];
      for (const marker of this.markers.values()) {
        if (!marker.point || marker.group.getAttribute('display') === 'none') continue;
        const [x, y] = marker.point;
        const r = LABEL_MARKER_R - 3;
        obstacles.push({ left: x - r, top: y - r, right: x + r, bottom: y + r });
      }
      const positions = placeLabels(items, { width: this.width, height: this.height }, obstacles);
      for (const [id, marker] of labelled) {
        const position = positions.get(id);
        const { label } = marker;
        if (!position) {
          label.setAttribute('display', 'none');
          label.dataset.placement = 'hidden';
          continue;
        }
        label.setAttribute('x', position.x.toFixed(1));
        label.setAttribute('y', position.y.toFixed(1));
        label.setAttribute('text-anchor', position.anchor);
        label.dataset.placement = position.anchor === 'middle'
          ? (position.y < 0 ? 'above' : 'below') : (position.anchor === 'start' ? 'right' : 'left');
      }
    },

    refreshLabels() {
      for (const station of state.stations.values()) this.updateLabel(station);
      this.scheduleLabelLayout(); // the priorities follow the alerts
    },

    stationHasCriticalAlert(stationId) {
      for (const alert of state.openAlerts.values()) {
        if (String(alert.station_id) === stationId && alert.severity === 'critical') return true;
      }
      return false;
    },

    placeMarker(station) {
      const marker = this.markers.get(station.id);
      const point = this.project(station);
      marker.point = point;
      this.positionRing(marker);
      if (!point) {
        marker.group.setAttribute('display', 'none');
        return;
      }
      marker.group.removeAttribute('display');
      marker.group.setAttribute('transform', `translate(${point[0].toFixed(1)},${point[1].toFixed(1)})`);
    },

    positionRing(marker) {
      if (!marker.ring) return;
      marker.ring.hidden = !marker.point;
      if (marker.point) {
        marker.ring.style.left = `${marker.point[0].toFixed(1)}px`;
        marker.ring.style.top = `${marker.point[1].toFixed(1)}px`;
      }
    },

    hasCoordinates(station) {
      return Number.isFinite(Number(station.lat)) && Number.isFinite(Number(station.lon))
        && station.lat !== null && station.lon !== null;
    },

    project(station) {
      if (!this.projection || !this.hasCoordinates(station)) return null;
      return this.projection.toScreen(Number(station.lat), Number(station.lon));
    },

    /**
     * Fit an equirectangular projection (x scaled by cos(mid-latitude)) to
     * the bounding box of all stations plus padding, centred in the panel.
     */
    fit() {
      const width = this.wrap.clientWidth;
      const height = this.wrap.clientHeight;
      if (!width || !height) return;
      this.width = width;
      this.height = height;
      this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);

      let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
      let placed = 0;
      for (const s of state.stations.values()) {
        if (!this.hasCoordinates(s)) continue;
        const lat = Number(s.lat), lon = Number(s.lon);
        minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
        minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
        placed += 1;
      }
      $('map-empty').hidden = state.stations.size > 0;
      setText($('map-meta'), state.stations.size ? t('mapMeta', state.stations.size, state.stations.size - placed) : '');
      if (!placed) {
        this.projection = null;
        $('map-grid').replaceChildren();
        $('map-grid-labels').replaceChildren();
        $('map-scale').replaceChildren();
        onProjection();
        return;
      }

      // Avoid a degenerate box (single station / all on a line).
      const MIN_SPAN = 0.05;
      if (maxLat - minLat < MIN_SPAN) { const c = (maxLat + minLat) / 2; minLat = c - MIN_SPAN / 2; maxLat = c + MIN_SPAN / 2; }
      if (maxLon - minLon < MIN_SPAN) { const c = (maxLon + minLon) / 2; minLon = c - MIN_SPAN / 2; maxLon = c + MIN_SPAN / 2; }

      const midLat = (minLat + maxLat) / 2;
      const kx = Math.cos((midLat * Math.PI) / 180);
      const padX = Math.max(36, width * 0.06);
      const padTop = Math.max(36, height * 0.06);
      // Keep the bottom strip (legend, scale bar) clear of markers.
      const legendHeight = $('map-legend').offsetHeight || 0;
      const padBottom = Math.max(60, legendHeight + 34);
      if (this.basemap) {
        this.projection = this.basemap.fit({ minLat, maxLat, minLon, maxLon }, { padTop, padBottom, padX });
      } else {
        const spanX = (maxLon - minLon) * kx;
        const spanY = maxLat - minLat;
        const scale = Math.min((width - 2 * padX) / spanX, (height - padTop - padBottom) / spanY);
        const centerLon = (minLon + maxLon) / 2;
        const cx = width / 2;
        const cy = padTop + (height - padTop - padBottom) / 2;

        this.projection = {
          scale,
          kx,
          toScreen: (lat, lon) => [cx + (lon - centerLon) * kx * scale, cy - (lat - midLat) * scale],
          toGeo: (x, y) => [midLat - (y - cy) / scale, centerLon + (x - cx) / (kx * scale)],
        };
      }

      for (const station of state.stations.values()) this.placeMarker(station);
      this.layoutLabels();
      this.drawGraticule();
      this.drawScaleBar();
      onMarkersPlaced();
      onProjection();
    },

    /** Light lat/lon grid covering the whole visible panel. */
    drawGraticule() {
      const grid = $('map-grid');
      const labels = $('map-grid-labels');
      const [topLat, leftLon] = this.projection.toGeo(0, 0);
      const [bottomLat, rightLon] = this.projection.toGeo(this.width, this.height);
      const step = niceStep(Math.max(rightLon - leftLon, topLat - bottomLat) / 7);
      const digits = (String(Number(step.toFixed(6))).split('.')[1] || '').length;

      const gridNodes = [];
      const labelNodes = [];
      // Iterate on integer multiples of the step to avoid floating-point drift.
      let lastLabelX = -Infinity;
      for (let i = Math.ceil(leftLon / step); i * step <= rightLon; i += 1) {
        const lon = i * step;
        const [x] = this.projection.toScreen(bottomLat, lon);
        gridNodes.push(svgEl('line', { x1: x.toFixed(1), y1: 0, x2: x.toFixed(1), y2: this.height }));
        if (x > this.width - 90) continue; // keep clear of the edge and north arrow
        if (x - lastLabelX < 80 || x < 64) continue; // a short, wide map: no overlapping labels
        lastLabelX = x;
        const label = svgEl('text', { x: (x + 4).toFixed(1), y: 16 });
        label.textContent = `${lon.toFixed(digits)}°E`;
        labelNodes.push(label);
      }
      for (let i = Math.ceil(bottomLat / step); i * step <= topLat; i += 1) {
        const lat = i * step;
        const [, y] = this.projection.toScreen(lat, leftLon);
        gridNodes.push(svgEl('line', { x1: 0, y1: y.toFixed(1), x2: this.width, y2: y.toFixed(1) }));
        const label = svgEl('text', { x: 6, y: (y - 5).toFixed(1) });
        label.textContent = `${lat.toFixed(digits)}°N`;
        labelNodes.push(label);
      }
      grid.replaceChildren(...gridNodes);
      labels.replaceChildren(...labelNodes);
    },

    drawScaleBar() {
      const group = $('map-scale');
      const KM_PER_DEG_LAT = 111.32;
      const pxPerKm = this.projection.scale / KM_PER_DEG_LAT;
      const targetKm = (this.width * 0.12) / pxPerKm;
      const km = niceStep(targetKm);
      const len = km * pxPerKm;
      const x = this.width - len - 28;
      const y = this.height - 24 - (this.basemap?.bottomInset() || 0); // above the attribution
      const text = svgEl('text', { x: (x + len / 2).toFixed(1), y: y - 8, 'text-anchor': 'middle' });
      text.textContent = `${formatNumber(km)} ${t('scaleKm')}`;
      const north = svgEl('g', { class: 'north', transform: `translate(${this.width - 30},${48})` });
      north.append(
        svgEl('path', { d: 'M0,-18 L7,4 L0,-1 L-7,4 Z' }),
        Object.assign(svgEl('text', { y: 18, 'text-anchor': 'middle' }), { textContent: 'N' }),
      );
      group.replaceChildren(
        svgEl('path', { d: `M${x},${y - 5} V${y} H${x + len} V${y - 5}` }),
        text,
        north,
      );
    },
  };

  function renderLegend() {
    const legend = $('map-legend');
    legend.dataset.mode = state.mapColor;
    const statusItems = STATUSES.map((status) => {
      const svg = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch', 'data-status': status });
      svg.append(svgEl('circle', { class: 'shape', r: 6.5 }));
      return el('span', { class: 'legend-item' }, svg, statusLabel(status));
    });
    if (state.mapColor === 'aqi') {
      const bandItems = AQI_BANDS.map((band, i) => {
        const svg = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch', 'data-aqi-band': i });
        svg.append(svgEl('circle', { class: 'shape', r: 6.5 }));
        const low = i === 0 ? 0 : AQI_BANDS[i - 1].max + 1;
        const range = Number.isFinite(band.max) ? `${low}–${band.max}` : `${low}+`;
        return el('span', { class: 'legend-item', title: range }, svg, aqiBandLabel(i));
      });
      const none = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch', 'data-aqi-band': 'none' });
      none.append(svgEl('circle', { class: 'shape', r: 6.5 }));
      bandItems.push(el('span', { class: 'legend-item' }, none, t('legendNoAqi')));
      statusItems.splice(0, statusItems.length, ...bandItems);
    }
    const kindItems = KINDS.map((kind) => {
      const svg = svgEl('svg', { viewBox: '-10 -10 20 20', class: 'legend-swatch legend-kind' });
      svg.append(MARKER_SHAPES[kind]());
      return el('span', { class: 'legend-item' }, svg, kindLabel(kind));
    });
    legend.replaceChildren(
      el('div', { class: 'legend-group' },
        el('span', { class: 'legend-title' }, state.mapColor === 'aqi' ? t('legendAqi') : t('legendStatus')), ...statusItems),
      el('div', { class: 'legend-group' }, el('span', { class: 'legend-title' }, t('legendKind')), ...kindItems),
    );
  }

  /** Marker colouring: by status, or air stations by VN_AQI band (?map=status|aqi). */
  function setMapColor(mode, { persist }) {
    if (!MAP_COLOR_MODES.includes(mode)) return;
    const changed = state.mapColor !== mode;
    state.mapColor = mode;
    $('map').dataset.colorMode = mode;
    document.body.dataset.mapColor = mode;
    for (const button of document.querySelectorAll('button[data-map-color]')) {
      const active = button.dataset.mapColor === mode;
      button.classList.toggle('is-active', active);
      button.setAttribute('aria-pressed', String(active));
    }
    if (persist) {
      try { localStorage.setItem(MAP_COLOR_STORAGE_KEY, mode); } catch (_) { /* ignore */ }
    }
    if (changed) {
      renderLegend();
      if (map.projection) map.fit(); // the legend height may have changed
    }
  }

  map.init();
  return map;
}
