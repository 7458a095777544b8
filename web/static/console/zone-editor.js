/*
 * Zone drawing editor of the officer console (issue #13): draws a transport zone (polygon or
 * circle) on a plane in an equirectangular projection, with no map tiles: the registry's
 * stations as dots, the fleet's other zones as outlines with their names, the province's roads
 * and towns (GET /api/v1/fleet/map), a lat/lon graticule with labels, zoom (wheel, buttons)
 * and pan (drag).
 *
 * Polygon: a click adds a vertex, a vertex drags, a click on the first vertex (or Enter, or
 * "Close") finishes, Backspace / "Undo" removes the last one, a selected vertex is deleted
 * with Delete or its button in the list. Circle: a click puts the centre, the handle on its
 * edge drags the radius, or the radius is typed in metres; the circle is drawn true to scale
 * at its latitude. Coordinates are rounded to 6 decimals.
 *
 * openZoneEditor({shape, centre, radius_m, polygon, exclude, readOnly, onApply}) shows it
 * (exclude: the id of the zone edited, not drawn as a reference); onApply gets {shape, centre,
 * radius_m} or {shape, polygon}. It only edits a shape: the zone form sends it, and the
 * service validates it (ioc/fleet.py ZoneEntry).
 *
 * This file holds the ZoneEditor (its state, DOM, events and editing); its strings are in
 * console/zone-editor-i18n.js, its geometry in console/zone-geometry.js, the plane's layers
 * in console/zone-plane.js and the side panel in console/zone-side.js.
 */
import { zt } from './zone-editor-i18n.js';
import {
  W, H, M_PER_DEG, MAX_RADIUS_M, DEFAULT_CENTRE, DRAG_PX, setPlaneSize, round6, isPoint,
} from './zone-geometry.js';
import { svg, html, loadReference, graticule, referenceLayers, shapeLayer } from './zone-plane.js';
import { renderSide } from './zone-side.js';

export { zt } from './zone-editor-i18n.js';
export { round6, polygonAreaKm2 } from './zone-geometry.js';

let openEditor = null; // one at a time

/** Shows the editor; resolves when it is closed. */
export function openZoneEditor(options) {
  if (openEditor) openEditor.cancel();
  const editor = new ZoneEditor(options);
  openEditor = editor;
  editor.show();
  return editor;
}

class ZoneEditor {
  constructor({ shape, centre, radius_m: radius, polygon, exclude, onApply, onClose, readOnly }) {
    this.onApply = onApply;
    this.onClose = onClose;
    this.readOnly = Boolean(readOnly);
    this.exclude = exclude || '';
    this.mode = shape === 'polygon' ? 'polygon' : 'circle';
    this.polygon = Array.isArray(polygon) ? polygon.filter(isPoint).map((p) => [round6(p[0]), round6(p[1])]) : [];
    this.closed = this.polygon.length >= 3;
    this.centre = isPoint(centre) ? [round6(centre[0]), round6(centre[1])] : null;
    this.radius = Number(radius) > 0 ? Number(radius) : null;
    this.selected = null; // index of the selected vertex
    this.reference = { stations: [], zones: [], roads: [], towns: [] };
    this.view = { lat: DEFAULT_CENTRE[0], lon: DEFAULT_CENTRE[1], k: 4000, lat0: DEFAULT_CENTRE[0] };
    this.press = null;
    this.observer = new MutationObserver(() => this.relabel());
  }

  // ----------------------------------------------------------------- projection

  project(lat, lon) {
    const v = this.view;
    return [W / 2 + (lon - v.lon) * Math.cos((v.lat0 * Math.PI) / 180) * v.k, H / 2 - (lat - v.lat) * v.k];
  }

  unproject(x, y) {
    const v = this.view;
    return [v.lat - (y - H / 2) / v.k, v.lon + (x - W / 2) / (Math.cos((v.lat0 * Math.PI) / 180) * v.k)];
  }

  /** An event's point in the plane's coordinates (the viewBox). */
  planePoint(event) {
    const ctm = this.svg.getScreenCTM();
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(ctm.inverse());
    return [p.x, p.y];
  }

  /** The viewBox follows the plane's size (the view's centre stays: it shows more or less). */
  measure() {
    const width = Math.round(this.svg.clientWidth);
    const height = Math.round(this.svg.clientHeight);
    if (width > 0 && height > 0 && (width !== W || height !== H)) {
      setPlaneSize(width, height);
      this.svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    }
  }

