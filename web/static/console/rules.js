/*
 * Alert rules (/api/v1/config/rules): the list, and the editor with live validation
 * (?dry_run=1, problems next to their fields), save with the version read (409: reload),
 * delete, the rule's history with roll-back, and the preview (console/rule-preview.js).
 * The built-in anomaly and camera rules below the list are console/detector-rules.js.
 */
import {
  state, t, api, toast, errorText, confirmButton, setStatus, clone, canonical, editStored, editNew,
  VALIDATE_DEBOUNCE_MS,
} from './core.js';
import { levelsText, windowLabel } from './format.js';
import { renderProblems, ruleProblemField } from './problems.js';
import { historyRow } from './history-row.js';
import { previewMethods, DERIVED_PARAMETERS } from './rule-preview.js';
import { renderSilenceOptions } from './silences.js';

const { $, el, formatClock } = IOC;

const RULE_ID = /^[a-z0-9_.-]{1,64}$/;
const RULE_SIMPLE_FIELDS = ['above', 'below', 'clear_at', 'severity'];

/** The built-in anomaly and camera rules (console/detector-rules.js), under the rules. */
export async function loadDetectorRules() {
  if (!state.detectorRules) {
    const module = await import('/static/console/detector-rules.js');
    state.detectorRules = state.detectorRules || module.createDetectorRules({
      api, el, toast, errorText, lang: () => state.lang, canEdit: () => state.canConfigure, onChange: renderSilenceOptions,
    });
  }
  await state.detectorRules.load();
}

export const rules = {
  async load() {
    const result = await api('GET', '/api/v1/config/rules');
    if (!result.ok) {
      toast(t('loadFailed', errorText(result)), 'error');
      return;
    }
    state.rules = new Map(result.body.items.map((i) => [i.key, { version: i.version, item: i.item }]));
    this.render();
    renderSilenceOptions();
    await loadDetectorRules();
  },

  render() {
    const tbody = $('rule-tbody');
    const filter = $('rule-filter').value.trim().toLowerCase();
    const rows = [];
    for (const [id, { item, version }] of state.rules) {
      const text = `${id} ${item.name || ''} ${item.parameter || ''}`.toLowerCase();
      if (filter && !text.includes(filter)) continue;
      const edit = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'rule-edit' }, t('edit'));
      edit.addEventListener('click', (e) => { e.stopPropagation(); editor.open(id); });
      const row = el('tr', {
        'data-testid': 'rule-row',
        'data-rule-id': id,
        'data-version': version,
        class: editor.key === id ? 'is-selected' : null,
      },
      el('td', { class: 'mono' }, id),
      el('td', null, item.name || ''),
      el('td', { class: 'mono' }, item.parameter || ''),
      el('td', null, windowLabel(item)),
      el('td', { class: 'levels', 'data-testid': 'rule-levels' }, levelsText(item)),
      el('td', { class: 'actions' }, edit));
      row.addEventListener('click', () => editor.open(id));
      rows.push(row);
    }
    tbody.replaceChildren(...rows);
    $('rules-empty').hidden = state.rules.size > 0;
    const list = $('parameter-list');
    const known = new Set(DERIVED_PARAMETERS);
    for (const s of state.boardStations) for (const p of Object.keys(s.units || {})) known.add(p);
    for (const { item } of state.rules.values()) if (item.parameter) known.add(item.parameter);
    list.replaceChildren(...[...known].sort().map((p) => el('option', { value: p })));
  },
};

