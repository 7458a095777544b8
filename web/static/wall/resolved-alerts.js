/*
 * The "recently resolved" list under the open alerts: the last alerts that ended, newest
 * first (severity, station, parameter value / limit or an anomaly's baseline, opened → resolved). Hidden while empty.
 */

import { SEVERITY_ORDER } from './format.js';

/**
 * state   the wall's state (wall.js), read only: resolvedAlerts, stations
 * fmt     the wall's formatters (wall/format.js)
 */
export function createResolvedAlerts({ state, fmt }) {
  const { $, el, setText, parseTime, formatClock: formatTime } = window.IOC;
  const { formatAlertValue, parameterInfo, severityLabel } = fmt;

  function render() {
    const section = $('resolved-section');
    section.hidden = state.resolvedAlerts.length === 0;
    setText($('resolved-count'), state.resolvedAlerts.length ? `(${state.resolvedAlerts.length})` : '');
    $('resolved-list').replaceChildren(...state.resolvedAlerts.map((alert) => {
      const severity = SEVERITY_ORDER[alert.severity] != null ? alert.severity : 'info';
      const param = parameterInfo(alert.parameter, alert.station_id);
      const resolvedAt = parseTime(alert.resolved_at);
      const stationName = alert.station_name || state.stations.get(String(alert.station_id))?.name || alert.station_id;
      return el('li', {
        class: `resolved-row sev-${severity}`,
        'data-testid': 'resolved-row',
        'data-alert-id': alert.id,
        'data-severity': severity,
      },
      el('span', { class: 'resolved-sev' }, severityLabel(severity)),
      el('span', { class: 'resolved-station' }, stationName ?? '—'),
      el('span', { class: 'resolved-param' }, alert.parameter
        ? `${param.label} ${formatAlertValue(alert)}` : '—'),
      el('span', { class: 'resolved-time mono' }, `${formatTime(parseTime(alert.opened_at))} → ${resolvedAt ? formatTime(resolvedAt) : '—'}`));
    }));
  }

  return { render };
}
