/*
 * The item editor shared by the station registry (console/stations.js) and the transport
 * registry (console/fleet.js).
 */
import { t, api, toast, errorText, setStatus, canonical, VALIDATE_DEBOUNCE_MS } from './core.js';
import { renderProblems } from './problems.js';

const { $, el, formatClock } = IOC;

/** The item editor of a registry kind (stations, and the transport registry's kinds):
 *  validation as one types (?dry_run=1, problems next to their fields), save with the
 *  version read (409: reload), delete. ``spec``: prefix of the editor's element ids
 *  (``${prefix}-save``, ``-status``, ``-problems``, ``-delete``, ``-editor``, ``-form``),
 *  path() of the kind's routes, items() its Map, canEdit(), keyOf(draft) for a new item,
 *  localProblems(draft, items) of a new item, inputProblems() (optional: controls that
 *  cannot be read), savedText(version), deletedText(key), and the list's
 *  load() and open(key) of the object it is merged into. */
export function registryEditor(spec) {
  const id = (suffix) => $(`${spec.prefix}-${suffix}`);
  return {
    key: null,
    isNew: false,
    version: null,
    original: null,
    draft: null,
    problems: [],
    seq: 0,
    checkedSeq: -1,
    timer: null,

    get form() { return id('form'); },

    close() {
      this.key = null;
      this.draft = null;
      id('editor').hidden = true;
      id('editor-placeholder').hidden = false;
      this.render();
    },

    dirty() {
      return this.isNew || canonical(this.draft) !== canonical(this.original);
    },

    /** After a change of the draft: status, and a validation once typing pauses. */
    changed() {
      setStatus(id('status'), this.dirty() ? t('unsaved') : '', this.dirty() ? 'dirty' : 'idle');
      clearTimeout(this.timer);
      this.seq += 1; // results of older checks no longer apply
      this.updateButtons();
      this.timer = setTimeout(() => this.validate(), VALIDATE_DEBOUNCE_MS);
    },

    itemKey() {
      return this.isNew ? spec.keyOf(this.draft) : this.key;
    },

    async validate() {
      clearTimeout(this.timer);
      if (!this.draft || !spec.canEdit()) return [];
      const seq = ++this.seq;
      let problems = spec.inputProblems ? spec.inputProblems() : [];
      if (!problems.length && this.isNew) problems = spec.localProblems(this.draft, spec.items());
      if (!problems.length) {
        const key = this.itemKey();
        const result = await api('PUT', `${spec.path()}/${encodeURIComponent(key)}?dry_run=1`, { item: this.draft });
        if (seq !== this.seq) return null;
        if (!result.ok) {
          problems = Array.isArray(result.body.problems) && result.body.problems.length
            ? result.body.problems : [{ field: '', message: result.body.error }];
        }
      }
      this.show(problems, seq);
      return problems;
    },

    show(problems, seq) {
      this.problems = problems;
      this.checkedSeq = seq;
      const box = id('problems');
      const shown = problems.map((p) => ({ field: p.field || '', message: p.message }));
      renderProblems(this.form, shown, box, box, (p) => p.field);
      this.updateButtons();
    },

    updateButtons() {
      const known = this.checkedSeq === this.seq;
      id('save').disabled = !this.draft || !spec.canEdit() || !this.dirty()
        || (known && this.problems.length > 0);
    },

    async save() {
      const problems = await this.validate();
      if (problems === null) return;
      if (problems.length) {
        setStatus(id('status'), t('refusedInvalid'), 'invalid');
        return;
      }
      const key = this.itemKey();
      const body = { item: this.draft };
      if (!this.isNew && this.version != null) body.version = this.version;
      setStatus(id('status'), t('saving'), 'saving');
      const result = await api('PUT', `${spec.path()}/${encodeURIComponent(key)}`, body);
      if (result.ok) {
        spec.items().set(key, { version: result.body.id, item: result.body.new });
        this.open(key);
        setStatus(id('status'), spec.savedText(result.body.id, formatClock(Date.now())), 'ok');
        this.load();
        return;
      }
      this.refused(result);
    },

    refused(result) {
      const status = id('status');
      if (result.status === 409) {
        status.replaceChildren();
        status.dataset.state = 'conflict';
        const reload = el('button', { type: 'button', class: 'ghost small', 'data-testid': 'conflict-reload' }, t('reload'));
        reload.addEventListener('click', async () => {
          const key = this.key;
          await this.load();
          if (key && spec.items().has(key)) this.open(key); else this.close();
        });
        status.append(el('span', null, t('conflict', result.body.current_version)), ' ', reload);
      } else if (result.status === 400 && Array.isArray(result.body.problems)) {
        this.show(result.body.problems, this.seq);
        setStatus(status, t('refusedInvalid'), 'invalid');
      } else if (result.status === 403) {
        setStatus(status, t('forbidden', result.body.error), 'error');
      } else {
        setStatus(status, t('failed', errorText(result)), 'error');
      }
    },

    async remove() {
      if (this.isNew || !this.key) return;
      const key = this.key;
      const version = this.version != null ? `?version=${this.version}` : '';
      const result = await api('DELETE', `${spec.path()}/${encodeURIComponent(key)}${version}`);
      if (result.ok) {
        this.close();
        toast(spec.deletedText(key), 'ok');
        this.load();
        return;
      }
      this.refused(result);
    },
  };
}
