/*
 * Tables of a monthly report (GET /api/v1/[portal/]reports/monthly, JSON), shared by the
 * printable page and the portal. Times in Asia/Ho_Chi_Minh (IOC.formatDateTime).
 * Each builder takes the report and t (a translator over REPORT_I18N) and returns a node.
 */

const { el, formatDateTime } = IOC;

export function formatPercent(ratio, lang) {
  if (ratio == null) return '—';
  return IOC.numberFormat(lang, 1).format(ratio * 100) + ' %';
}

export function formatDuration(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function formatInterval(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function table(testid, heads, rows) {
  return el('table', { class: 'grid report-table', 'data-testid': testid },
    el('thead', null, el('tr', null, ...heads.map((h) => el('th', null, h)))),
    el('tbody', null, ...rows));
}

function countCells(row, t, lang) {
  const n = (value) => IOC.numberFormat(lang, 0).format(value);
  return [
    el('td', { class: 'num' }, n(row.expected)),
    el('td', { class: 'num', 'data-field': 'received' }, n(row.received)),
    el('td', { class: 'num', 'data-field': 'valid' }, n(row.valid)),
    el('td', { class: 'num', 'data-field': 'calibrating' }, n(row.calibrating)),
    el('td', { class: 'num', 'data-field': 'device_error' }, n(row.device_error)),
    el('td', { class: 'num', 'data-field': 'missing' }, n(row.missing)),
    el('td', { class: 'num', 'data-field': 'ratio' }, formatPercent(row.ratio, lang)),
    el('td', { class: 'num' }, formatPercent(row.valid_ratio, lang)),
  ];
}

function countHeads(t) {
  return [t('expected'), t('received'), t('valid'), t('calibrating'), t('deviceError'),
    t('missing'), t('ratio'), t('validRatio')];
}

/** Per owner (the province report): its stations' totals and exceedances. */
export function ownersTable(report, t, lang) {
  return table('report-owners', [t('owner'), t('stations'), ...countHeads(t), t('exceedances')],
    report.owners.map((o) => el('tr', { 'data-owner': o.id },
      el('td', null, o.name, el('div', { class: 'muted small mono' }, o.id)),
      el('td', { class: 'num' }, o.stations),
      ...countCells(o, t, lang),
      el('td', { class: 'num' }, o.exceedances))));
}

/** Per station: the month's counts, the over-frequent flag and how many gaps. */
export function stationsTable(report, t, lang) {
  return table('report-stations',
    [t('station'), t('interval'), ...countHeads(t), t('overFrequent'), t('gaps')],
    report.stations.map((s) => el('tr', { 'data-testid': 'report-station', 'data-station-id': s.id },
      el('td', null, el('strong', null, s.name), el('div', { class: 'muted small mono' }, s.id)),
      el('td', { class: 'num' }, formatInterval(s.interval_s)),
      ...countCells(s, t, lang),
      el('td', { class: s.over_frequent ? 'flag' : '' }, s.over_frequent ? '⚠' : ''),
      el('td', { class: 'num' }, s.gap_count))));
}

/** Exceedances per parameter, each event with start, end, duration and peak. */
export function exceedancesBlock(report, t, lang) {
  if (!report.exceedances.length) {
    return el('p', { class: 'muted', 'data-testid': 'report-no-exceedances' }, t('noExceedances'));
  }
  return el('div', null, ...report.exceedances.map((group) => el('div', {
    class: 'report-parameter', 'data-testid': 'report-exceedances', 'data-parameter': group.parameter,
  },
  el('h4', null, (lang === 'en' ? group.label_en : group.label_vi) || group.parameter,
    group.unit ? ` (${group.unit})` : '', ' — ',
    el('span', { class: 'muted' }, t('events', group.count, formatDuration(group.duration_s)))),
  table('report-events', [t('station'), t('rule'), t('severity'), t('start'), t('end'),
    t('duration'), t('peak'), t('limit')],
  group.events.map((e) => el('tr', { 'data-alert-id': e.alert_id },
    el('td', null, e.station_name, el('div', { class: 'muted small mono' }, e.station_id)),
    el('td', null, e.rule_name),
    el('td', null, e.severity),
    el('td', { class: 'mono small' }, formatDateTime(e.start)),
    el('td', { class: 'mono small' }, e.ongoing ? t('ongoing') : formatDateTime(e.end)),
    el('td', { class: 'num' }, formatDuration(e.duration_s)),
    el('td', { class: 'num' }, IOC.formatNumber(e.peak, lang)),
    el('td', { class: 'num' }, IOC.formatNumber(e.limit, lang))))))));
}

/** The data gaps of every station, oldest first. */
export function gapsBlock(report, t) {
  const rows = report.stations.flatMap((s) => s.gaps.map((g) => el('tr', null,
    el('td', { class: 'mono' }, s.id),
    el('td', { class: 'mono small' }, formatDateTime(g.start)),
    el('td', { class: 'mono small' }, formatDateTime(g.end)),
    el('td', { class: 'num' }, g.intervals))));
  if (!rows.length) return el('p', { class: 'muted' }, t('noGaps'));
  const shown = report.stations.reduce((n, s) => n + s.gaps.length, 0);
  const all = report.stations.reduce((n, s) => n + s.gap_count, 0);
  return el('div', null,
    table('report-gaps', [t('station'), t('start'), t('end'), t('intervals')], rows),
    shown < all ? el('p', { class: 'muted small' }, t('moreGaps', shown, all)) : null);
}
