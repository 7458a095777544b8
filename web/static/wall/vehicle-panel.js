/*
 * The panel of a clicked vehicle: plate, type, company, speed, state, last fix; today's track
 * (GET /api/v1/vehicles/{id}/track?date=YYYY-MM-DD, a GeoJSON FeatureCollection whose
 * LineString carries properties.times [ISO] and properties.speeds [km/h]) drawn on the
 * vehicle layer, and a playback of it: play / pause, ×10 / ×60, a time slider, a marker
 * moving along the track.
 *
 * A failed or refused track call (the route may not exist yet: 404) is said in words in the
 * panel; the rest of the panel works without it.
 */

import { VEHICLE_COLORS } from './vehicles.js';

const SLIDER_STEPS = 1000;
const PLAYBACK_RATES = [10, 60];
const FETCH_TIMEOUT_MS = 20000;

/** Great-circle distance in km. */
function haversineKm(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 12742 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing a → b, degrees clockwise from north. */
function bearing(a, b) {
  const rad = Math.PI / 180;
  const y = Math.sin((b[1] - a[1]) * rad) * Math.cos(b[0] * rad);
  const x = Math.cos(a[0] * rad) * Math.sin(b[0] * rad)
    - Math.sin(a[0] * rad) * Math.cos(b[0] * rad) * Math.cos((b[1] - a[1]) * rad);
  return ((Math.atan2(y, x) / rad) + 360) % 360;
}

/**
 * The day's track from the GeoJSON answer: {points: [[lat, lon]], times: [ms], speeds: [km/h
 * or null]}, ascending in time; null when the answer is not a track. Fixes without a valid
 * time are dropped when the track has times at all.
 */
export function parseTrack(body) {
  const { parseTime } = window.IOC;
  if (!body || typeof body !== 'object') return null;
  const features = body.type === 'FeatureCollection' ? body.features : body.type === 'Feature' ? [body] : null;
  if (!Array.isArray(features)) return null;
  const line = features.find((f) => f && f.geometry && f.geometry.type === 'LineString');
  if (!line) return features.length === 0 ? { points: [], times: [], speeds: [] } : null;
  const coordinates = Array.isArray(line.geometry.coordinates) ? line.geometry.coordinates : [];
  const props = line.properties || {};
  const times = Array.isArray(props.times) ? props.times : null;
  const speeds = Array.isArray(props.speeds) ? props.speeds : [];
  const fixes = [];
  coordinates.forEach((c, i) => {
    if (!Array.isArray(c) || c.length < 2) return;
    const lon = Number(c[0]);
    const lat = Number(c[1]);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    const ms = times ? parseTime(times[i]) : i * 1000;
    if (ms == null) return;
    const speed = Number(speeds[i]);
    fixes.push({ lat, lon, ms, speed: speeds[i] != null && Number.isFinite(speed) ? speed : null });
  });
  fixes.sort((a, b) => a.ms - b.ms);
  return {
    points: fixes.map((f) => [f.lat, f.lon]),
    times: fixes.map((f) => f.ms),
    speeds: fixes.map((f) => f.speed),
    timed: Boolean(times),
  };
}

/**
 * root        the panel's container (hidden while closed)
 * layer       the vehicle layer (get, select, setTrack, setPlayback)
 * t, formatNumber, formatTime (ms → HH:mm:ss local), formatDateTime, nowMs
 * onClose()   the panel closed itself (close button)
 */
export function createVehiclePanel({ root, layer, t, formatNumber, formatTime, formatDateTime, nowMs, onClose }) {
  const { el, setText, zonedParts } = window.IOC;
  let vehicleId = null;
  let track = null;         // parseTrack() result
  let trackState = 'idle';  // idle | loading | ready | none | empty | error
  let trackError = '';
  let requestNo = 0;
  let controller = null;
  const play = { playing: false, rate: PLAYBACK_RATES[0], at: 0, last: 0, frame: 0 };

  // ----- skeleton
  const plate = el('h3', { class: 'vp-plate mono', 'data-testid': 'vehicle-panel-plate' });
  const dot = el('span', { class: 'vp-dot' });
  const closeButton = el('button', { type: 'button', class: 'tip-close', 'data-testid': 'vehicle-panel-close' }, '×');
  const facts = el('dl', { class: 'vp-facts', 'data-testid': 'vehicle-panel-facts' });
  const trackTitle = el('h4', { class: 'vp-track-title' });
  const trackMessage = el('div', { class: 'vp-track-message', 'data-testid': 'vehicle-track-message', role: 'status' });
  const trackSummary = el('div', { class: 'vp-track-summary muted', 'data-testid': 'vehicle-track-summary' });
  const playButton = el('button', { type: 'button', class: 'vp-play', 'data-testid': 'vehicle-play' });
  const rateButtons = PLAYBACK_RATES.map((rate) => el('button', {
    type: 'button', 'data-rate': String(rate), 'data-testid': `vehicle-rate-${rate}`,
  }, `×${rate}`));
  const rates = el('div', { class: 'seg-toggle vp-rates', role: 'group' }, ...rateButtons);
  const slider = el('input', {
    type: 'range', min: 0, max: SLIDER_STEPS, step: 1, value: 0, class: 'vp-slider',
    'data-testid': 'vehicle-slider',
  });
  const playTime = el('span', { class: 'vp-play-time mono', 'data-testid': 'vehicle-playback-time' });
  const playSpeed = el('span', { class: 'vp-play-speed mono muted' });
  const controls = el('div', { class: 'vp-playback', 'data-testid': 'vehicle-playback' },
    el('div', { class: 'vp-playback-row' }, playButton, rates, playTime, playSpeed), slider);
  const driverImage = el('img', { class: 'vp-driver-image', alt: '', 'data-testid': 'vehicle-driver-image' });
  const driverCaption = el('figcaption', { class: 'muted' });
  const driver = el('figure', { class: 'vp-driver', hidden: true }, driverImage, driverCaption);
  root.replaceChildren(
    el('div', { class: 'vp-head' }, dot, plate, closeButton),
    facts,
    driver,
    el('section', { class: 'vp-track' }, trackTitle, trackMessage, trackSummary, controls),
  );
  root.hidden = true;

  closeButton.addEventListener('click', () => { api.close(); onClose(); });
  playButton.addEventListener('click', () => (play.playing ? pause() : start()));
  for (const button of rateButtons) {
    button.addEventListener('click', () => { play.rate = Number(button.dataset.rate); renderControls(); });
  }
  slider.addEventListener('input', () => {
    if (!track || !track.times.length) return;
    const [t0, t1] = span();
    play.at = t0 + ((t1 - t0) * Number(slider.value)) / SLIDER_STEPS;
    showPlayback({ fromSlider: true });
  });

  // ----- track
  function todayLocal() {
    const p = zonedParts(nowMs());
    return `${p.year}-${p.month}-${p.day}`;
  }

  async function loadTrack(id) {
    const mine = ++requestNo;
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    track = null;
    trackState = 'loading';
    stop();
    layer.setTrack(null);
    renderTrack();
    const url = `/api/v1/vehicles/${encodeURIComponent(id)}/track?date=${todayLocal()}`;
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, FETCH_TIMEOUT_MS);
    let status = 0;
    let body = null;
    let reason = '';
    try {
      const response = await fetch(url, { signal, cache: 'no-store', headers: { Accept: 'application/geo+json, application/json' } });
      status = response.status;
      if (status === 401) { window.IOC.toLogin(); return; }
      const text = await response.text();
      try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
      if (!response.ok) reason = `HTTP ${status}${body?.error ? ` · ${body.error}` : ''}`;
    } catch (err) {
      if (signal.aborted && !timedOut) return;  // superseded or closed
      reason = timedOut ? 'timeout' : err?.message || String(err);
    } finally {
      clearTimeout(timer);
    }
    if (mine !== requestNo || id !== vehicleId) return;
    controller = null;
    if (status === 404) {
      trackState = 'none';
    } else if (reason) {
      trackState = 'error';
      trackError = reason;
    } else {
      const parsed = parseTrack(body);
      if (!parsed) {
        trackState = 'error';
        trackError = t('vehTrackInvalid');
      } else if (!parsed.points.length) {
        trackState = 'empty';
      } else {
        track = parsed;
        trackState = 'ready';
        play.at = parsed.times[parsed.times.length - 1];
        layer.setTrack(parsed.points);
      }
    }
    if (trackState !== 'ready') console.warn('[wall] track of', id, trackState, trackError);
    renderTrack();
  }

  // ----- the latest driver image of the day (GET /api/v1/vehicles/{id}/images)
  async function loadDriverImage(id) {
    driver.hidden = true;
    let images = [];
    try {
      const url = `/api/v1/vehicles/${encodeURIComponent(id)}/images?date=${todayLocal()}`;
      const response = await fetch(url, { cache: 'no-store' });
      if (response.ok) images = (await response.json()).images || [];
    } catch (_) {
      images = [];
    }
    const latest = images[images.length - 1];
    if (id !== vehicleId || !latest) return;
    driverImage.src = latest.url;
    setText(driverCaption, t('vehDriverImage', formatTime(Date.parse(latest.time))));
    driver.hidden = false;
  }

  function span() {
    return [track.times[0], track.times[track.times.length - 1]];
  }

  /** Position at time ms: interpolated between the fixes around it. */
  function positionAt(ms) {
    const { times, points, speeds } = track;
    let lo = 0;
    let hi = times.length - 1;
    if (ms <= times[0]) lo = hi = 0;
    else if (ms >= times[hi]) lo = hi;
    else {
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (times[mid] <= ms) lo = mid; else hi = mid;
      }
    }
    const a = points[lo];
    const b = points[hi];
    const k = hi === lo || times[hi] === times[lo] ? 0 : (ms - times[lo]) / (times[hi] - times[lo]);
    const heading = hi !== lo ? bearing(a, b) : lo > 0 ? bearing(points[lo - 1], a) : null;
    return {
      lat: a[0] + (b[0] - a[0]) * k,
      lon: a[1] + (b[1] - a[1]) * k,
      heading,
      speed: speeds[k < 0.5 ? lo : hi],
    };
  }

  // ----- playback
  function start() {
    if (!track || track.times.length < 2) return;
    const [t0, t1] = span();
    if (play.at >= t1) play.at = t0;  // from the start again
    play.playing = true;
    play.last = performance.now();
    play.frame = requestAnimationFrame(step);
    renderControls();
  }

  function pause() {
    play.playing = false;
    cancelAnimationFrame(play.frame);
    renderControls();
  }

  function stop() {
    pause();
    layer.setPlayback(null);
  }

  function step(now) {
    if (!play.playing || !track) return;
    const dt = now - play.last;
    play.last = now;
    const [, t1] = span();
    play.at = Math.min(t1, play.at + dt * play.rate);
    showPlayback({});
    if (play.at >= t1) { pause(); return; }
    play.frame = requestAnimationFrame(step);
  }

  function showPlayback({ fromSlider = false }) {
    if (!track || !track.times.length) return;
    const pos = positionAt(play.at);
    layer.setPlayback(pos);
    const [t0, t1] = span();
    if (!fromSlider) slider.value = String(t1 > t0 ? Math.round(((play.at - t0) / (t1 - t0)) * SLIDER_STEPS) : SLIDER_STEPS);
    setText(playTime, formatTime(play.at));
    setText(playSpeed, pos.speed == null ? '' : `${formatNumber(Math.round(pos.speed))} km/h`);
    root.dataset.playbackAt = new Date(play.at).toISOString();
  }

  // ----- rendering
  function renderFacts() {
    const v = layer.get(vehicleId);
    if (!v) return;
    setText(plate, v.plate || v.id);
    dot.style.background = VEHICLE_COLORS[v.state] || VEHICLE_COLORS.offline;
    root.dataset.vehicleId = v.id;
    root.dataset.state = v.state;
    const typeKey = `vehType_${v.type}`;
    const typeWords = t(typeKey);
    const rows = [
      [t('vehPanelType'), v.type ? (typeWords !== typeKey ? typeWords : v.type) : '—'],
      [t('vehPanelCompany'), v.company || '—'],
      [t('vehPanelSpeed'), v.speed == null ? '—' : `${formatNumber(Math.round(v.speed * 10) / 10)} km/h`],
      [t('vehPanelHeading'), v.heading == null ? '—' : `${Math.round(v.heading)}°`],
      [t('vehPanelState'), t(`vehState_${v.state}`)],
      [t('vehPanelLastFix'), v.ts ? formatDateTime(v.ts) : '—'],
    ];
    facts.replaceChildren(...rows.flatMap(([k, value]) => [el('dt', {}, k), el('dd', {}, value)]));
  }

  function renderTrack() {
    setText(trackTitle, `${t('vehPanelTrack')} · ${todayLocal().split('-').reverse().join('/')}`);
    root.dataset.track = trackState;
    const message = {
      idle: '',
      loading: t('vehTrackLoading'),
      none: t('vehTrackNone'),
      empty: t('vehTrackEmpty'),
      error: t('vehTrackError', trackError),
      ready: '',
    }[trackState];
    setText(trackMessage, message);
    trackMessage.hidden = !message;
    trackMessage.dataset.kind = trackState;
    if (track && trackState === 'ready') {
      let km = 0;
      for (let i = 1; i < track.points.length; i += 1) km += haversineKm(track.points[i - 1], track.points[i]);
      setText(trackSummary, `${t('vehTrackSummary', track.points.length, formatNumber(Math.round(km * 10) / 10))}`
        + ` · ${formatTime(track.times[0])}–${formatTime(track.times[track.times.length - 1])}`);
      trackSummary.hidden = false;
    } else {
      trackSummary.hidden = true;
    }
    controls.hidden = !(track && trackState === 'ready' && track.times.length >= 2);
    if (!controls.hidden) showPlayback({});
    renderControls();
  }

  function renderControls() {
    setText(playButton, play.playing ? `❚❚ ${t('vehPause')}` : `▶ ${t('vehPlay')}`);
    playButton.setAttribute('aria-pressed', String(play.playing));
    root.dataset.playing = String(play.playing);
    for (const button of rateButtons) {
      const active = Number(button.dataset.rate) === play.rate;
      button.classList.toggle('is-active', active);
      button.setAttribute('aria-pressed', String(active));
    }
    rates.setAttribute('aria-label', t('vehPlaybackSpeed'));
    slider.setAttribute('aria-label', t('vehPlaybackTime'));
    closeButton.setAttribute('aria-label', t('vehPanelClose'));
    closeButton.title = t('vehPanelClose');
  }

  const api = {
    open(id) {
      if (id == null || !layer.get(id)) return;
      vehicleId = String(id);
      layer.select(vehicleId);
      root.hidden = false;
      renderFacts();
      loadTrack(vehicleId);
      loadDriverImage(vehicleId);
    },

    close() {
      if (vehicleId == null) return;
      vehicleId = null;
      requestNo += 1;
      controller?.abort();
      controller = null;
      stop();
      track = null;
      trackState = 'idle';
      layer.setTrack(null);
      layer.select(null);
      root.hidden = true;
      delete root.dataset.vehicleId;
    },

    get vehicleId() { return vehicleId; },

    /** Vehicles changed (ids: a Set, or null for all). */
    onVehicles(ids) {
      if (vehicleId == null) return;
      if (!layer.get(vehicleId)) { api.close(); return; }
      if (!ids || ids.has(vehicleId)) renderFacts();
    },

    onLanguage() {
      if (vehicleId == null) { renderControls(); return; }
      renderFacts();
      renderTrack();
    },
  };
  return api;
}
