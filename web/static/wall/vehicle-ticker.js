/*
 * The violation ticker: the latest journey.* alerts, newest first — plate, the kind of
 * violation in words, speed / limit, local time (Asia/Ho_Chi_Minh). A click on an entry
 * selects its vehicle.
 */

import { isJourneyAlert, journeyKindLabel } from './vehicles-i18n.js';

const KEEP = 30;

/**
 * list          the <ol> of entries
 * empty         the "no violations" element
 * t             the wall's translator
 * formatTime    ms → HH:mm:ss in Asia/Ho_Chi_Minh
 * formatNumber  number → text in the page's language
 * plateOf(id)   the display plate of a vehicle id (null when unknown)
 * onPick(id)    an entry was clicked
 */
export function createTicker({ list, empty, t, formatTime, formatNumber, plateOf, onPick }) {
  const { el, parseTime } = window.IOC;
  let entries = [];  // alerts, newest first

  function timeOf(alert) {
    return parseTime(alert.opened_at) ?? parseTime(alert.raised_at) ?? parseTime(alert.last_seen);
  }

  function figures(alert) {
    const value = Number(alert.value);
    const limit = Number(alert.limit);
    const hasValue = alert.value != null && Number.isFinite(value);
    const hasLimit = alert.limit != null && Number.isFinite(limit);
    if (alert.rule_id === 'journey.speeding') {
      if (!hasValue) return '';
      const speed = formatNumber(Math.round(value));
      return hasLimit ? `${speed} / ${formatNumber(Math.round(limit))} km/h` : `${speed} km/h`;
    }
    if (hasValue && hasLimit) return `${formatNumber(value)} / ${formatNumber(limit)}`;
    return '';
  }

  function render() {
    const items = entries.map((alert) => {
      const id = String(alert.station_id ?? '');
      const plate = plateOf(id) || alert.station_name || id;
      const ms = timeOf(alert);
      const item = el('li', {
        class: 'ticker-item',
        'data-testid': 'vehicle-violation',
        'data-vehicle-id': id,
        'data-rule': alert.rule_id,
        'data-severity': alert.severity || 'warning',
        'data-state': alert.state || 'open',
        tabindex: 0,
        title: alert.rule_name || alert.rule_id,
      },
      el('span', { class: 'ticker-time mono' }, ms == null ? '--:--:--' : formatTime(ms)),
      el('span', { class: 'ticker-plate mono' }, plate),
      el('span', { class: 'ticker-kind' }, journeyKindLabel(t, alert)),
      el('span', { class: 'ticker-figures mono' }, figures(alert)));
      const pick = () => onPick(id);
      item.addEventListener('click', pick);
      item.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); } });
      return item;
    });
    list.replaceChildren(...items);
    empty.hidden = entries.length > 0;
    list.dataset.count = String(entries.length);
  }

  function upsert(alert) {
    const id = String(alert.id);
    const at = entries.findIndex((a) => String(a.id) === id);
    if (at >= 0) {
      entries[at] = { ...entries[at], ...alert };  // an update keeps its place
    } else {
      entries.unshift(alert);
      entries.sort((a, b) => (timeOf(b) ?? 0) - (timeOf(a) ?? 0));
      entries = entries.slice(0, KEEP);
    }
  }

  return {
    /** The snapshot's alerts (open and recently resolved): the journey ones. */
    replaceAll(alerts) {
      entries = [];
      for (const alert of alerts || []) {
        if (isJourneyAlert(alert) && alert.id != null) upsert(alert);
      }
      render();
    },

    /** An `alert` frame; returns true when it was a journey violation. */
    apply(event, alert) {
      if (!isJourneyAlert(alert) || alert.id == null) return false;
      upsert({ ...alert, state: event === 'resolved' ? 'resolved' : alert.state });
      render();
      return true;
    },

    /** Language changed, or a plate became known. */
    render,
  };
}
