/*
 * The trend panel's data: a station's readings of the last 24 hours (GET /api/v1/readings) as
 * one ascending series [[ms, value], ...] per parameter, and the feed's live values appended
 * to them. A value flagged by its <parameter>_status (calibrating, device error) is left out.
 */

const READINGS_LIMIT = 10000;     // the API's maximum rows
const FETCH_TIMEOUT_MS = 20000;

/** Reading fields that are not plottable parameters (tags, flags, band codes). */
const NON_PARAMETER_KEYS = new Set(['time', 'station', 'station_id', 'kind', 'owner', 'aqi_band']);

/** Whether a reading's or a station's field is a plottable parameter. */
export function isParameterKey(key) {
  return !NON_PARAMETER_KEYS.has(key) && !key.endsWith('_status');
}

/** ISO 8601 in UTC with Z and whole seconds, e.g. 2026-11-23T08:05:00Z. */
function isoUtc(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * GET /api/v1/readings of `stationId` since `sinceMs`: { readings } or { error }; null when
 * `controller` aborted it (superseded or closed). After 20 s: { error: 'timeout' }.
 */
export async function fetchReadings(stationId, sinceMs, controller) {
  let timedOut = false;
  const timeout = setTimeout(() => { timedOut = true; controller.abort(); }, FETCH_TIMEOUT_MS);
  const url = `/api/v1/readings?station=${encodeURIComponent(stationId)}`
    + `&since=${isoUtc(sinceMs)}&limit=${READINGS_LIMIT}`;
  try {
    const response = await fetch(url, {
      signal: controller.signal, cache: 'no-store', headers: { Accept: 'application/json' },
    });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) throw new Error(`HTTP ${response.status}${body?.error ? ` · ${body.error}` : ''}`);
    if (!body || !Array.isArray(body.readings)) throw new Error('invalid response');
    return { readings: body.readings };
  } catch (err) {
    if (controller.signal.aborted && !timedOut) return null;
    return { error: timedOut ? 'timeout' : err?.message || String(err) };
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * Readings (newest first, one object per time) -> a new Map parameter -> ascending series.
 * Points of `previous` newer than a parameter's newest reading (live values) are kept.
 */
export function seriesFromReadings(readings, previous, parseTime) {
  const fresh = new Map();
  for (let i = readings.length - 1; i >= 0; i -= 1) {
    const row = readings[i];
    const ms = parseTime(row?.time);
    if (ms == null) continue;
    for (const [key, value] of Object.entries(row)) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      if (!isParameterKey(key)) continue;
      const flag = row[`${key}_status`];
      if (flag != null && flag !== 0 && flag !== 'measuring') continue; // calibrating / device error
      let points = fresh.get(key);
      if (!points) fresh.set(key, (points = []));
      points.push([ms, value]);
    }
  }
  for (const points of fresh.values()) points.sort((a, b) => a[0] - b[0]);
  for (const [key, old] of previous) {
    const points = fresh.get(key) || [];
    const newest = points.length ? points[points.length - 1][0] : -Infinity;
    const newer = old.filter(([ms]) => ms > newest);
    if (newer.length) fresh.set(key, points.concat(newer));
  }
  return fresh;
}

/**
 * Append a station delta's `values` at time `ms` to `series` (in place); a value for the time
 * of the last point replaces it, an older one is dropped. Returns the parameters that changed.
 */
export function appendLiveValues(series, values, ms) {
  const { finiteOrNull } = window.IOC;
  const changed = new Set();
  for (const [key, raw] of Object.entries(values)) {
    const value = finiteOrNull(raw);
    if (value == null || !isParameterKey(key)) continue;
    let points = series.get(key);
    if (!points) series.set(key, (points = []));
    const last = points[points.length - 1];
    if (last && ms < last[0]) continue;
    if (last && ms === last[0]) {
      if (last[1] === value) continue;
      last[1] = value;
    } else {
      points.push([ms, value]);
    }
    changed.add(key);
  }
  return changed;
}
