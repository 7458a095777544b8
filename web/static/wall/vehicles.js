/*
 * The wall's vehicles (transport journey monitoring, issue #13): their state, merged from the
 * snapshot's `vehicles` and the `vehicles` delta frames, and a canvas layer over the SVG map.
 *
 * The canvas uses the map's own projection (getProjection() → {toScreen(lat, lon)} or null):
 * reproject() is called whenever the map fits again. Nothing is a DOM node per vehicle. A frame
 * is drawn with requestAnimationFrame only when something changed; a moved vehicle glides to
 * its new position over TWEEN_MS, so frames are drawn while it moves.
 *
 * Markers are stamped into one pixel buffer (ImageData), then put on the canvas at once: one
 * antialiased sprite per state colour and heading (every HEADING_STEP degrees), rasterised
 * once by the canvas itself, kept as the list of its non-empty pixels; states are stamped in
 * drawing order (offline, stopped, moving, violating: the latter on top). Measured in Debian's
 * Chromium with software rendering, 10,000 markers filled as canvas paths took 45-60 ms a
 * frame in batches (600 ms as one path); stamped, about 1 ms plus the put.
 *
 * Clicks are resolved with a uniform grid of screen cells (rebuilt when positions change, in
 * the frame that draws them): pick(x, y) looks at the few cells around the point only.
 *
 * Test and measurement hooks, as attributes of the canvas: data-vehicles (how many),
 * data-frames (frames drawn so far), data-fps (frames drawn per second over the last
 * FPS_WINDOW_MS), data-draw-ms (mean time to draw one frame, last 60 frames), data-selected.
 */

export const VEHICLE_STATES = ['offline', 'stopped', 'moving', 'violating'];  // drawing order
export const VEHICLE_TYPES = ['bus', 'coach', 'truck', 'container', 'tractor', 'taxi'];

/** One colour per state; the legend uses the same. */
export const VEHICLE_COLORS = {
  moving: '#22c55e',
  stopped: '#7ca3d8',
  offline: 'rgba(120, 132, 152, 0.45)',
  violating: '#ef4444',
};

const TWEEN_MS = 1000;        // a moved vehicle glides to its new fix over this long
const FPS_WINDOW_MS = 2000;
const GRID_CELL_PX = 24;
const PICK_RADIUS_PX = 10;
const MARKER_LEN = 5.5;       // tip to centre, px (oriented marker)
const MARKER_BACK = 3.5;      // centre to base, px
const MARKER_HALF_WIDTH = 3.4;
const DOT_RADIUS = 3;         // no heading: a dot
const TRACK_COLOR = '#38bdf8';
const HEADING_STEP = 10;      // sprite per 10° of heading

/** Path of one marker: pointing along heading (degrees clockwise from north), else a dot. */
function addMarker(ctx, x, y, heading) {
  if (heading == null) {
    ctx.moveTo(x + DOT_RADIUS, y);
    ctx.arc(x, y, DOT_RADIUS, 0, Math.PI * 2);
    return;
  }
  const a = (heading * Math.PI) / 180;
  const dx = Math.sin(a);
  const dy = -Math.cos(a);
  const bx = x - dx * MARKER_BACK;
  const by = y - dy * MARKER_BACK;
  ctx.moveTo(x + dx * MARKER_LEN, y + dy * MARKER_LEN);
  ctx.lineTo(bx - dy * MARKER_HALF_WIDTH, by + dx * MARKER_HALF_WIDTH);
  ctx.lineTo(bx + dy * MARKER_HALF_WIDTH, by - dx * MARKER_HALF_WIDTH);
  ctx.closePath();
}

/**
 * Sprites of one state at this device pixel ratio: index h (0 … 360/HEADING_STEP - 1) for a
 * heading, the last one for a dot (no heading). Each: {dx, dy: Int16Array, pixels:
 * Uint32Array} of its non-empty pixels (RGBA as ImageData's Uint32Array view holds them).
 */
