/*
 * The transport registry (companies, vehicles, drivers, zones, speed limits): the kinds'
 * fields are in console/fleet-kinds.js (imported when the tab first opens); the editor is
 * the stations' registryEditor (console/registry-editor.js).
 */
import { state, t, api, toast, errorText, confirmButton, setStatus, editStored, editNew } from './core.js';
import { renderProblems } from './problems.js';
import { registryEditor } from './registry-editor.js';
import { historyRow } from './history-row.js';

const { $, el } = IOC;

let fleetKinds = null; // the module, imported when the tab first opens

export const fleet = Object.assign(registryEditor({
  prefix: 'fleet',
  path: () => `/api/v1/config/${fleet.kind.path}`,
  items: () => fleet.items,
  canEdit: () => Boolean(fleet.kind) && (fleet.kind.admin ? state.canAdminister : state.canConfigure),
  keyOf: (draft) => fleet.kind.keyOf(draft, fleet.newKey),
  localProblems(draft, items) {
    const key = fleet.kind.keyOf(draft, fleet.newKey) || '';
    const field = fleet.kind.keyField || '__key';
    if (!key) return [{ field, message: t('keyRequired') }];
    if (items.has(key)) return [{ field, message: t('keyExists') }];
    return [];
  },
  inputProblems: () => [...fleet.badJson].map((field) => ({ field: field === '__body' ? '' : field, message: t('notJson') })),
  savedText: (version, time) => t('stationSaved', version, time),
  deletedText: (key) => t('itemDeleted', key),
}), {
  kind: null,
  items: new Map(), // key -> {version, item} of the kind shown
  companies: [],
  newKey: '',
  badJson: new Set(), // fields whose text is not JSON (not sent)

  async load() {
    if (!fleetKinds) {
      fleetKinds = await import('/static/console/fleet-kinds.js');
      const select = $('fleet-kind');
      select.replaceChildren(...fleetKinds.FLEET_KINDS.map((k) => el('option', { value: k.kind }, t(k.label))));
      this.kind = fleetKinds.FLEET_KINDS[0];
    }
    const [list, companies] = await Promise.all([
      api('GET', `/api/v1/config/${this.kind.path}`),
      api('GET', '/api/v1/config/companies'),
    ]);
    if (!list.ok) {
      toast(t('loadFailed', errorText(list)), 'error');
      return;
    }
    this.items = new Map(list.body.items.map((i) => [i.key, { version: i.version, item: i.item }]));
    if (companies.ok) this.companies = companies.body.items.map((i) => i.item);
    this.render();
  },

  async switchKind(kind) {
    this.kind = fleetKinds.FLEET_KINDS.find((k) => k.kind === kind);
    this.close();
    await this.load();
  },

  render() {
    if (!this.kind) return;
    for (const option of $('fleet-kind').options) {
      option.textContent = t(fleetKinds.FLEET_KINDS.find((k) => k.kind === option.value).label);
    }
    $('fleet-kind').value = this.kind.kind;
    const may = this.canEditKind();
    $('fleet-readonly').hidden = may;
    $('fleet-new').hidden = !may;
    $('fleet-head').replaceChildren(...this.kind.columns.map(([label]) => el('th', null, t(label))), el('th'));
    const rows = [];
    for (const [key, { item, version }] of this.items) {
      const button = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'fleet-edit' }, may ? t('edit') : t('view'));
      button.addEventListener('click', (e) => { e.stopPropagation(); this.open(key); });
      const row = el('tr', {
        'data-testid': 'fleet-row',
        'data-kind': this.kind.kind,
        'data-key': key,
        'data-version': version,
        class: this.key === key ? 'is-selected' : null,
      }, ...this.kind.columns.map(([, cell], n) => el('td', { class: n === 0 ? 'mono' : null }, cell(key, item) ?? '')),
      el('td', { class: 'actions' }, button));
      row.addEventListener('click', () => this.open(key));
      rows.push(row);
    }
    $('fleet-tbody').replaceChildren(...rows);
  },

  canEditKind() {
    return Boolean(this.kind) && (this.kind.admin ? state.canAdminister : state.canConfigure);
  },

  open(key) {
    const entry = this.items.get(key);
    if (!entry) return;
    editStored(this, key, entry.version, entry.item);
    this.start();
    this.loadHistory();
  },

  openNew() {
    editNew(this, this.kind.blank());
    this.newKey = '';
    if (this.draft.company === '' && this.companies.length) this.draft.company = this.companies[0].id;
    this.start();
    $('fleet-history-tbody').replaceChildren();
  },

  start() {
    const may = this.canEditKind();
    $('fleet-editor').hidden = false;
    $('fleet-editor-placeholder').hidden = true;
    $('fleet-editor-title').textContent = this.isNew ? t('newItemTitle', t(`kind_${this.kind.kind}`))
      : `${t(`kind_${this.kind.kind}`)} ${this.key}`;
    $('fleet-editor-version').textContent = this.version != null ? `(${t('version', this.version)})` : '';
    $('fleet-editor').dataset.kind = this.kind.kind;
    $('fleet-editor').dataset.key = this.key || '';
    this.badJson.clear();
    const rows = this.kind.fields.map((field) => this.fieldRow(field, may));
    this.form.replaceChildren(...rows);
    fleetKinds.decorateForm?.(this.kind, this.form, may); // the zone's "Draw on map"
    $('fleet-save').hidden = !may;
    $('fleet-delete').hidden = !may || this.isNew;
    setStatus($('fleet-status'), '', 'idle');
    renderProblems(this.form, [], $('fleet-problems'), $('fleet-problems'), () => '');
    this.problems = [];
    this.updateButtons();
    this.render();
  },

  fieldRow(field, may) {
    const id = `fleet-field-${field.key}`;
    let value = field.key === '__body' ? this.draft : this.draft[field.key];
    if (field.key === '__key') value = this.isNew ? this.newKey : this.key;
    let input;
    if (field.type === 'select') {
      const options = field.options === 'companies' ? this.companies.map((c) => c.id) : field.options;
      input = el('select', { id }, ...options.map((o) => el('option', { value: o }, o)));
    } else if (field.type === 'json') {
      input = el('textarea', { id, rows: 3, class: 'mono', spellcheck: 'false' });
    } else {
      input = el('input', { id, class: 'mono', ...(field.type === 'number' ? { type: 'number', step: 'any' } : {}) });
    }
    input.dataset.key = field.key;
    input.dataset.testid = id;
    input.value = fleetKinds.toInput(field, value);
    if (field.key === '__key' && this.isNew && !this.newKey) this.newKey = input.value;
    input.disabled = !may || (field.keyField && !this.isNew);
    input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
      if (this.draft && this.canEditKind()) this.fromControl(field, input);
    });
    return el('div', { class: 'form-row', 'data-field-row': field.key === '__body' ? '' : field.key },
      el('label', { for: id }, t(field.label)), input);
  },

  fromControl(field, input) {
    if (field.key === '__key') {
      this.newKey = input.value;
    } else {
      const read = fleetKinds.fromInput(field, input.value);
      if (read.error) this.badJson.add(field.key); else this.badJson.delete(field.key);
      if (read.error) {
        // not sent until it is JSON again
      } else if (field.key === '__body') {
        this.draft = read.value;
      } else if (read.value === undefined) {
        delete this.draft[field.key];
      } else {
        this.draft[field.key] = read.value;
      }
    }
    this.changed();
  },

  async loadHistory() {
    const key = this.key;
    const result = await api('GET', `/api/v1/config/${this.kind.path}/${encodeURIComponent(key)}`);
    if (!result.ok || key !== this.key) return;
    $('fleet-history-tbody').replaceChildren(...(result.body.history || []).map((c) => historyRow(c, {
      compact: true,
      after: async () => {
        await this.load();
        if (this.items.has(key)) this.open(key); else this.close();
      },
    })));
  },
});

export function initFleet() {
  $('fleet-kind').addEventListener('change', () => fleet.switchKind($('fleet-kind').value));
  $('fleet-new').addEventListener('click', () => fleet.openNew());
  $('fleet-close').addEventListener('click', () => fleet.close());
  $('fleet-form').addEventListener('submit', (e) => e.preventDefault());
  $('fleet-save').addEventListener('click', () => fleet.save());
  confirmButton($('fleet-delete'), () => fleet.remove());
}

/** Whether a configuration kind is one of the transport registry's (once its tab was opened). */
export function isFleetKind(kind) {
  return Boolean(fleet.kind) && fleetKinds.FLEET_KINDS.some((k) => k.kind === kind);
}
