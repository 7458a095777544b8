/*
 * The History tab: configuration changes of every kind (GET /api/v1/config/history, filtered
 * by kind and key), each with its roll-back (console/history-row.js). After a roll-back the
 * list reloads and afterRollback(change) refreshes what the change touched (console.js).
 */
import { state, t, api, toast, errorText } from './core.js';
import { historyRow } from './history-row.js';

const { $, el } = IOC;

export function createConfigHistory(afterRollback) {
  const configHistory = {
    async load() {
      const query = new URLSearchParams({ limit: '200' });
      if ($('history-kind').value) query.set('kind', $('history-kind').value);
      if ($('history-key').value.trim()) query.set('key', $('history-key').value.trim());
      const result = await api('GET', `/api/v1/config/history?${query}`);
      if (!result.ok) {
        toast(t('loadFailed', errorText(result)), 'error');
        return;
      }
      state.history = result.body.changes || [];
      this.render();
    },

    render() {
      const tbody = $('history-tbody');
      if (!state.history.length) {
        tbody.replaceChildren(el('tr', null, el('td', { colspan: 8, class: 'muted' }, t('noEntries'))));
        return;
      }
      tbody.replaceChildren(...state.history.map((c) => historyRow(c, {
        after: async (change) => {
          await this.load();
          await afterRollback(change);
        },
      })));
    },

    init() {
      $('history-filter').addEventListener('submit', (e) => { e.preventDefault(); configHistory.load(); });
      $('history-kind').addEventListener('change', () => configHistory.load());
    },
  };
  return configHistory;
}
