/*
 * What the portal page (portal.js) shows now — {lang, enterprise, me} — for the sections
 * written as ES modules: onContext(callback) calls back with the latest and every change
 * (portal.js sets window.portalContext and dispatches `portal:context`).
 */

export function onContext(callback) {
  if (window.portalContext) callback(window.portalContext);
  document.addEventListener('portal:context', (event) => callback(event.detail));
}

/** Translate the [data-t] texts inside `root` with t. */
export function translateSection(root, t) {
  for (const node of root.querySelectorAll('[data-t]')) IOC.setText(node, t(node.dataset.t));
}
