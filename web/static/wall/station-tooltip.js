/*
 * The station tooltip over the map: the hovered station, else the selected (pinned) one, with
 * its status, kind, owner, last seen (kept current every second), latest values (AQI band and
 * fire danger level in words, alerted parameters marked) and open alerts. A pinned tooltip has
 * a close button. It is redrawn only when what it shows changed.
 */

import { STATUSES, ROMAN, aqiBandOf, fireLevelOf } from './format.js';

/**
 * state                     the wall's state (wall.js), read only: hoveredStationId,
 *                           selectedStationId, stations, openAlerts, lang, parameters
 * projectStation(station)   the station's [x, y] on the map, or null (wall/station-map.js)
 * mapSize()                 the map's { width, height }
 * fmt                       the wall's formatters (wall/format.js)
 * onClose()                 the close button of a pinned tooltip was clicked
 */
export function createStationTooltip({ state, projectStation, mapSize, fmt, onClose }) {
  const { $, el, setText, parseTime, formatDateTime } = window.IOC;
  const {
    t, formatNumber, formatRelative, formatOwner, formatValueWithUnit, formatAlertValue, parameterInfo, statusLabel,
    kindLabel, severityLabel, aqiBandLabel, fireLevelLabel,
  } = fmt;

  return {
    shownId: null,
    signature: '',

    /** Show the hovered station, else the pinned one; re-render if data changed. */
    refresh() {
      const node = $('station-tooltip');
      const id = state.hoveredStationId || state.selectedStationId;
      const station = id ? state.stations.get(id) : null;
      const point = station ? projectStation(station) : null;
      if (!station || !point) {
        node.hidden = true;
        this.shownId = null;
        return;
      }
      const pinned = id === state.selectedStationId;
      const alerts = [...state.openAlerts.values()].filter((a) => String(a.station_id) === id);
      const signature = JSON.stringify([id, state.lang, pinned, station, alerts, state.parameters]);
      if (signature !== this.signature) {
        this.render(node, station, alerts, pinned);
        this.signature = signature;
      }
      this.shownId = id;
      node.hidden = false;
      this.position(node, point);
    },

    render(node, station, alerts, pinned) {
      const status = STATUSES.includes(station.status) ? station.status : 'unknown';
      const lastSeen = parseTime(station.last_seen);
      const head = el('div', { class: 'tip-head' },
        el('span', { class: `status-dot status-${status}` }),
        el('div', { class: 'tip-title' },
          el('div', { class: 'tip-name' }, station.name || station.id),
          el('div', { class: 'tip-id mono muted' }, station.id)),
        pinned ? el('button', { class: 'tip-close', type: 'button', 'aria-label': t('tipClose'), title: t('tipClose') }, '×') : null,
      );
      const facts = el('dl', { class: 'tip-facts' },
        el('dt', null, t('tipStatus')), el('dd', { class: `status-text status-${status}` }, statusLabel(status)),
        el('dt', null, t('tipKind')), el('dd', null, kindLabel(station.kind)),
        el('dt', null, t('tipOwner')), el('dd', null, formatOwner(station.owner)),
        el('dt', null, t('tipLastSeen')), el('dd', { class: 'tip-lastseen' }, this.lastSeenText(lastSeen)),
      );
      this.lastSeen = lastSeen;

      const alertParams = new Set(alerts.map((a) => a.parameter));
      const entries = Object.entries(station.values || {});
      const values = entries.length
        ? el('table', { class: 'tip-values' }, ...entries.map(([key, value]) => {
          const info = parameterInfo(key, station.id);
          let text = formatNumber(value);
          let unit = info.unit;
          const band = key === 'aqi_band' ? aqiBandOf({ aqi_band: value }) : null;
          const level = key === 'fire_level' ? fireLevelOf({ fire_level: value }) : null;
          if (band != null) {
            text = aqiBandLabel(band);
            unit = '';
          } else if (level != null) {
            text = ROMAN[level - 1];
            unit = fireLevelLabel(level);
          }
          return el('tr', { class: alertParams.has(key) ? 'is-alert' : '' },
            el('td', null, info.label),
            el('td', { class: 'num mono' }, text),
            el('td', { class: 'unit muted' }, unit));
        }))
        : el('div', { class: 'muted' }, t('tipNoValues'));

      const alertBlock = alerts.length
        ? el('div', { class: 'tip-alerts' },
          el('div', { class: 'tip-section' }, t('tipAlerts')),
          ...alerts.map((a) => el('div', { class: `tip-alert sev-${a.severity}` },
            `${severityLabel(a.severity)} · ${parameterInfo(a.parameter).label} ${formatAlertValue(a)}`)))
        : null;

      node.classList.toggle('is-pinned', pinned);
      const parts = [head, facts, el('div', { class: 'tip-section' }, t('tipValues')), values, alertBlock];
      node.replaceChildren(...parts.filter(Boolean));
      node.querySelector('.tip-close')?.addEventListener('click', (e) => {
        e.stopPropagation();
        onClose();
      });
    },

    lastSeenText(lastSeen) {
      return lastSeen ? `${formatDateTime(lastSeen)} (${formatRelative(lastSeen)})` : t('never');
    },

    /** Called every second to keep the relative "last seen" text current. */
    tick() {
      if (!this.shownId) return;
      const node = $('station-tooltip').querySelector('.tip-lastseen');
      if (node) setText(node, this.lastSeenText(this.lastSeen));
    },

    position(node, [x, y]) {
      const margin = 12;
      const w = node.offsetWidth;
      const h = node.offsetHeight;
      const { width, height } = mapSize();
      let left = x + 18;
      if (left + w > width - margin) left = x - 18 - w;
      left = Math.max(margin, left);
      let top = y - h / 2;
      top = Math.min(Math.max(margin, top), height - h - margin);
      node.style.transform = `translate(${Math.round(left)}px, ${Math.round(Math.max(margin, top))}px)`;
    },
  };
}
