/*
 * The vehicle part of the wall, wired to wall.js by a handful of calls: the canvas layer
 * (vehicles.js), the counters tile, the legend, the stations / vehicles layer toggle, the
 * violation ticker (vehicle-ticker.js) and the vehicle panel (vehicle-panel.js).
 *
 * Websocket contract (server → wall):
 *   snapshot   + vehicles: [V], vehicle_counts: {online, moving, violations_today}
 *              (missing: no vehicles, zeros)
 *   vehicles   {seq, vehicles: [V] (only those that changed), counts: {...}}
 *   alert      rule_id journey.*, station_id = the vehicle id: the ticker
 *   V = {id, plate, type, company, lat, lon, speed, heading, ts, state}
 */

import { createVehicleLayer, VEHICLE_COLORS, VEHICLE_STATES } from './vehicles.js';
import { createVehiclePanel } from './vehicle-panel.js';
import { createTicker } from './vehicle-ticker.js';

const LAYERS_STORAGE_KEY = 'ioc.wall.layers';
const LEGEND_ORDER = ['moving', 'stopped', 'violating', 'offline'];

/**
 * t, formatNumber, formatTime, formatDateTime, nowMs: the wall's helpers
 * getProjection()    the map's projection or null
 * onVehicleSelected  a vehicle panel opened (the wall closes its station panel)
 */
export function createVehicleWall({
  t, formatNumber, formatTime, formatDateTime, nowMs, getProjection, onVehicleSelected,
}) {
  const { $, el, svgEl, setText } = window.IOC;
  const wrap = $('map-wrap');
  const counts = { online: 0, moving: 0, violations_today: 0 };

  const layer = createVehicleLayer({
    canvas: $('vehicle-canvas'),
    wrap,
    getProjection,
    onChanged: (ids) => {
      panel.onVehicles(ids);
      if (ids === null) ticker.render();  // plates known now
    },
  });
  const panel = createVehiclePanel({
    root: $('vehicle-panel'), layer, t, formatNumber, formatTime, formatDateTime, nowMs,
    onClose: () => {},
  });
  const ticker = createTicker({
    list: $('vehicle-ticker-list'),
    empty: $('vehicle-ticker-empty'),
    t,
    formatTime,
    formatNumber,
    plateOf: (id) => layer.get(id)?.plate || null,
    onPick: (id) => open(id),
  });

  function open(id) {
    if (!layer.get(id)) return;
    onVehicleSelected();
    panel.open(id);
  }

  // ----- click on the map: the nearest vehicle within a few px, before the stations see it
  wrap.addEventListener('click', (event) => {
    if (!layer.visible || event.target.closest('#vehicle-panel, #station-tooltip, #camera-grid, .map-legend, .vehicle-legend')) return;
    const box = wrap.getBoundingClientRect();
    const id = layer.pick(event.clientX - box.left, event.clientY - box.top);
    if (id) {
      event.stopPropagation();
      open(id);
    } else if (panel.vehicleId && event.target.closest('#map')) {
      panel.close();  // a click on the empty map closes the panel, as for a station
    }
  }, { capture: true });

  // ----- layer toggle (stations, vehicles: each on or off)
  const layers = { stations: true, vehicles: true };
  try {
    const saved = JSON.parse(localStorage.getItem(LAYERS_STORAGE_KEY) || 'null');
    if (saved && typeof saved === 'object') {
      for (const key of Object.keys(layers)) if (typeof saved[key] === 'boolean') layers[key] = saved[key];
    }
  } catch (_) { /* ignore */ }
  const layerButtons = [...document.querySelectorAll('[data-map-layer]')];
  for (const button of layerButtons) {
    button.addEventListener('click', () => {
      const key = button.dataset.mapLayer;
      layers[key] = !layers[key];
      try { localStorage.setItem(LAYERS_STORAGE_KEY, JSON.stringify(layers)); } catch (_) { /* ignore */ }
      applyLayers();
    });
  }
  function applyLayers() {
    for (const button of layerButtons) {
      const on = layers[button.dataset.mapLayer];
      button.classList.toggle('is-active', on);
      button.setAttribute('aria-pressed', String(on));
    }
    wrap.dataset.stations = layers.stations ? 'on' : 'off';
    wrap.dataset.vehicles = layers.vehicles ? 'on' : 'off';
    layer.setVisible(layers.vehicles);
    $('vehicle-legend').hidden = !layers.vehicles;
    if (!layers.vehicles) panel.close();
  }
  applyLayers();

  // ----- counters tile and legend
  function renderCounts() {
    const tile = $('kpi-vehicles');
    for (const [key, id] of [['online', 'kpi-veh-online'], ['moving', 'kpi-veh-moving'], ['violations_today', 'kpi-veh-violations']]) {
      setText($(id), formatNumber(counts[key]));
      tile.dataset[key === 'violations_today' ? 'violations' : key] = String(counts[key]);
    }
    tile.querySelector('.veh-violations').classList.toggle('is-zero', counts.violations_today === 0);
  }

  function setCounts(value) {
    const source = value && typeof value === 'object' ? value : {};
    for (const key of Object.keys(counts)) {
      const n = Number(source[key]);
      counts[key] = Number.isFinite(n) && n >= 0 ? Math.round(n) : 0;
    }
    renderCounts();
  }

  function renderLegend() {
    const legend = $('vehicle-legend');
    const items = LEGEND_ORDER.map((state) => {
      const swatch = svgEl('svg', { viewBox: '-6 -6 12 12', class: 'legend-swatch' });
      swatch.append(svgEl('path', {
        d: 'M0,-5.5 L3.4,3.5 L-3.4,3.5 Z',
        fill: VEHICLE_COLORS[state],
        stroke: state === 'violating' ? '#ffe1e1' : 'none',
        'stroke-width': 0.8,
      }));
      return el('span', { class: 'legend-item', 'data-vehicle-state': state }, swatch, t(`vehState_${state}`));
    });
    legend.replaceChildren(el('span', { class: 'legend-title' }, t('vehLegendTitle')), ...items);
  }

  function renderLanguage() {
    renderLegend();
    renderCounts();
    ticker.render();
    panel.onLanguage();
    setText($('vehicle-ticker-title'), t('vehTickerTitle'));
    $('map-layer-toggle').setAttribute('aria-label', t('vehLayerLabel'));
  }
  renderLanguage();

  return {
    layer,
    states: VEHICLE_STATES,

    applySnapshot(msg) {
      layer.replaceAll(Array.isArray(msg.vehicles) ? msg.vehicles : []);
      setCounts(msg.vehicle_counts);
      ticker.replaceAll(msg.alerts);
    },

    /** A `vehicles` frame; counts missing: the last ones stay. */
    applyVehicles(msg) {
      layer.merge(Array.isArray(msg.vehicles) ? msg.vehicles : []);
      if (msg.counts && typeof msg.counts === 'object') setCounts(msg.counts);
    },

    /** Every `alert` frame: journey.* ones go to the ticker. */
    applyAlert(event, alert) {
      return ticker.apply(event, alert);
    },

    /** The map fitted again (resize, stations moved, legend height). */
    onProjection() {
      layer.reproject();
    },

    onLanguage: renderLanguage,

    close() {
      panel.close();
    },

    get panelOpen() { return panel.vehicleId != null; },
  };
}
