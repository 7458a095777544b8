/*
 * Problems the service finds in a configuration item, shown next to their fields (rules,
 * stations and the transport registry's editors).
 */
const { el } = IOC;


/** The field a problem is about: the server gives a path inside the item ("above",
 *  "thresholds.0.clear_at") or "" for the configuration as a whole. */
export function ruleProblemField(problem) {
  return problem.field || '';
}

/**
 * Show problems: those on a field with its own control under that control, those on other
 * fields (JSON) in `other`, the rest in `box`. Every field problem is a
 * [data-testid=field-error][data-field=<path>].
 */
export function renderProblems(form, problems, other, box, fieldOf) {
  for (const node of form.querySelectorAll('.field-error')) node.remove();
  for (const row of form.querySelectorAll('.form-row.has-error')) row.classList.remove('has-error');
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  other.replaceChildren();
  box.replaceChildren();
  for (const problem of problems) {
    const path = fieldOf(problem);
    const message = String(problem.message || '');
    const top = path.split('.')[0];
    const row = path && !path.includes('.') ? form.querySelector(`[data-field-row="${CSS.escape(top)}"]`) : null;
    if (row) {
      row.classList.add('has-error');
      row.querySelector('[data-key]')?.setAttribute('aria-invalid', 'true');
      row.append(el('div', { class: 'field-error', 'data-testid': 'field-error', 'data-field': path, role: 'alert' }, message));
    } else if (path) {
      other.append(el('div', { class: 'field-error', 'data-testid': 'field-error', 'data-field': path },
        el('code', null, path), ': ', message));
    } else {
      box.append(el('div', { class: 'problem', 'data-testid': 'config-problem' }, message));
    }
  }
  other.hidden = !other.childElementCount;
  box.hidden = !box.childElementCount;
}
