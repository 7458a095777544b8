/*
 * Alert silences (/api/v1/silences): the list, removing one, adding one (station or all,
 * rule or all, until a time in Vietnam, a reason), and the form's station and rule options
 * (the limit rules and the built-in detector rules).
 */
import { state, t, api, toast, errorText, confirmButton } from './core.js';
import { isoFromLocalInput, localInputValue, stationName } from './format.js';

const { $, el, formatDateTime } = IOC;

export const silences = {
  async load() {
    const result = await api('GET', '/api/v1/silences');
    if (!result.ok) {
      toast(t('loadFailed', errorText(result)), 'error');
      return;
    }
    state.silences = result.body.silences || [];
    this.render();
  },

  render() {
    const rows = state.silences.map((s) => {
      const remove = el('button', { type: 'button', class: 'ghost small danger-text', 'data-testid': 'silence-remove' }, t('remove'));
      confirmButton(remove, async () => {
        const result = await api('DELETE', `/api/v1/silences/${encodeURIComponent(s.id)}`);
        if (result.ok) {
          toast(t('silenceRemoved'), 'ok');
          await this.load();
        } else {
          toast(t('failed', errorText(result)), 'error');
        }
      });
      const rule = s.rule_id ? state.rules.get(s.rule_id)?.item : null;
      return el('tr', { 'data-testid': 'silence-row', 'data-silence-id': s.id, 'data-station-id': s.station_id || '', 'data-rule-id': s.rule_id || '' },
        el('td', null, s.station_id ? [el('span', { class: 'mono' }, s.station_id), ' ', el('span', { class: 'muted' }, stationName(s.station_id) !== s.station_id ? stationName(s.station_id) : '')] : el('em', null, t('allStations'))),
        el('td', null, s.rule_id ? [el('span', { class: 'mono' }, s.rule_id), rule?.name ? el('span', { class: 'muted' }, ` ${rule.name}`) : null] : el('em', null, t('allRules'))),
        el('td', { class: 'mono nowrap' }, formatDateTime(s.start)),
        el('td', { class: 'mono nowrap' }, formatDateTime(s.end)),
        el('td', null, s.reason),
        el('td', null, s.created_by),
        el('td', { class: 'actions' }, remove));
    });
    $('silence-tbody').replaceChildren(...rows);
    $('silences-empty').hidden = rows.length > 0;
  },

  async add(event) {
    event.preventDefault();
    const error = $('silence-error');
    error.hidden = true;
    const reason = $('silence-reason').value.trim();
    const end = isoFromLocalInput($('silence-end').value);
    if (!end) { error.textContent = t('endRequired'); error.hidden = false; return; }
    if (!reason) { error.textContent = t('reasonRequired'); error.hidden = false; return; }
    const body = { end, reason };
    if ($('silence-station').value) body.station_id = $('silence-station').value;
    if ($('silence-rule').value) body.rule_id = $('silence-rule').value;
    const button = $('silence-add');
    button.disabled = true;
    const result = await api('POST', '/api/v1/silences', body);
    button.disabled = false;
    if (!result.ok) {
      error.textContent = t('failed', errorText(result));
      error.hidden = false;
      return;
    }
    $('silence-reason').value = '';
    toast(t('silenceAdded'), 'ok');
    await this.load();
  },
};

export function renderSilenceOptions() {
  const station = $('silence-station');
  const rule = $('silence-rule');
  const keepStation = station.value;
  const keepRule = rule.value;
  const ids = state.configStations.size ? [...state.configStations.keys()] : state.boardStations.map((s) => s.id);
  station.replaceChildren(el('option', { value: '' }, t('allStations')),
    ...ids.map((id) => el('option', { value: id }, `${id} — ${stationName(id)}`)));
  const builtIn = state.detectorRules ? state.detectorRules.silenceOptions() : [];
  rule.replaceChildren(el('option', { value: '' }, t('allRules')),
    ...[...state.rules.entries()].map(([id, { item }]) => el('option', { value: id }, `${id} — ${item.name || ''}`)),
    ...builtIn.map(([id, text]) => el('option', { value: id }, text)));
  station.value = ids.includes(keepStation) ? keepStation : '';
  rule.value = state.rules.has(keepRule) || builtIn.some(([id]) => id === keepRule) ? keepRule : '';
}

export function initSilences() {
  $('silence-form').addEventListener('submit', (e) => silences.add(e));
  $('silence-end').value = localInputValue(Date.now() + 2 * 3600 * 1000);
}