  /** Fits the view to the shape drawn, or else to the reference layers. */
  fit() {
    this.measure();
    let points = this.mode === 'polygon' ? [...this.polygon] : [];
    if (this.mode === 'circle' && this.centre) {
      const r = this.radius || 500;
      const kx = M_PER_DEG * Math.cos((this.centre[0] * Math.PI) / 180);
      points = [[this.centre[0] - r / M_PER_DEG, this.centre[1] - r / kx], [this.centre[0] + r / M_PER_DEG, this.centre[1] + r / kx]];
    }
    if (!points.length) {
      points = this.reference.stations.map((s) => [s.lat, s.lon]);
      for (const z of this.reference.zones) {
        if (z.shape === 'polygon' && Array.isArray(z.polygon)) points.push(...z.polygon.filter(isPoint));
        if (z.shape === 'circle' && isPoint(z.centre)) points.push(z.centre);
      }
    }
    if (!points.length) points = [DEFAULT_CENTRE];
    const lats = points.map((p) => Number(p[0]));
    const lons = points.map((p) => Number(p[1]));
    const [minLat, maxLat, minLon, maxLon] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    const lat = (minLat + maxLat) / 2;
    const cos = Math.cos((lat * Math.PI) / 180);
    const spanLat = Math.max(maxLat - minLat, 0.01);
    const spanLon = Math.max((maxLon - minLon) * cos, 0.01);
    this.view = { lat, lon: (minLon + maxLon) / 2, lat0: lat, k: Math.min((H * 0.8) / spanLat, (W * 0.8) / spanLon) };
    this.draw();
  }

  zoom(factor, at = [W / 2, H / 2]) {
    const before = this.unproject(...at);
    this.view.k = Math.min(Math.max(this.view.k * factor, 20), 5e7);
    const after = this.unproject(...at);
    this.view.lat += before[0] - after[0];
    this.view.lon += before[1] - after[1];
    this.draw();
  }

  // ----------------------------------------------------------------------- DOM

