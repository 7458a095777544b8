/*
 * The zone drawing editor's side panel (console/zone-editor.js), rendered for an editor after
 * each draw: the tools' states, the radius field, the stats (vertices, centre, area), the
 * vertex list and the problem that keeps "Apply" disabled.
 */
import { zt } from './zone-editor-i18n.js';
import { polygonAreaKm2, formatKm2 } from './zone-geometry.js';
import { html } from './zone-plane.js';

/** keepRadius: the radius field is left as typed while it has the focus. */
export function renderSide(editor, keepRadius) {
  const b = editor.buttons;
  const polygon = editor.mode === 'polygon';
  b.polygon.setAttribute('aria-pressed', String(polygon));
  b.circle.setAttribute('aria-pressed', String(!polygon));
  b.polygon.classList.toggle('is-active', polygon);
  b.circle.classList.toggle('is-active', !polygon);
  b.close.hidden = !polygon;
  b.deleteVertex.hidden = !polygon;
  b.undo.disabled = editor.readOnly || (polygon ? !editor.polygon.length : !editor.centre);
  b.close.disabled = editor.readOnly || editor.closed || editor.polygon.length < 3;
  b.deleteVertex.disabled = editor.readOnly || editor.selected == null;
  b.clear.disabled = editor.readOnly || (polygon ? !editor.polygon.length : !editor.centre);
  b.polygon.disabled = b.circle.disabled = editor.readOnly;
  editor.radiusRow.hidden = polygon;
  editor.radiusInput.disabled = editor.readOnly;
  if (!keepRadius || document.activeElement !== editor.radiusInput) editor.radiusInput.value = editor.radius != null ? String(editor.radius) : '';
  editor.hint.textContent = polygon ? zt('hintPolygon') : zt('hintCircle');

  const stats = [];
  if (polygon) {
    stats.push(html('div', {}, `${zt('vertices')}: `, html('b', { 'data-testid': 'zone-editor-count' }, String(editor.polygon.length)),
      ` (${editor.closed ? zt('closed') : zt('open')})`));
    const area = polygonAreaKm2(editor.polygon);
    stats.push(html('div', {}, `${zt('area')}: `, html('b', { 'data-testid': 'zone-editor-area' }, formatKm2(area))));
  } else {
    stats.push(html('div', {}, `${zt('centre')}: `, html('b', { class: 'mono', 'data-testid': 'zone-editor-centre-text' },
      editor.centre ? `${editor.centre[0].toFixed(6)}, ${editor.centre[1].toFixed(6)}` : '—')));
    if (editor.centre && editor.radius) {
      const area = (Math.PI * editor.radius * editor.radius) / 1e6;
      stats.push(html('div', {}, `${zt('area')}: `, html('b', { 'data-testid': 'zone-editor-area' }, formatKm2(area))));
    }
  }
  editor.stats.replaceChildren(...stats);
  editor.stats.dataset.mode = editor.mode;
  editor.stats.dataset.closed = String(editor.closed);

  editor.vertexList.hidden = !polygon;
  editor.vertexList.replaceChildren(...(polygon ? editor.polygon.map(([lat, lon], i) => {
    const remove = html('button', { type: 'button', class: 'ghost small', 'data-testid': 'zone-editor-vertex-delete', 'aria-label': `${zt('deleteVertex')} ${i + 1}` }, '×');
    remove.disabled = editor.readOnly;
    remove.addEventListener('click', () => editor.deleteVertex(i));
    return html('li', { class: i === editor.selected ? 'is-selected' : null }, html('span', { title: zt('vertex', i + 1) }, `${lat.toFixed(6)}, ${lon.toFixed(6)}`), remove);
  }) : []));

  const problem = editor.result() ? '' : (polygon ? zt('needPolygon') : zt('needCircle'));
  editor.problem.textContent = problem;
  b.apply.disabled = editor.readOnly || Boolean(problem);
  b.apply.hidden = editor.readOnly;
}