function makeSprites(state, dpr) {
  const size = Math.ceil((MARKER_LEN + 2) * 2 * dpr) + 2;
  const half = Math.floor(size / 2);
  const count = 360 / HEADING_STEP;
  const canvas = document.createElement('canvas');
  canvas.width = size * (count + 1);
  canvas.height = size;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = VEHICLE_COLORS[state];
  ctx.strokeStyle = 'rgba(255, 225, 225, 0.95)';
  ctx.lineWidth = 1;
  for (let k = 0; k <= count; k += 1) {
    ctx.setTransform(dpr, 0, 0, dpr, (k * size + half), half);
    ctx.beginPath();
    addMarker(ctx, 0, 0, k < count ? k * HEADING_STEP : null);
    ctx.fill();
    if (state === 'violating') ctx.stroke();
  }
  const all = new Uint32Array(ctx.getImageData(0, 0, canvas.width, size).data.buffer);
  const sprites = [];
  for (let k = 0; k <= count; k += 1) {
    const dx = [];
    const dy = [];
    const pixels = [];
    for (let y = 0; y < size; y += 1) {
      for (let x = 0; x < size; x += 1) {
        const p = all[y * canvas.width + k * size + x];
        if (p >>> 24) { dx.push(x - half); dy.push(y - half); pixels.push(p); }
      }
    }
    sprites.push({ dx: Int16Array.from(dx), dy: Int16Array.from(dy), pixels: Uint32Array.from(pixels) });
  }
  return sprites;
}