  show() {
    const button = (name, testid, cls = 'ghost small') => {
      const b = html('button', { type: 'button', class: cls, 'data-testid': `zone-editor-${testid}`, 'data-zt': name }, zt(name));
      return b;
    };
    this.buttons = {
      polygon: button('polygon', 'mode-polygon'),
      circle: button('circle', 'mode-circle'),
      undo: button('undo', 'undo'),
      close: button('closePolygon', 'close-polygon'),
      deleteVertex: button('deleteVertex', 'delete-vertex'),
      clear: button('clear', 'clear'),
      zoomIn: html('button', { type: 'button', class: 'ghost small', 'data-testid': 'zone-editor-zoom-in' }, '+'),
      zoomOut: html('button', { type: 'button', class: 'ghost small', 'data-testid': 'zone-editor-zoom-out' }, '−'),
      fit: button('fit', 'fit'),
      apply: button('apply', 'apply', 'primary'),
      cancel: button('cancel', 'cancel', 'ghost'),
    };
    const b = this.buttons;
    b.polygon.setAttribute('aria-pressed', 'false');
    b.circle.setAttribute('aria-pressed', 'false');
    this.svg = svg('svg', {
      viewBox: `0 0 ${W} ${H}`, class: 'zone-plane', 'data-testid': 'zone-editor-plane', tabindex: 0, role: 'application',
    });
    this.radiusInput = html('input', { type: 'number', min: 1, max: MAX_RADIUS_M, step: 1, class: 'mono', id: 'zone-editor-radius', 'data-testid': 'zone-editor-radius' });
    this.stats = html('div', { class: 'zone-stats', 'data-testid': 'zone-editor-stats', role: 'status' });
    this.vertexList = html('ol', { class: 'zone-vertices mono', 'data-testid': 'zone-editor-vertices' });
    this.hint = html('p', { class: 'muted small zone-hint' });
    this.problem = html('p', { class: 'zone-problem small', 'data-testid': 'zone-editor-problem' });
    this.titleNode = html('h2', { id: 'zone-editor-title' }, zt('title'));
    this.radiusLabel = html('label', { for: 'zone-editor-radius' }, zt('radius'));
    this.radiusRow = html('div', { class: 'form-row' }, this.radiusLabel, this.radiusInput);
    this.legend = html('div', { class: 'zone-legend small muted' });
    const dialog = html('div', {
      class: 'zone-editor', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'zone-editor-title', 'data-testid': 'zone-editor',
    },
    html('div', { class: 'zone-editor-head' }, this.titleNode,
      html('div', { class: 'zone-tools', role: 'toolbar' }, b.polygon, b.circle, html('span', { class: 'zone-sep' }), b.undo, b.close, b.deleteVertex, b.clear,
        html('span', { class: 'zone-sep' }), b.zoomOut, b.zoomIn, b.fit)),
    html('div', { class: 'zone-editor-body' },
      html('div', { class: 'zone-plane-box' }, this.svg, this.hint),
      html('div', { class: 'zone-side' }, this.stats, this.radiusRow, this.vertexList, this.legend, this.problem,
        html('div', { class: 'zone-actions' }, b.apply, b.cancel))));
    this.root = html('div', { class: 'zone-editor-backdrop', 'data-testid': 'zone-editor-backdrop' }, dialog);
    this.dialog = dialog;
    document.body.append(this.root);
    this.returnFocus = document.activeElement;

    b.polygon.addEventListener('click', () => this.setMode('polygon'));
    b.circle.addEventListener('click', () => this.setMode('circle'));
    b.undo.addEventListener('click', () => this.undo());
    b.close.addEventListener('click', () => this.closePolygon());
    b.deleteVertex.addEventListener('click', () => this.deleteVertex(this.selected));
    b.clear.addEventListener('click', () => this.clear());
    b.zoomIn.addEventListener('click', () => this.zoom(1.5));
    b.zoomOut.addEventListener('click', () => this.zoom(1 / 1.5));
    b.fit.addEventListener('click', () => this.fit());
    b.apply.addEventListener('click', () => this.apply());
    b.cancel.addEventListener('click', () => this.cancel());
    this.radiusInput.addEventListener('input', () => {
      const r = Number(this.radiusInput.value);
      this.radius = this.radiusInput.value.trim() && r > 0 ? Math.round(r * 10) / 10 : null;
      this.draw({ keepRadius: true });
    });
    this.svg.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.svg.addEventListener('pointermove', (e) => this.pointerMove(e));
    this.svg.addEventListener('pointerup', (e) => this.pointerUp(e));
    this.svg.addEventListener('pointercancel', () => { this.press = null; });
    this.svg.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1.25 : 1 / 1.25, this.planePoint(e));
    }, { passive: false });
    this.root.addEventListener('keydown', (e) => this.key(e));
    this.observer.observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
    this.resized = new ResizeObserver(() => this.draw({ keepRadius: true }));
    this.resized.observe(this.svg);

    this.relabel();
    this.fit();
    this.svg.focus();
    loadReference(this.exclude).then((reference) => {
      if (!this.root.isConnected) return;
      this.reference = reference;
      if (!this.polygon.length && !this.centre) this.fit(); else this.draw();
      this.root.dataset.ready = 'true';
    });
  }

  relabel() {
    for (const node of this.root.querySelectorAll('[data-zt]')) node.textContent = zt(node.dataset.zt);
    this.buttons.zoomIn.title = zt('zoomIn');
    this.buttons.zoomIn.setAttribute('aria-label', zt('zoomIn'));
    this.buttons.zoomOut.title = zt('zoomOut');
    this.buttons.zoomOut.setAttribute('aria-label', zt('zoomOut'));
    this.titleNode.textContent = zt('title');
    this.radiusLabel.textContent = zt('radius');
    this.svg.setAttribute('aria-label', zt('map'));
    this.legend.replaceChildren(
      html('span', { class: 'zone-key zone-key-station' }), ` ${zt('legendStations')}  `,
      html('span', { class: 'zone-key zone-key-zone' }), ` ${zt('legendZones')}`,
    );
    this.draw({ keepRadius: true });
  }

  setMode(mode) {
    if (this.readOnly) return;
    this.mode = mode;
    this.selected = null;
    this.draw();
  }

  // ------------------------------------------------------------------- editing

  undo() {
    if (this.mode === 'polygon') {
      if (this.closed) this.closed = false;
      else this.polygon.pop();
      this.selected = null;
    } else {
      this.centre = null;
    }
    this.draw();
  }

  closePolygon() {
    if (this.polygon.length >= 3) this.closed = true;
    this.draw();
  }

  deleteVertex(index) {
    if (index == null || index < 0 || index >= this.polygon.length) return;
    this.polygon.splice(index, 1);
    if (this.polygon.length < 3) this.closed = false;
    this.selected = null;
    this.draw();
  }

  clear() {
    if (this.mode === 'polygon') {
      this.polygon = [];
      this.closed = false;
      this.selected = null;
    } else {
      this.centre = null;
    }
    this.draw();
  }

  key(e) {
    if (e.key === 'Escape') {
      e.preventDefault();
      this.cancel();
      return;
    }
    if (e.key === 'Tab') { // the focus stays in the dialog
      const focusable = [...this.dialog.querySelectorAll('button:not(:disabled), input:not(:disabled), [tabindex="0"]')]
        .filter((node) => node.getClientRects().length > 0); // not hidden
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      return;
    }
    if (e.target === this.svg && this.keyView(e.key)) {
      e.preventDefault();
      return;
    }
    const typing = e.target instanceof HTMLInputElement;
    if (typing || this.mode !== 'polygon' || this.readOnly) return;
    if (e.key === 'Enter' && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      this.closePolygon();
    } else if (e.key === 'Backspace') {
      e.preventDefault();
      this.undo();
    } else if (e.key === 'Delete' && this.selected != null) {
      e.preventDefault();
      this.deleteVertex(this.selected);
    }
  }

  /** The plane focused: arrows pan (a tenth of it), + and - zoom. */
  keyView(key) {
    const cos = Math.cos((this.view.lat0 * Math.PI) / 180);
    const dLat = (H / 10) / this.view.k;
    const dLon = (W / 10) / (cos * this.view.k);
    const moves = { ArrowUp: [dLat, 0], ArrowDown: [-dLat, 0], ArrowLeft: [0, -dLon], ArrowRight: [0, dLon] };
    if (moves[key]) {
      this.view.lat += moves[key][0];
      this.view.lon += moves[key][1];
      this.draw({ keepRadius: true });
      return true;
    }
    if (key === '+' || key === '=') this.zoom(1.5);
    else if (key === '-') this.zoom(1 / 1.5);
    else return false;
    return true;
  }

  pointerDown(e) {
    if (e.button !== 0) return;
    const target = e.target.closest('[data-handle]');
    const [x, y] = this.planePoint(e);
    this.press = { x, y, moved: false, handle: target ? target.dataset.handle : null, index: target ? Number(target.dataset.index) : null, view: { ...this.view } };
    this.svg.setPointerCapture(e.pointerId);
  }

  pointerMove(e) {
    if (!this.press) return;
    const [x, y] = this.planePoint(e);
    const p = this.press;
    if (!p.moved && Math.hypot(x - p.x, y - p.y) < DRAG_PX) return;
    p.moved = true;
    const [lat, lon] = this.unproject(x, y).map(round6);
    if (this.readOnly || !p.handle) { // pan
      const cos = Math.cos((p.view.lat0 * Math.PI) / 180);
      this.view.lat = p.view.lat + (y - p.y) / p.view.k;
      this.view.lon = p.view.lon - (x - p.x) / (cos * p.view.k);
      this.draw({ keepRadius: true });
    } else if (p.handle === 'vertex') {
      this.polygon[p.index] = [lat, lon];
      this.selected = p.index;
      this.draw();
    } else if (p.handle === 'centre') {
      this.centre = [lat, lon];
      this.draw();
    } else if (p.handle === 'radius' && this.centre) {
      const kx = M_PER_DEG * Math.cos((this.centre[0] * Math.PI) / 180);
      const r = Math.hypot((lat - this.centre[0]) * M_PER_DEG, (lon - this.centre[1]) * kx);
      this.radius = Math.min(Math.max(Math.round(r), 1), MAX_RADIUS_M);
      this.draw();
    }
  }

  pointerUp(e) {
    const p = this.press;
    this.press = null;
    if (!p || p.moved || this.readOnly) return;
    const [lat, lon] = this.unproject(...this.planePoint(e)).map(round6);
    if (this.mode === 'polygon') {
      if (p.handle === 'vertex') {
        if (p.index === 0 && !this.closed && this.polygon.length >= 3) this.closed = true;
        else this.selected = p.index;
      } else if (!this.closed) {
        this.polygon.push([lat, lon]);
        this.selected = null;
      }
    } else if (!p.handle) {
      this.centre = [lat, lon];
      if (!this.radius) this.radius = 500;
    }
    this.draw();
  }

  // ------------------------------------------------------------------- drawing

  draw({ keepRadius = false } = {}) {
    if (!this.svg) return;
    this.measure();
    const layers = [graticule(this), ...referenceLayers(this), shapeLayer(this)];
    this.svg.replaceChildren(...layers);
    this.svg.dataset.mode = this.mode;
    this.svg.dataset.view = JSON.stringify(this.view); // for tests: the projection in use
    renderSide(this, keepRadius);
  }

  /** The shape drawn as the zone's fields, or null while it is not one yet. */
  result() {
    if (this.mode === 'polygon') {
      return this.polygon.length >= 3 ? { shape: 'polygon', polygon: this.polygon.map(([a, b]) => [round6(a), round6(b)]) } : null;
    }
    if (!this.centre || !(this.radius > 0) || this.radius > MAX_RADIUS_M) return null;
    return { shape: 'circle', centre: [round6(this.centre[0]), round6(this.centre[1])], radius_m: this.radius };
  }

  apply() {
    const result = this.result();
    if (!result) return;
    this.closed = true;
    this.dispose();
    if (this.onApply) this.onApply(result);
  }

  cancel() {
    this.dispose();
  }

  dispose() {
    this.observer.disconnect();
    this.resized.disconnect();
    this.root.remove();
    if (openEditor === this) openEditor = null;
    if (this.onClose) this.onClose();
    if (this.returnFocus && this.returnFocus.isConnected) this.returnFocus.focus();
  }
}
