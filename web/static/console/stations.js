/*
 * The station registry (/api/v1/config/stations): the list, and the editor (administrators
 * change stations; others see them), with the owners (enterprises) and parameter sets.
 */
import { state, t, api, toast, errorText, confirmButton, setStatus, clone, editStored, editNew } from './core.js';
import { renderProblems } from './problems.js';
import { registryEditor } from './registry-editor.js';
import { renderSilenceOptions } from './silences.js';

const { $, el, finiteOrNull: finite } = IOC;

const STATION_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export const stations = Object.assign(registryEditor({
  prefix: 'station',
  path: () => '/api/v1/config/stations',
  items: () => state.configStations,
  canEdit: () => state.canAdminister,
  keyOf: (draft) => draft.id,
  localProblems(draft, items) {
    const id = draft.id || '';
    if (!id) return [{ field: 'id', message: t('stationIdRequired') }];
    if (!STATION_ID.test(id)) return [{ field: 'id', message: t('stationIdPattern') }];
    if (items.has(id)) return [{ field: 'id', message: t('stationIdExists') }];
    return [];
  },
  savedText: (version, time) => t('stationSaved', version, time),
  deletedText: (id) => t('stationDeleted', id),
}), {
  async load() {
    const [list, enterprises, sets] = await Promise.all([
      api('GET', '/api/v1/config/stations'),
      api('GET', '/api/v1/config/enterprises'),
      api('GET', '/api/v1/config/parameter-sets'),
    ]);
    if (!list.ok) {
      toast(t('loadFailed', errorText(list)), 'error');
      return;
    }
    state.configStations = new Map(list.body.items.map((i) => [i.key, { version: i.version, item: i.item }]));
    if (enterprises.ok) state.enterprises = enterprises.body.items.map((i) => i.item);
    if (sets.ok) state.parameterSets = sets.body.items.map((i) => i.key);
    this.render();
    renderSilenceOptions();
  },

  render() {
    const admin = state.canAdminister;
    $('station-readonly').hidden = admin;
    $('station-new').hidden = !admin;
    const rows = [];
    for (const [id, { item, version }] of state.configStations) {
      const button = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'station-edit' }, admin ? t('edit') : t('view'));
      button.addEventListener('click', (e) => { e.stopPropagation(); this.open(id); });
      const row = el('tr', {
        'data-testid': 'station-row',
        'data-station-id': id,
        'data-version': version,
        class: this.key === id ? 'is-selected' : null,
      },
      el('td', { class: 'mono' }, id),
      el('td', null, item.name || ''),
      el('td', null, t(`kind_${item.kind}`)),
      el('td', null, ownerLabel(item.owner)),
      el('td', { class: 'num mono' }, formatCoord(item.lat)),
      el('td', { class: 'num mono' }, formatCoord(item.lon)),
      el('td', { class: 'num mono' }, item.interval_s ?? 300),
      el('td', { class: 'actions' }, button));
      row.addEventListener('click', () => this.open(id));
      rows.push(row);
    }
    $('station-tbody').replaceChildren(...rows);
  },

  fillSelects() {
    const owner = $('station-field-owner');
    owner.replaceChildren(el('option', { value: 'state' }, t('ownerState')),
      ...state.enterprises.map((e) => el('option', { value: e.id }, `${e.id} — ${e.name || ''}`)));
    const sets = $('station-field-parameters');
    const options = state.parameterSets.map((name) => el('option', { value: name }, name));
    const custom = this.draft && typeof this.draft.parameters === 'object' && this.draft.parameters !== null;
    if (custom) options.unshift(el('option', { value: '__custom__' }, t('customParams')));
    sets.replaceChildren(...options);
  },

  open(id) {
    const entry = state.configStations.get(id);
    if (!entry) return;
    editStored(this, id, entry.version, entry.item);
    this.start();
  },

  openNew() {
    editNew(this, { id: '', name: '', kind: 'air', parameters: state.parameterSets[0] || '' });
    this.start();
  },

  start() {
    const admin = state.canAdminister;
    $('station-editor').hidden = false;
    $('station-editor-placeholder').hidden = true;
    $('station-editor-title').textContent = this.isNew ? t('newStationTitle')
      : `${admin ? t('editStation') : t('viewStation')} ${this.key}`;
    $('station-editor-version').textContent = this.version != null ? `(${t('version', this.version)})` : '';
    $('station-editor').dataset.stationId = this.key || '';
    this.fillSelects();
    for (const input of this.form.querySelectorAll('[data-key]')) {
      const key = input.dataset.key;
      let value = this.draft[key];
      if (key === 'owner' && value == null) value = 'state';
      if (key === 'parameters' && value && typeof value === 'object') value = '__custom__';
      input.value = value == null ? '' : String(value);
      input.disabled = !admin || (key === 'parameters' && input.value === '__custom__');
    }
    $('station-field-id').readOnly = !this.isNew;
    $('station-save').hidden = !admin;
    $('station-delete').hidden = !admin || this.isNew;
    setStatus($('station-status'), '', 'idle');
    renderProblems(this.form, [], $('station-problems'), $('station-problems'), () => '');
    this.problems = [];
    this.updateButtons();
    this.render();
  },

  fromControl(input) {
    const key = input.dataset.key;
    const raw = input.value;
    if (input.type === 'number') {
      if (raw === '') delete this.draft[key]; else this.draft[key] = Number(raw);
    } else if (key === 'owner' && raw === 'state' && this.original && this.original.owner == null) {
      delete this.draft.owner;
    } else if (key === 'parameters' && raw === '__custom__') {
      this.draft.parameters = clone(this.original?.parameters);
    } else {
      this.draft[key] = raw;
    }
    this.changed();
  },
});

function ownerLabel(owner) {
  if (!owner || owner === 'state') return t('ownerState');
  return owner;
}

function formatCoord(value) {
  const num = finite(value);
  return num == null ? '—' : num.toFixed(4);
}

export function initStations() {
  $('station-new').addEventListener('click', () => stations.openNew());
  $('station-close').addEventListener('click', () => stations.close());
  const form = $('station-form');
  form.addEventListener('submit', (e) => e.preventDefault());
  for (const input of form.querySelectorAll('[data-key]')) {
    input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
      if (stations.draft && state.canAdminister) stations.fromControl(input);
    });
  }
  $('station-save').addEventListener('click', () => stations.save());
  confirmButton($('station-delete'), () => stations.remove());
}
