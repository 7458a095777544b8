/*
 * The audit log (administrators): GET /api/v1/audit, filtered by user, action, outcome and
 * a number of entries.
 */
import { state, t, api, toast, errorText } from './core.js';
import { compact } from './format.js';

const { $, el, formatDateTime } = IOC;

export const audit = {
  async load() {
    if (!state.canAdminister) return;
    const query = new URLSearchParams({ limit: $('audit-limit').value || '200' });
    for (const [name, id] of [['actor', 'audit-actor'], ['action', 'audit-action'], ['outcome', 'audit-outcome']]) {
      const value = $(id).value.trim();
      if (value) query.set(name, value);
    }
    const result = await api('GET', `/api/v1/audit?${query}`);
    if (!result.ok) {
      toast(t('loadFailed', errorText(result)), 'error');
      return;
    }
    state.audit = result.body.entries || [];
    this.render();
  },

  render() {
    const tbody = $('audit-tbody');
    if (!state.audit.length) {
      tbody.replaceChildren(el('tr', null, el('td', { colspan: 7, class: 'muted' }, t('noEntries'))));
      return;
    }
    tbody.replaceChildren(...state.audit.map((e) => el('tr', {
      'data-testid': 'audit-row',
      'data-outcome': e.outcome,
      'data-action': e.action,
      class: `outcome-${e.outcome}`,
    },
    el('td', { class: 'mono nowrap' }, formatDateTime(e.time)),
    el('td', null, e.actor),
    el('td', { class: 'mono' }, e.action),
    el('td', { class: 'mono' }, e.target),
    el('td', null, el('span', { class: `badge outcome-${e.outcome}` }, e.outcome)),
    el('td', { class: 'mono' }, e.address),
    el('td', { class: 'diff mono', title: JSON.stringify(e.detail) }, e.detail && Object.keys(e.detail).length ? compact(e.detail, 240) : ''))));
  },
};

export function initAudit() {
  $('audit-filter').addEventListener('submit', (e) => { e.preventDefault(); audit.load(); });
  for (const id of ['audit-outcome', 'audit-limit']) $(id).addEventListener('change', () => audit.load());
}
