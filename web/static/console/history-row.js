/*
 * A row of configuration history, with its roll-back button when the user may change that
 * kind: the rules editor, the transport registry's editor and the History tab show them.
 */
import { state, t, api, toast, errorText, confirmButton, OFFICER_KINDS } from './core.js';
import { actionText, diffText } from './format.js';

const { el, formatDateTime } = IOC;

/** A row of configuration history (rules editor and History tab). */
export function historyRow(change, { compact: short = false, after } = {}) {
  const may = OFFICER_KINDS.has(change.kind) ? state.canConfigure : state.canAdminister;
  const cells = [];
  if (!short) cells.push(el('td', { class: 'mono muted' }, `#${change.id}`));
  cells.push(el('td', { class: 'mono nowrap' }, formatDateTime(change.time)));
  cells.push(el('td', null, change.actor));
  if (!short) {
    cells.push(el('td', null, t(`kind_${change.kind}`)));
    cells.push(el('td', { class: 'mono' }, change.key));
  }
  cells.push(el('td', { 'data-testid': 'history-action' }, actionText(change)));
  cells.push(el('td', { class: 'diff mono', 'data-testid': 'history-diff' }, diffText(change.old, change.new)));
  const actions = el('td', { class: 'actions' });
  if (may) {
    const button = el('button', {
      type: 'button',
      class: 'ghost small',
      'data-testid': 'history-rollback',
      'data-change-id': change.id,
      title: t('rollbackTitle'),
    }, change.old == null ? t('rollbackRemoves') : t('rollback'));
    confirmButton(button, async () => {
      const result = await api('POST', `/api/v1/config/history/${change.id}/rollback`);
      if (result.ok) {
        toast(t('rolledBack', change.id), 'ok');
        if (after) await after(result.body);
      } else {
        toast(t('failed', errorText(result)), 'error');
      }
    });
    actions.append(button);
  }
  cells.push(actions);
  return el('tr', { 'data-testid': 'history-row', 'data-change-id': change.id, 'data-kind': change.kind, 'data-key': change.key }, ...cells);
}
