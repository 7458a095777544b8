/*
 * The wall's KPI tiles: stations online (of all), offline and unknown; open alerts by severity;
 * alerts opened in the last hour (resolved ones included); the worst VN_AQI and the worst
 * forest fire danger, each naming its station (a click or Enter opens that station).
 * The tiles carry their numbers as data-* for tests and styling.
 */

import { STATUSES, SEVERITY_ORDER, ROMAN, aqiBandOf, fireLevelOf } from './format.js';

const HOUR_MS = 3600 * 1000;

/**
 * state             the wall's state (wall.js): stations, openAlerts, alertOpenTimes (pruned here)
 * fmt               the wall's formatters (wall/format.js)
 * onSelectStation   an AQI or fire tile was opened: select its station
 */
export function createKpis({ state, fmt, onSelectStation }) {
  const { $, setText, finiteOrNull } = window.IOC;
  const { t, nowMs, aqiBandLabel, fireLevelLabel } = fmt;

  for (const tile of document.querySelectorAll('.kpi-env')) {
    const open = () => { if (tile.dataset.stationId) onSelectStation(tile.dataset.stationId); };
    tile.addEventListener('click', open);
    tile.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
  }

  function render() {
    const counts = { ok: 0, alert: 0, offline: 0, unknown: 0 };
    for (const station of state.stations.values()) {
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      counts[status] += 1;
    }
    const total = state.stations.size;
    const online = counts.ok + counts.alert;

    setText($('kpi-online-count'), online);
    setText($('kpi-total-count'), total);
    $('kpi-online-bar').style.width = total ? `${(online / total) * 100}%` : '0%';
    const onlineTile = document.querySelector('[data-testid="kpi-online"]');
    onlineTile.dataset.online = String(online);
    onlineTile.dataset.total = String(total);

    setText($('kpi-offline-count'), counts.offline);
    setText($('kpi-unknown-count'), counts.unknown);
    document.querySelector('[data-testid="kpi-offline"]').classList.toggle('is-bad', counts.offline > 0);

    const bySeverity = { critical: 0, warning: 0, info: 0 };
    for (const alert of state.openAlerts.values()) {
      const sev = SEVERITY_ORDER[alert.severity] != null ? alert.severity : 'info';
      bySeverity[sev] += 1;
    }
    const alertTile = document.querySelector('[data-testid="kpi-alerts"]');
    setText($('kpi-alerts-total'), state.openAlerts.size);
    for (const sev of Object.keys(bySeverity)) {
      setText($(`kpi-alerts-${sev}`), bySeverity[sev]);
      alertTile.dataset[sev] = String(bySeverity[sev]);
      alertTile.querySelector(`.sev-${sev}`).classList.toggle('is-zero', bySeverity[sev] === 0);
    }
    alertTile.dataset.total = String(state.openAlerts.size);

    renderLastHour();
    renderEnvTiles();
  }

  /**
   * Worst VN_AQI (max aqi) and worst forest fire danger (max fire_level, then
   * nesterov) over all stations that report them. Text is set only on change.
   */
  function renderEnvTiles() {
    let worstAqi = null;
    let worstFire = null;
    for (const station of state.stations.values()) {
      const values = station.values;
      if (!values) continue;
      const aqi = finiteOrNull(values.aqi);
      if (aqi != null && aqi >= 0 && (!worstAqi || aqi > worstAqi.value)) worstAqi = { station, value: aqi };
      const level = fireLevelOf(values);
      if (level != null) {
        const nesterov = finiteOrNull(values.nesterov) ?? -Infinity;
        if (!worstFire || level > worstFire.level || (level === worstFire.level && nesterov > worstFire.nesterov)) {
          worstFire = { station, level, nesterov };
        }
      }
    }

    const aqiBand = worstAqi ? aqiBandOf(worstAqi.station.values) : null;
    renderEnvTile({
      tile: document.querySelector('[data-testid="kpi-aqi"]'),
      prefix: 'kpi-aqi',
      station: worstAqi?.station,
      level: aqiBand,
      valueText: worstAqi ? String(Math.round(worstAqi.value)) : '—',
      labelText: aqiBand != null ? aqiBandLabel(aqiBand) : '',
      data: { aqi: worstAqi ? String(worstAqi.value) : '', band: aqiBand != null ? String(aqiBand) : 'none' },
    });
    renderEnvTile({
      tile: document.querySelector('[data-testid="kpi-fire"]'),
      prefix: 'kpi-fire',
      station: worstFire?.station,
      level: worstFire ? worstFire.level - 1 : null,
      valueText: worstFire ? ROMAN[worstFire.level - 1] : '—',
      labelText: worstFire ? fireLevelLabel(worstFire.level) : '',
      data: { level: worstFire ? String(worstFire.level) : 'none' },
    });
  }

  function renderEnvTile({ tile, prefix, station, level, valueText, labelText, data }) {
    for (const [key, value] of Object.entries(data)) {
      if (tile.dataset[key] !== value) tile.dataset[key] = value;
    }
    const stationId = station ? station.id : '';
    if ((tile.dataset.stationId || '') !== stationId) tile.dataset.stationId = stationId;
    tile.classList.toggle('is-empty', !station);
    tile.tabIndex = station ? 0 : -1;
    setText($(`${prefix}-value`), valueText);
    const chip = $(`${prefix}-label`);
    setText(chip, labelText);
    if (chip.title !== labelText) chip.title = labelText;
    chip.hidden = !labelText;
    const sub = $(`${prefix}-station`);
    const subText = station ? station.name || station.id : t('kpiNoData');
    setText(sub, subText);
    if (sub.title !== subText) sub.title = station ? `${subText} · ${station.id}` : '';
    sub.classList.toggle('muted', !station);
    const cells = $(`${prefix}-scale`).children;
    for (let i = 0; i < cells.length; i += 1) cells[i].classList.toggle('is-current', i === level);
  }

  function renderLastHour() {
    const cutoff = nowMs() - HOUR_MS;
    let count = 0;
    for (const [id, openedAt] of state.alertOpenTimes) {
      if (openedAt >= cutoff) count += 1;
      else if (!state.openAlerts.has(id)) state.alertOpenTimes.delete(id); // prune
    }
    setText($('kpi-last-hour'), count);
  }

  return { render, renderLastHour };
}