export const editor = {
  key: null, // the rule being edited (null: none; for a new rule, null until saved)
  isNew: false,
  version: null,
  original: null,
  draft: null,
  problems: [],
  rawError: null,
  seq: 0, // validation requests sent
  checkedSeq: -1, // the request whose answer is shown
  timer: null,
  preview: null, // {days, startMs, endMs, result, draft}

  get form() { return $('rule-form'); },

  open(id) {
    const entry = state.rules.get(id);
    if (!entry) return;
    editStored(this, id, entry.version, entry.item);
    this.start();
  },

  openNew() {
    editNew(this, { id: '', name: '', parameter: '', window: 'instant' });
    this.start();
    $('rule-field-id').focus();
  },

  start() {
    $('rule-editor').hidden = false;
    $('rule-editor-placeholder').hidden = true;
    $('rule-field-id').readOnly = !this.isNew;
    $('rule-delete').hidden = this.isNew;
    setStatus($('save-status'), '', 'idle');
    this.problems = [];
    this.rawError = null;
    this.preview = null;
    $('preview-result').hidden = true;
    setStatus($('preview-status'), t('previewIdle'), 'idle');
    this.fillForm();
    this.fillRaw();
    this.renderTitle();
    renderProblems(this.form, [], $('rule-other-errors'), $('rule-problems'), () => '');
    this.updateButtons();
    rules.render();
    this.loadHistory();
    if (this.isNew) this.setValidity('idle'); else this.validateSoon(0);
  },

  close() {
    this.key = null;
    this.isNew = false;
    this.draft = null;
    clearTimeout(this.timer);
    $('rule-editor').hidden = true;
    $('rule-editor-placeholder').hidden = false;
    rules.render();
  },

  renderTitle() {
    $('rule-editor-title').textContent = this.isNew ? t('newRuleTitle') : `${t('editRule')} ${this.key}`;
    $('rule-editor-version').textContent = this.version != null ? `(${t('version', this.version)})` : '';
    $('rule-editor').dataset.ruleId = this.key || '';
  },

  dirty() {
    return this.isNew || canonical(this.draft) !== canonical(this.original);
  },

  fillForm() {
    const d = this.draft;
    for (const input of this.form.querySelectorAll('[data-key]')) {
      const key = input.dataset.key;
      let value = d[key];
      if (key === 'window' && value == null) value = 'instant';
      input.value = value == null ? '' : String(value);
    }
    const multi = Array.isArray(d.thresholds) && d.thresholds.length > 0;
    for (const key of RULE_SIMPLE_FIELDS) $(`rule-field-${key}`).disabled = multi;
    for (const row of this.form.querySelectorAll('.simple-only')) row.classList.toggle('is-disabled', multi);
    $('multi-note').hidden = !multi;
    if (multi) $('rule-raw-details').open = true;
  },

  fillRaw() {
    $('rule-raw').value = JSON.stringify(this.draft, null, 2);
    this.rawError = null;
    $('rule-raw-error').hidden = true;
  },

  /** A form control changed: the draft follows. */
  fromControl(input) {
    const key = input.dataset.key;
    const raw = input.value;
    if (input.type === 'number') {
      if (raw === '') delete this.draft[key];
      else this.draft[key] = Number(raw);
    } else if (input.tagName === 'SELECT' && raw === '') {
      delete this.draft[key];
    } else if (key === 'window' && raw === 'instant' && this.original && this.original.window == null) {
      delete this.draft[key]; // the default, as the rule was stored
    } else {
      this.draft[key] = raw;
    }
    this.fillRaw();
    this.changed();
  },

  /** The raw JSON changed: the draft (and the form) follow when it parses. */
  fromRaw() {
    const box = $('rule-raw-error');
    let parsed;
    let problem = null;
    try {
      parsed = JSON.parse($('rule-raw').value);
      if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) problem = t('rawNotObject');
    } catch (exc) {
      problem = t('rawInvalid', exc.message);
    }
    this.rawError = problem;
    if (problem) {
      box.textContent = problem;
      box.hidden = false;
      clearTimeout(this.timer);
      this.seq += 1; // an answer still under way no longer applies
      this.setValidity('invalid', 1);
      this.updateButtons();
      return;
    }
    box.hidden = true;
    if (!this.isNew && parsed.id == null) parsed.id = this.key;
    this.draft = parsed;
    this.fillForm();
    this.changed();
  },

  changed() {
    this.markPreviewStale();
    setStatus($('save-status'), this.dirty() ? t('unsaved') : '', this.dirty() ? 'dirty' : 'idle');
    this.validateSoon(VALIDATE_DEBOUNCE_MS);
  },

  validateSoon(delay) {
    clearTimeout(this.timer);
    this.setValidity('checking');
    this.updateButtons();
    this.timer = setTimeout(() => this.validate(), delay);
  },

  localProblems() {
    const d = this.draft;
    const problems = [];
    if (this.isNew) {
      const id = typeof d.id === 'string' ? d.id : '';
      if (!id) problems.push({ field: 'id', message: t('idRequired') });
      else if (!RULE_ID.test(id)) problems.push({ field: 'id', message: t('idPattern') });
      else if (state.rules.has(id)) problems.push({ field: 'id', message: t('idExists') });
    }
    return problems;
  },

  /** Dry-run PUT: the server's own checks, shown next to the fields. */
  async validate() {
    clearTimeout(this.timer);
    if (!this.draft || this.rawError) return this.problems;
    const seq = ++this.seq;
    const local = this.localProblems();
    if (local.length) {
      this.showProblems(local, seq);
      return local;
    }
    const id = this.isNew ? this.draft.id : this.key;
    const result = await api('PUT', `/api/v1/config/rules/${encodeURIComponent(id)}?dry_run=1`, { item: this.draft });
    if (seq !== this.seq) return null; // a newer check is under way
    let problems = [];
    if (!result.ok) {
      problems = Array.isArray(result.body.problems) && result.body.problems.length
        ? result.body.problems
        : [{ field: '', message: result.body.error }];
    }
    this.showProblems(problems, seq);
    return problems;
  },

  showProblems(problems, seq) {
    this.problems = problems;
    this.checkedSeq = seq;
    const id = this.isNew ? this.draft.id : this.key;
    renderProblems(this.form, problems, $('rule-other-errors'), $('rule-problems'),
      (p) => ruleProblemField(p));
    if (problems.some((p) => /^(thresholds|area|kinds|stations|owners)/.test(ruleProblemField(p)))) {
      $('rule-raw-details').open = true;
    }
    this.setValidity(problems.length ? 'invalid' : 'valid', problems.length);
    this.updateButtons();
  },

  setValidity(kind, count) {
    const node = $('rule-validity');
    node.dataset.state = kind;
    node.textContent = kind === 'checking' ? t('validChecking')
      : kind === 'valid' ? t('validOk')
        : kind === 'invalid' ? t('validBad', count || 1) : '';
    $('rule-editor').dataset.valid = kind;
  },

  updateButtons() {
    const known = this.checkedSeq === this.seq && !this.rawError;
    const invalid = Boolean(this.rawError) || (known && this.problems.length > 0);
    const save = $('rule-save');
    save.disabled = !this.draft || invalid || !this.dirty();
    save.dataset.refused = invalid ? 'true' : 'false';
    $('preview-run').disabled = !this.draft || invalid;
  },

  async save() {
    if (!this.draft) return;
    const problems = await this.validate();
    if (problems === null) return; // superseded by a newer edit
    if (this.rawError || problems.length) {
      setStatus($('save-status'), t('refusedInvalid'), 'invalid');
      return;
    }
    const id = this.isNew ? this.draft.id : this.key;
    const body = { item: this.draft };
    body.version = this.isNew ? 0 : this.version;  // 0: the rule must not exist yet
    setStatus($('save-status'), t('saving'), 'saving');
    $('rule-save').disabled = true;
    const result = await api('PUT', `/api/v1/config/rules/${encodeURIComponent(id)}`, body);
    if (result.ok) {
      const change = result.body;
      state.rules.set(id, { version: change.id, item: change.new });
      editStored(this, id, change.id, change.new);
      $('rule-field-id').readOnly = true;
      $('rule-delete').hidden = false;
      this.fillForm();
      this.fillRaw();
      this.renderTitle();
      setStatus($('save-status'), t('saved', change.id, formatClock(Date.now())), 'ok');
      this.updateButtons();
      rules.render();
      renderSilenceOptions();
      this.loadHistory();
      return;
    }
    this.answerRefusal(result, $('save-status'));
    this.updateButtons();
  },

  answerRefusal(result, statusNode) {
    if (result.status === 409) {
      const current = result.body.current_version;
      statusNode.replaceChildren();
      statusNode.dataset.state = 'conflict';
      const reload = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'conflict-reload' }, t('reload'));
      reload.addEventListener('click', () => this.reloadCurrent());
      statusNode.append(el('span', { 'data-testid': 'conflict-message' }, t('conflict', current)), ' ', reload);
    } else if (result.status === 400 && Array.isArray(result.body.problems)) {
      this.showProblems(result.body.problems, this.seq);
      setStatus(statusNode, t('refusedInvalid'), 'invalid');
    } else if (result.status === 403) {
      setStatus(statusNode, t('forbidden', result.body.error), 'error');
    } else {
      setStatus(statusNode, t('failed', errorText(result)), 'error');
    }
  },

  /** After a conflict: the rule as it is now (the edits are dropped). */
  async reloadCurrent() {
    const id = this.key;
    await rules.load();
    if (id && state.rules.has(id)) this.open(id); else this.close();
  },

  async remove() {
    if (this.isNew || !this.key) return;
    const id = this.key;
    const version = this.version != null ? `?version=${this.version}` : '';
    const result = await api('DELETE', `/api/v1/config/rules/${encodeURIComponent(id)}${version}`);
    if (result.ok) {
      state.rules.delete(id);
      this.close();
      toast(t('deleted', id), 'ok');
      rules.load();
      return;
    }
    this.answerRefusal(result, $('save-status'));
  },

  revert() {
    if (this.isNew) { this.close(); return; }
    this.draft = clone(this.original);
    this.fillForm();
    this.fillRaw();
    this.changed();
  },

  // --- history ----------------------------------------------------------------------

  async loadHistory() {
    const tbody = $('rule-history-tbody');
    if (this.isNew || !this.key) {
      tbody.replaceChildren(el('tr', null, el('td', { colspan: 5, class: 'muted' }, t('noHistory'))));
      return;
    }
    const key = this.key;
    const result = await api('GET', `/api/v1/config/history?kind=rule&key=${encodeURIComponent(key)}&limit=50`);
    if (key !== this.key) return;
    if (!result.ok) {
      tbody.replaceChildren(el('tr', null, el('td', { colspan: 5, class: 'muted' }, t('loadFailed', errorText(result)))));
      return;
    }
    const changes = result.body.changes;
    if (!changes.length) {
      tbody.replaceChildren(el('tr', null, el('td', { colspan: 5, class: 'muted' }, t('noHistory'))));
      return;
    }
    tbody.replaceChildren(...changes.map((c) => historyRow(c, { compact: true, after: () => this.afterRollback() })));
  },

  async afterRollback() {
    const id = this.key;
    await rules.load();
    if (id && state.rules.has(id)) this.open(id); else this.close();
  },

  ...previewMethods,
};

export function initRules() {
  $('rule-new').addEventListener('click', () => editor.openNew());
  $('rule-close').addEventListener('click', () => editor.close());
  $('rule-filter').addEventListener('input', () => rules.render());
  const form = $('rule-form');
  form.addEventListener('submit', (e) => e.preventDefault());
  for (const input of form.querySelectorAll('[data-key]')) {
    input.addEventListener(input.tagName === 'SELECT' ? 'change' : 'input', () => {
      if (editor.draft) editor.fromControl(input);
    });
  }
  $('rule-raw').addEventListener('input', () => { if (editor.draft) editor.fromRaw(); });
  $('rule-save').addEventListener('click', () => editor.save());
  $('rule-revert').addEventListener('click', () => editor.revert());
  confirmButton($('rule-delete'), () => editor.remove());
  $('preview-run').addEventListener('click', () => editor.runPreview());
  $('preview-station-select').addEventListener('change', () => editor.loadChart());
}