function finite(value) {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function normaliseState(value) {
  return VEHICLE_STATES.includes(value) ? value : 'offline';
}

/**
 * canvas         the layer's <canvas>, positioned over the map (pointer-events: none)
 * wrap           the map's container (its size is the canvas's)
 * getProjection  () → the map's current projection, or null
 * onChanged(ids) after vehicles were merged (ids: a Set of those that changed; null = all)
 */
export function createVehicleLayer({ canvas, wrap, getProjection, onChanged = () => {} }) {
  const ctx = canvas.getContext('2d', { alpha: true });
  const byId = new Map();
  let list = [];              // the records, in insertion order (list index = grid item)
  let width = 0;
  let height = 0;
  let dpr = 1;
  let visible = true;
  let frameRequested = false;
  let animateUntil = 0;       // performance.now() until which some vehicle is still gliding
  let gridDirty = true;
  let grid = null;            // { cols, rows, start: Int32Array, items: Int32Array }
  let selectedId = null;
  let track = null;           // { points: [[lat, lon]], screen: Float32Array | null }
  let playback = null;        // { lat, lon, heading }
  const frameTimes = [];
  const drawTimes = [];
  let framesDrawn = 0;
  const buckets = Object.fromEntries(VEHICLE_STATES.map((s) => [s, []]));
  let sprites = null;         // state → sprites, at spritesDpr
  let spritesDpr = 0;
  let image = null;           // ImageData of the canvas's size, and its Uint32Array view
  let buffer = null;

  function project(lat, lon) {
    const projection = getProjection();
    if (!projection || lat == null || lon == null) return null;
    return projection.toScreen(lat, lon);
  }

  /** Merge one vehicle V into its record; returns true when it changed. */
  function merge(v, now, tween) {
    if (!v || v.id == null) return false;
    const id = String(v.id);
    let rec = byId.get(id);
    if (!rec) {
      rec = {
        id, plate: id, type: '', company: '', lat: null, lon: null, speed: null, heading: null,
        ts: null, state: 'offline', x: NaN, y: NaN, x0: NaN, y0: NaN, x1: NaN, y1: NaN, t0: 0,
      };
      byId.set(id, rec);
      list.push(rec);
      tween = false;
    }
    if (v.plate != null) rec.plate = String(v.plate);
    if (v.type != null) rec.type = String(v.type);
    if (v.company != null) rec.company = String(v.company);
    if ('speed' in v) rec.speed = finite(v.speed);
    if ('heading' in v) rec.heading = finite(v.heading);
    if ('ts' in v) rec.ts = v.ts;
    if ('state' in v) rec.state = normaliseState(v.state);
    const lat = 'lat' in v ? finite(v.lat) : rec.lat;
    const lon = 'lon' in v ? finite(v.lon) : rec.lon;
    if (lat !== rec.lat || lon !== rec.lon) {
      rec.lat = lat;
      rec.lon = lon;
      place(rec, now, tween);
    }
    return true;
  }

  /** Screen position of a record from its lat/lon; glide there from where it is drawn. */
  function place(rec, now, tween) {
    const point = project(rec.lat, rec.lon);
    if (!point) {
      rec.x = rec.y = rec.x0 = rec.y0 = rec.x1 = rec.y1 = NaN;
      rec.t0 = 0;
      return;
    }
    if (tween && Number.isFinite(rec.x)) {
      rec.x0 = rec.x;
      rec.y0 = rec.y;
      rec.t0 = now;
      animateUntil = Math.max(animateUntil, now + TWEEN_MS);
    } else {
      rec.x = rec.x0 = point[0];
      rec.y = rec.y0 = point[1];
      rec.t0 = 0;
    }
    rec.x1 = point[0];
    rec.y1 = point[1];
    gridDirty = true;
  }

  function request() {
    if (frameRequested || !visible) return;
    frameRequested = true;
    requestAnimationFrame(frame);
  }

  function resize() {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const ratio = window.devicePixelRatio || 1;
    if (w === width && h === height && ratio === dpr) return;
    width = w;
    height = h;
    dpr = ratio;
    canvas.width = Math.max(1, Math.round(w * ratio));
    canvas.height = Math.max(1, Math.round(h * ratio));
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
    gridDirty = true;
  }

  function frame(now) {
    frameRequested = false;
    if (!visible) return;
    const started = performance.now();
    draw(now);
    if (gridDirty) buildGrid();
    framesDrawn += 1;
    const ended = performance.now();
    frameTimes.push(ended);
    drawTimes.push(ended - started);
    if (drawTimes.length > 60) drawTimes.shift();
    if (framesDrawn % 10 === 1) publishStats();
    if (now < animateUntil) request();
  }

  function draw(now) {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!getProjection()) {
      ctx.clearRect(0, 0, width, height);
      return;
    }

    for (const state of VEHICLE_STATES) buckets[state].length = 0;
    const minX = -10, minY = -10, maxX = width + 10, maxY = height + 10;
    for (let i = 0; i < list.length; i += 1) {
      const rec = list[i];
      if (rec.t0) {
        const k = (now - rec.t0) / TWEEN_MS;
        if (k >= 1 || k < 0) {
          rec.x = rec.x1;
          rec.y = rec.y1;
          rec.t0 = 0;
        } else {
          const e = k * (2 - k);  // ease out
          rec.x = rec.x0 + (rec.x1 - rec.x0) * e;
          rec.y = rec.y0 + (rec.y1 - rec.y0) * e;
        }
      }
      const { x, y } = rec;
      if (!(x >= minX && x <= maxX && y >= minY && y <= maxY)) continue;  // NaN too
      buckets[rec.state].push(rec);
    }

    stampMarkers();
    drawTrack();

    const selected = selectedId ? byId.get(selectedId) : null;
    if (selected && Number.isFinite(selected.x)) {
      ctx.beginPath();
      ctx.arc(selected.x, selected.y, 9, 0, Math.PI * 2);
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
    }
    drawPlayback();
  }

  /** Every bucketed vehicle's sprite into the pixel buffer, then the buffer onto the canvas.
   *  A pixel is replaced unless it is more opaque than the sprite's (antialiased edges do not
   *  eat into a marker drawn before). */
  function stampMarkers() {
    const w = canvas.width;
    const h = canvas.height;
    if (!sprites || spritesDpr !== dpr) {
      sprites = Object.fromEntries(VEHICLE_STATES.map((state) => [state, makeSprites(state, dpr)]));
      spritesDpr = dpr;
    }
    if (!image || image.width !== w || image.height !== h) {
      image = ctx.createImageData(w, h);
      buffer = new Uint32Array(image.data.buffer);
    } else {
      buffer.fill(0);
    }
    const dot = 360 / HEADING_STEP;
    for (const state of VEHICLE_STATES) {
      const batch = buckets[state];
      const set = sprites[state];
      for (let i = 0; i < batch.length; i += 1) {
        const rec = batch[i];
        const heading = rec.heading;
        const k = heading == null ? dot
          : Math.round((((heading % 360) + 360) % 360) / HEADING_STEP) % dot;
        const { dx, dy, pixels } = set[k];
        const cx = Math.round(rec.x * dpr);
        const cy = Math.round(rec.y * dpr);
        for (let j = 0; j < pixels.length; j += 1) {
          const x = cx + dx[j];
          const y = cy + dy[j];
          if (x < 0 || y < 0 || x >= w || y >= h) continue;
          const at = y * w + x;
          const p = pixels[j];
          if ((buffer[at] >>> 24) <= (p >>> 24)) buffer[at] = p;
        }
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  function drawTrack() {
    if (!track || track.points.length < 1) return;
    if (!track.screen) {
      track.screen = new Float32Array(track.points.length * 2);
      for (let i = 0; i < track.points.length; i += 1) {
        const p = project(track.points[i][0], track.points[i][1]);
        track.screen[2 * i] = p ? p[0] : NaN;
        track.screen[2 * i + 1] = p ? p[1] : NaN;
      }
    }
    const s = track.screen;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < s.length; i += 2) {
      if (!Number.isFinite(s[i])) { pen = false; continue; }
      if (pen) ctx.lineTo(s[i], s[i + 1]);
      else { ctx.moveTo(s[i], s[i + 1]); pen = true; }
    }
    ctx.lineWidth = 4;
    ctx.lineJoin = 'round';
    ctx.strokeStyle = 'rgba(10, 18, 32, 0.8)';
    ctx.stroke();
    ctx.lineWidth = 2;
    ctx.strokeStyle = TRACK_COLOR;
    ctx.stroke();
    // Start and end of the day's track.
    for (const [i, color] of [[0, '#ffffff'], [s.length - 2, TRACK_COLOR]]) {
      if (!Number.isFinite(s[i])) continue;
      ctx.beginPath();
      ctx.arc(s[i], s[i + 1], 4, 0, Math.PI * 2);
      ctx.fillStyle = color;
      ctx.fill();
    }
  }

  function drawPlayback() {
    if (!playback) return;
    const p = project(playback.lat, playback.lon);
    if (!p) return;
    ctx.beginPath();
    ctx.arc(p[0], p[1], 8, 0, Math.PI * 2);
    ctx.fillStyle = 'rgba(56, 189, 248, 0.35)';
    ctx.fill();
    ctx.beginPath();
    addMarker(ctx, p[0], p[1], playback.heading ?? null);
    ctx.fillStyle = '#ffffff';
    ctx.fill();
  }

  /** Counting sort of the records into screen cells of GRID_CELL_PX (final positions). */
  function buildGrid() {
    gridDirty = false;
    const cols = Math.max(1, Math.ceil(width / GRID_CELL_PX));
    const rows = Math.max(1, Math.ceil(height / GRID_CELL_PX));
    const cells = cols * rows;
    const cellOf = new Int32Array(list.length);
    const start = new Int32Array(cells + 1);
    for (let i = 0; i < list.length; i += 1) {
      const { x1, y1 } = list[i];
      const cx = Math.floor(x1 / GRID_CELL_PX);
      const cy = Math.floor(y1 / GRID_CELL_PX);
      if (!(cx >= 0 && cx < cols && cy >= 0 && cy < rows)) { cellOf[i] = -1; continue; }
      const cell = cy * cols + cx;
      cellOf[i] = cell;
      start[cell + 1] += 1;
    }
    for (let c = 0; c < cells; c += 1) start[c + 1] += start[c];
    const fill = start.slice(0, cells);
    const items = new Int32Array(start[cells]);
    for (let i = 0; i < list.length; i += 1) {
      const cell = cellOf[i];
      if (cell >= 0) items[fill[cell]++] = i;
    }
    grid = { cols, rows, start, items };
  }

  function publishStats() {
    const now = performance.now();
    while (frameTimes.length && frameTimes[0] < now - FPS_WINDOW_MS) frameTimes.shift();
    const fps = frameTimes.length / (FPS_WINDOW_MS / 1000);
    const mean = drawTimes.length ? drawTimes.reduce((a, b) => a + b, 0) / drawTimes.length : 0;
    canvas.dataset.fps = fps.toFixed(1);
    canvas.dataset.frames = String(framesDrawn);
    canvas.dataset.drawMs = mean.toFixed(2);
    canvas.dataset.vehicles = String(list.length);
  }
  setInterval(publishStats, 500);

  function applyList(vehicles, { tween }) {
    const now = performance.now();
    const changed = new Set();
    for (const v of Array.isArray(vehicles) ? vehicles : []) {
      if (merge(v, now, tween)) changed.add(String(v.id));
    }
    if (changed.size) {
      canvas.dataset.vehicles = String(list.length);
      request();
    }
    return changed;
  }

  return {
    /** The snapshot's vehicles replace all. */
    replaceAll(vehicles) {
      byId.clear();
      list = [];
      gridDirty = true;
      applyList(vehicles, { tween: false });
      canvas.dataset.vehicles = String(list.length);
      request();
      onChanged(null);
    },

    /** A `vehicles` frame: only the vehicles that changed, merged by id. */
    merge(vehicles) {
      const changed = applyList(vehicles, { tween: true });
      if (changed.size) onChanged(changed);
    },

    get(id) { return id == null ? null : byId.get(String(id)) || null; },
    get size() { return list.length; },

    /** The map's projection changed (fit, resize): every screen position again. */
    reproject() {
      resize();
      const now = performance.now();
      for (const rec of list) place(rec, now, false);
      if (track) track.screen = null;
      gridDirty = true;
      request();
    },

    setVisible(on) {
      visible = Boolean(on);
      canvas.hidden = !visible;
      if (visible) request();
    },
    get visible() { return visible; },

    select(id) {
      selectedId = id == null ? null : String(id);
      canvas.dataset.selected = selectedId || '';
      request();
    },
    get selectedId() { return selectedId; },

    /** The day's track of the selected vehicle: [[lat, lon], ...], or null. */
    setTrack(points) {
      track = points && points.length ? { points, screen: null } : null;
      request();
    },

    /** The playback marker: {lat, lon, heading}, or null. */
    setPlayback(position) {
      playback = position;
      request();
    },

    /** The vehicle drawn nearest to (x, y) in map-wrap pixels, within PICK_RADIUS_PX. */
    pick(x, y) {
      if (!visible || !list.length) return null;
      if (gridDirty || !grid) buildGrid();
      const { cols, rows, start, items } = grid;
      const r = PICK_RADIUS_PX + 2;  // a gliding vehicle is near its final cell
      const c0 = Math.max(0, Math.floor((x - r) / GRID_CELL_PX));
      const c1 = Math.min(cols - 1, Math.floor((x + r) / GRID_CELL_PX));
      const r0 = Math.max(0, Math.floor((y - r) / GRID_CELL_PX));
      const r1 = Math.min(rows - 1, Math.floor((y + r) / GRID_CELL_PX));
      let best = null;
      let bestD2 = PICK_RADIUS_PX * PICK_RADIUS_PX;
      for (let row = r0; row <= r1; row += 1) {
        for (let col = c0; col <= c1; col += 1) {
          const cell = row * cols + col;
          for (let k = start[cell]; k < start[cell + 1]; k += 1) {
            const rec = list[items[k]];
            const d2 = (rec.x - x) ** 2 + (rec.y - y) ** 2;
            // Ties: the one drawn on top (violating over moving over stopped over offline).
            if (d2 < bestD2 || (best && d2 === bestD2
                && VEHICLE_STATES.indexOf(rec.state) > VEHICLE_STATES.indexOf(best.state))) {
              best = rec;
              bestD2 = d2;
            }
          }
        }
      }
      return best ? best.id : null;
    },

    /** Draw again on the next animation frame. */
    redraw: request,
  };
}
