/*
 * The wall's list of open alerts (issue #14: "alerts an operator can trust, on a wall
 * readable across the room"), wired to wall.js by createAlertList().
 *
 * One card per incident (alerts/incidents.py: related alerts of a station, same parameter or
 * same reading): its classification (incident_kind), its worst severity, its lead alert's
 * value (the worst, then the newest) and a "+N related" line naming the other alerts. An
 * incident is acknowledged once all its open alerts are; its card's button acknowledges each
 * of them. Kinds only move up KIND_ORDER (same order as KIND_PRIORITY in alerts/incidents.py)
 * while an incident lives, so the card shows the strongest kind any of its alert events
 * carried: a reclassification (sensor fault → pollution event) redraws the same card in place.
 * Below, "alert" in the list's logic is such an incident card's record (incidentsOf()).
 *
 * Order (sortAlerts): critical, then warning, then info; within a severity, unacknowledged
 * before acknowledged (what still needs a person comes first), then newest first, then by id.
 * The criticals form a pinned block at the top: it is never filtered, searched or paged away,
 * so the KPI's critical count and the criticals on the list always agree (every open alert
 * of severity critical, acknowledged or not, is in the block).
 *
 * Kiosk (?kiosk=1, nobody to scroll): the rest of the list is cut into pages that fit under
 * the pinned block; the page turns every pageMs (indicator "1/3"). Should the criticals alone
 * not fit, they are paged with the rest, still first.
 * Otherwise: the list scrolls, with a severity filter (warning, info) and a text search over
 * station, rule and parameter.
 *
 * Never moving under the pointer: while the pointer is over the list, or a control in it has
 * focus, the list is "held". A card whose alert changed is redrawn in place (an acknowledgement
 * shows at once) but no card is added, removed or moved; a badge "N mới / N new" counts the
 * alerts waiting, and they are applied when the pointer leaves, the focus goes, or the badge is
 * clicked. An acknowledge button acknowledges the open alerts of its own card's incident (by
 * the card's incident id, never its place in the list).
 */

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
const FILTERS = ['all', 'warning', 'info'];
const CRITICAL_FLASH_MS = 6000;  // flashing of a new critical alert card
/** Incident kinds, strongest first: alerts/incidents.py KIND_PRIORITY (a test compares them). */
export const KIND_ORDER = ['exceedance', 'pollution_event', 'sensor_fault', 'out_of_range', 'flatline',
  'spike', 'drift', 'seasonal', 'no_data', 'offline'];
/** Kinds weaker than any other, listed or not: alerts/incidents.py WEAKEST. */
export const WEAKEST_KINDS = ['journey.silent'];

export const ALERT_LIST_I18N = {
  vi: {
    alertsPending: (n) => `${n} mới`,
    alertsPendingTitle: 'Danh sách đang giữ nguyên khi con trỏ ở trên — bấm để cập nhật',
    alertsFilterLabel: 'Lọc theo mức độ',
    alertsFilterAll: 'Tất cả',
    alertsSearch: 'Tìm trạm, quy tắc…',
    alertsSearchLabel: 'Tìm cảnh báo',
    alertsNoMatch: 'Không có cảnh báo phù hợp',
    alertsPinned: 'Nghiêm trọng luôn ở đầu danh sách',
    pageOf: (page, pages) => `${page}/${pages}`,
    kind_exceedance: 'Vượt ngưỡng',
    incidentRelated: (n) => `+${n} liên quan`,
    incidentKindTitle: 'Phân loại sự cố',
  },
  en: {
    alertsPending: (n) => `${n} new`,
    alertsPendingTitle: 'The list holds still while the pointer is over it — click to update',
    alertsFilterLabel: 'Filter by severity',
    alertsFilterAll: 'All',
    alertsSearch: 'Search station, rule…',
    alertsSearchLabel: 'Search alerts',
    alertsNoMatch: 'No matching alerts',
    alertsPinned: 'Critical alerts always stay on top',
    pageOf: (page, pages) => `${page}/${pages}`,
    kind_exceedance: 'Limit exceeded',
    incidentRelated: (n) => `+${n} related`,
    incidentKindTitle: 'Incident classification',
  },
};

export function hasBaseline(alert) {
  return String(alert?.rule_id || '').startsWith('anomaly.')
    && alert.baseline != null && alert.baseline !== '' && Number.isFinite(Number(alert.baseline));
}

export function severityOf(alert) {
  return SEVERITY_ORDER[alert?.severity] != null ? alert.severity : 'info';
}

const kindRank = (kind) => {
  const weak = WEAKEST_KINDS.indexOf(kind);
  if (weak >= 0) return KIND_ORDER.length + 1 + weak;
  const rank = KIND_ORDER.indexOf(kind);
  return rank < 0 ? KIND_ORDER.length : rank;
};

/** The kind that names an incident with members of kinds `a` and `b` (`a` on a tie). */
export function strongerKind(a, b) {
  if (!a) return b || '';
  if (!b) return a;
  return kindRank(b) < kindRank(a) ? b : a;
}

/** The incident each open alert belongs to (its own when it names none). */
export const incidentIdOf = (alert) => String(alert.incident_id || alert.id);

/** The list's order (see the header): a new array. */
export function sortAlerts(alerts, parseTime) {
  const acked = (a) => (a.state === 'acknowledged' ? 1 : 0);
  return [...alerts].sort((a, b) =>
    SEVERITY_ORDER[severityOf(a)] - SEVERITY_ORDER[severityOf(b)]
    || acked(a) - acked(b)
    || (parseTime(b.opened_at) ?? 0) - (parseTime(a.opened_at) ?? 0)
    || String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
}

/**
 * getAlerts()          the open alerts (a Map id -> alert or any iterable of alerts)
 * kiosk, pageMs        page through by itself (kiosk) every pageMs
 * t, parseTime, formatNumber, formatTime, formatRelative, formatWindow, severityLabel,
 * parameterInfo(key, stationId), stationName(alert): the wall's helpers
 * canOperate()         the user may acknowledge
 * sendAck(id) → bool   sends an acknowledgement of alert `id`
 * onSelectStation(id)  a card was clicked
 * showEmpty()          whether "no open alerts" may show (the feed has connected once)
 */
export function createAlertList({
  getAlerts, kiosk, pageMs, t, parseTime, formatNumber, formatTime, formatRelative, formatWindow,
  severityLabel, parameterInfo, stationName, canOperate, sendAck, onSelectStation, showEmpty,
}) {
  const { $, el, setText } = window.IOC;
  const list = $('alert-list');
  const scroller = list.closest('.alerts-scroll');
  const badge = $('alerts-pending');
  const pageLabel = $('alerts-page');
  const search = $('alerts-search');

  /** incident id -> { alert (the incident's record), row, openedAt, relNode } of the cards. */
  const cards = new Map();
  /** incident id -> the strongest kind its alert events carried (they only move up). */
  const kinds = new Map();
  /** incident id -> its last record: kept while its members are the same objects. */
  let records = new Map();
  const flashTimers = new Map();
  const view = { filter: 'all', query: '', page: 0, pages: 1 };
  let pointerInside = false;
  let applyingNow = false;  // the badge was clicked: apply even while held
  let pendingFlash = new Set();
  let pending = 0;

  const alertsNow = () => {
    const source = getAlerts();
    return incidentsOf([...(source instanceof Map ? source.values() : source)]);
  };

  /**
   * The open alerts as incident records: id (the incident's), station_id, severity (worst),
   * state (acknowledged once every member is), opened_at (earliest), kind, members (oldest
   * first), lead (the member the card's value line shows), and the lead's fields for the
   * line. A record is the same object as long as its members and kind are (sync redraws a
   * card only when its record changed).
   */
  function incidentsOf(alerts) {
    const groups = new Map();
    for (const alert of alerts) {
      const id = incidentIdOf(alert);
      if (!groups.has(id)) groups.set(id, []);
      groups.get(id).push(alert);
    }
    const next = new Map();
    for (const [id, members] of groups) {
      members.sort((a, b) => String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
      const kind = members.reduce((k, m) => strongerKind(k, m.incident_kind), kinds.get(id) || '');
      kinds.set(id, kind);
      const previous = records.get(id);
      if (previous && previous.kind === kind && previous.members.length === members.length
          && previous.members.every((m, i) => m === members[i])) {
        next.set(id, previous);
        continue;
      }
      const worst = (a, b) => SEVERITY_ORDER[severityOf(a)] - SEVERITY_ORDER[severityOf(b)]
        || (parseTime(b.last_seen || b.opened_at) ?? 0) - (parseTime(a.last_seen || a.opened_at) ?? 0);
      const lead = [...members].sort(worst)[0];
      const opened = members.map((m) => m.opened_at)
        .sort((a, b) => (parseTime(a) ?? 0) - (parseTime(b) ?? 0))[0];
      next.set(id, {
        ...lead,
        id,
        incident_id: id,
        kind,
        lead,
        members,
        severity: severityOf(lead),
        state: members.every((m) => m.state === 'acknowledged') ? 'acknowledged' : 'open',
        opened_at: opened,
        acknowledged_by: [...new Set(members.map((m) => m.acknowledged_by).filter(Boolean))].join(', '),
      });
    }
    for (const id of kinds.keys()) if (!groups.has(id)) kinds.delete(id);
    records = next;
    return [...next.values()];
  }
  /** The pointer rests on the list (in kiosk mode only while the cursor shows: a mouse parked
   *  there must not stop the wall), or a control in the list has focus. Focus is read, not
   *  tracked: a focused button removed with its card sends no focusout. */
  const isHeld = () => !applyingNow && (
    (pointerInside && !(kiosk && document.body.dataset.cursor === 'hidden'))
    || (scroller.contains(document.activeElement) && document.activeElement !== scroller
      && !document.activeElement.disabled));

  // ------------------------------------------------------------------ cards

  function createRow(alert) {
    const id = String(alert.id);
    const severity = severityOf(alert);
    const openedAt = parseTime(alert.opened_at);
    const param = parameterInfo(alert.parameter, alert.station_id);
    const value = Number(alert.value);
    const limit = Number(alert.limit);
    // Anomaly alerts carry a detector threshold (a score), not a limit in the value's unit.
    const hasLimit = !String(alert.rule_id || '').startsWith('anomaly.');
    const ratio = hasLimit && Number.isFinite(value) && Number.isFinite(limit) && limit > 0 ? value / limit : null;

    const relNode = el('span', { class: 'alert-rel' }, formatRelative(openedAt));
    const members = alert.members || [alert];
    const others = members.filter((m) => m !== alert.lead);
    const row = el('li', {
      class: `alert-row sev-${severity}`,
      'data-testid': 'alert-row',
      // The incident's id: the id of its first alert.
      'data-alert-id': id,
      'data-incident-id': id,
      'data-alert-ids': members.map((m) => String(m.id)).join(' '),
      'data-kind': alert.kind || '',
      'data-severity': severity,
      'data-station-id': alert.station_id,
    },
    el('div', { class: 'alert-sev' }, severityLabel(severity)),
    el('div', { class: 'alert-main' },
      el('div', { class: 'alert-line1' },
        el('span', { class: 'alert-station' }, stationName(alert)),
        el('span', { class: 'alert-station-id mono' }, alert.station_id ?? '')),
      el('div', { class: 'alert-line2' },
        el('span', { class: 'alert-param' }, param.label),
        el('span', { class: 'alert-value mono' }, formatNumber(alert.value)),
        hasLimit ? el('span', { class: 'alert-vs muted' }, '/') : null,
        hasLimit ? el('span', { class: 'alert-limit mono' }, formatNumber(alert.limit)) : null,
        el('span', { class: 'alert-unit muted' }, param.unit),
        baselineOf(alert, param),
        ratio != null ? el('span', { class: 'alert-ratio mono' }, `×${formatNumber(ratio)}`) : null,
        alert.window ? el('span', { class: 'alert-window' }, formatWindow(alert.window)) : null),
      ruleLine(alert),
      others.length ? el('div', { class: 'alert-rule incident-related muted', 'data-testid': 'incident-related' },
        `${t('incidentRelated', others.length)}: ${others.map(memberName).join(' · ')}`) : null),
    el('div', { class: 'alert-time' },
      el('span', { class: 'alert-clock mono' }, formatTime(openedAt)),
      relNode,
      ackControl(alert)));
    row.dataset.state = alert.state || 'open';
    row.addEventListener('click', () => onSelectStation(String(alert.station_id)));
    if (flashTimers.has(id)) row.classList.add('is-flashing'); // keep a running flash
    return { alert, row, openedAt, relNode };
  }

  /** An anomaly's baseline (the level it is judged against), shown instead of a limit. */
  function baselineOf(alert, param) {
    const baseline = hasBaseline(alert) ? Number(alert.baseline) : null;
    return baseline == null ? null : el('span', {
      class: 'alert-baseline muted', 'data-testid': 'alert-baseline', title: t('baselineTitle'),
    }, `· ${t('baseline')} ${formatNumber(baseline)}${param.unit ? ` ${param.unit}` : ''}`);
  }

  /** The incident's classification, then its lead alert's rule when it says more. */
  function ruleLine(alert) {
    const kind = kindName(alert.kind);
    const rule = ruleName(alert);
    if (!kind && !rule) return null;
    return el('div', { class: 'alert-rule muted' },
      kind ? el('span', { class: 'incident-kind', 'data-testid': 'incident-kind', title: t('incidentKindTitle') }, kind) : null,
      rule && rule !== kind ? el('span', { class: 'incident-rule' }, kind ? ` · ${rule}` : rule) : null);
  }

  /** A kind in the wall's language: anomaly kinds are their rule's name, a limit rule's
   *  "exceedance" its own word, the cameras' and journeys' kinds their rule id. */
  function kindName(kind) {
    if (!kind) return '';
    if (kind === 'exceedance') return t('kind_exceedance');
    const key = kind.includes('.') ? `rule_${kind}` : `rule_anomaly.${kind}`;
    const translated = t(key);
    return translated !== key ? translated : kind;
  }

  function memberName(alert) {
    const param = parameterInfo(alert.parameter, alert.station_id).label;
    return param ? `${ruleName(alert)} (${param})` : ruleName(alert);
  }

  /** The rule's name in the wall's language when the wall knows the rule (the cameras' rules,
   *  named in English by the service), else as the service names it. */
  function ruleName(alert) {
    const key = `rule_${alert.rule_id}`;
    const translated = alert.rule_id ? t(key) : key;
    return translated !== key ? translated : alert.rule_name;
  }

  /** An acknowledged alert shows who took it; an open one a button to acknowledge it, for
   *  users whose role may (operators, officers, admins). */
  function ackControl(alert) {
    if (alert.state === 'acknowledged') {
      return el('span', { class: 'alert-acked', 'data-testid': 'alert-acked' },
        `✓ ${alert.acknowledged_by || ''}`);
    }
    if (!canOperate()) return el('span', { class: 'alert-open muted small' }, '');
    const button = el('button', { class: 'ack-button', type: 'button', 'data-testid': 'ack-button' },
      t('ack'));
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      // The incident of the card this button is on, by its id (never a position in the
      // list): each of its alerts still open, as they are now.
      const id = button.closest('[data-incident-id]')?.dataset.incidentId;
      const open = (cards.get(id)?.alert.members || []).filter((m) => m.state !== 'acknowledged');
      let sent = false;
      for (const member of open) sent = sendAck(String(member.id)) || sent;
      if (sent) button.disabled = true;
    });
    return button;
  }

  function flash(id) {
    const card = cards.get(id);
    if (!card) return;
    card.row.classList.remove('is-flashing');
    void card.row.offsetWidth; // restart the CSS animation
    card.row.classList.add('is-flashing');
    clearTimeout(flashTimers.get(id));
    flashTimers.set(id, setTimeout(() => {
      cards.get(id)?.row.classList.remove('is-flashing');
      flashTimers.delete(id);
    }, CRITICAL_FLASH_MS));
  }

  // -------------------------------------------------------------- rendering

  /**
   * Bring the cards in line with the open alerts. Held: redraw changed cards in place, count
   * the rest as pending. Otherwise: add, remove and order the cards, then filter and page.
   */
  function sync({ recreate = false } = {}) {
    const wanted = sortAlerts(alertsNow(), parseTime);
    const byId = new Map(wanted.map((a) => [String(a.id), a]));

    if (isHeld()) {
      for (const [id, card] of cards) {
        const alert = byId.get(id);
        if (alert && (recreate || alert !== card.alert)) replaceCard(id, alert);
      }
      renderBadge(pendingChanges(wanted, byId));
      return;
    }

    for (const id of [...cards.keys()]) {
      if (!byId.has(id)) dropCard(id);
    }
    let cursor = list.firstChild;
    for (const alert of wanted) {
      const id = String(alert.id);
      let card = cards.get(id);
      if (!card) {
        card = createRow(alert);
        cards.set(id, card);
      } else if (recreate || card.alert !== alert) {
        const old = card.row;
        replaceCard(id, alert);
        card = cards.get(id);
        if (cursor === old) cursor = card.row;
      }
      if (card.row === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(card.row, cursor);
    }
    for (const id of pendingFlash) flash(id);
    pendingFlash = new Set();
    renderBadge(null);
    applyView();
  }

  /** Redraw a card in place: the same DOM element (a pointer or a reference on it stays),
   *  its attributes and content those of the new record; shown or hidden as it was. */
  function replaceCard(id, alert) {
    const card = cards.get(id);
    const next = createRow(alert);
    const { row } = card;
    const hidden = row.hidden;
    const pinned = row.classList.contains('is-pinned');
    for (const name of row.getAttributeNames()) if (!next.row.hasAttribute(name)) row.removeAttribute(name);
    for (const name of next.row.getAttributeNames()) row.setAttribute(name, next.row.getAttribute(name));
    row.replaceChildren(...next.row.childNodes);
    row.hidden = hidden;
    row.classList.toggle('is-pinned', pinned);
    cards.set(id, { ...next, row });
  }

  function dropCard(id) {
    cards.get(id)?.row.remove();
    cards.delete(id);
    clearTimeout(flashTimers.get(id));
    flashTimers.delete(id);
  }

  /** Alerts whose card would be added, removed or moved if the list were applied now, and
   *  whether a critical is among the new ones (the badge then shows critical). */
  function pendingChanges(wanted, byId) {
    const changed = new Set();
    for (const id of byId.keys()) if (!cards.has(id)) changed.add(id);
    for (const id of cards.keys()) if (!byId.has(id)) changed.add(id);
    const shownOrder = [...list.children].map((row) => row.dataset.alertId).filter((id) => byId.has(id));
    const wantedOrder = wanted.map((a) => String(a.id)).filter((id) => cards.has(id));
    shownOrder.forEach((id, i) => { if (wantedOrder[i] !== id) changed.add(id); });
    const critical = [...changed].some((id) => severityOf(byId.get(id)) === 'critical');
    return { count: changed.size, critical };
  }

  /** The "N mới" badge; null: nothing held. */
  function renderBadge(changes) {
    pending = changes?.count ?? 0;
    badge.hidden = pending === 0;
    badge.classList.toggle('has-critical', Boolean(changes?.critical));
    if (pending) {
      setText(badge, t('alertsPending', pending));
      badge.title = t('alertsPendingTitle');
    }
    list.dataset.held = isHeld() ? 'true' : 'false';
  }

  function matches(alert) {
    if (severityOf(alert) === 'critical') return true; // pinned: never filtered away
    if (kiosk) return true;
    if (view.filter !== 'all' && severityOf(alert) !== view.filter) return false;
    if (!view.query) return true;
    const haystack = [alert.station_id, stationName(alert), kindName(alert.kind), ...(alert.members || [alert]).flatMap((m) => [
      m.rule_id, m.rule_name, ruleName(m), m.parameter, parameterInfo(m.parameter, m.station_id).label])].join(' ').toLowerCase();
    return view.query.split(/\s+/).every((word) => haystack.includes(word));
  }

  /** Filter (non-kiosk) or page (kiosk) the cards in the DOM. */
  function applyView() {
    let shown = 0;
    for (const card of cards.values()) {
      const visible = matches(card.alert);
      card.row.hidden = !visible;
      card.row.classList.toggle('is-pinned', severityOf(card.alert) === 'critical');
      if (visible) shown += 1;
    }
    $('alerts-nomatch').hidden = shown > 0 || cards.size === 0;
    if (kiosk) layoutPages();
    renderEmptyState();
  }

  /** Kiosk: cut the non-critical cards into pages that fit under the pinned criticals. */
  function layoutPages() {
    const rows = [...list.children].filter((row) => cards.has(row.dataset.alertId));
    for (const row of rows) row.hidden = false;
    const style = getComputedStyle(scroller);
    const gap = parseFloat(getComputedStyle(list).rowGap) || 0;
    const room = scroller.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const pinned = rows.filter((row) => row.dataset.severity === 'critical');
    const pinnedHeight = pinned.reduce((sum, row) => sum + row.offsetHeight + gap, 0);
    // Criticals that do not fit on their own are paged with the rest (still first).
    const pinnedFit = pinnedHeight <= room * 0.75;
    const paged = pinnedFit ? rows.filter((row) => row.dataset.severity !== 'critical') : rows;
    const pageRoom = pinnedFit ? room - pinnedHeight : room;
    const pages = [[]];
    let used = 0;
    for (const row of paged) {
      const height = row.offsetHeight + gap;
      if (used + height > pageRoom && pages[pages.length - 1].length) {
        pages.push([]);
        used = 0;
      }
      pages[pages.length - 1].push(row);
      used += height;
    }
    view.pages = pages.length;
    view.page = Math.min(view.page, pages.length - 1);
    const onPage = new Set(pages[view.page]);
    for (const row of paged) row.hidden = !onPage.has(row);
    renderPage();
  }

  function renderPage() {
    pageLabel.hidden = view.pages <= 1;
    setText(pageLabel, t('pageOf', view.page + 1, view.pages));
    pageLabel.dataset.page = String(view.page + 1);
    pageLabel.dataset.pages = String(view.pages);
  }

  function renderEmptyState() {
    $('alerts-empty').hidden = cards.size > 0 || !showEmpty();
  }

  // ------------------------------------------------------- pointer and focus

  function release() {
    if (isHeld()) return;
    sync();
  }

  scroller.addEventListener('pointerenter', () => { pointerInside = true; list.dataset.held = String(isHeld()); });
  scroller.addEventListener('pointerleave', () => { pointerInside = false; release(); });
  scroller.addEventListener('focusin', () => { list.dataset.held = 'true'; });
  scroller.addEventListener('focusout', (event) => {
    if (scroller.contains(event.relatedTarget)) return;
    setTimeout(release);  // document.activeElement is updated after focusout
  });
  badge.addEventListener('click', () => {
    // Apply now, even while held; the list then holds still again.
    applyingNow = true;
    try { sync(); } finally { applyingNow = false; }
    list.dataset.held = String(isHeld());
  });

  if (kiosk) {
    document.body.dataset.alertPaging = 'true';
    setInterval(() => {
      if (isHeld() || view.pages <= 1) return;
      view.page = (view.page + 1) % view.pages;
      layoutPages();
    }, pageMs);
    new ResizeObserver(() => layoutPages()).observe(scroller);
  } else {
    for (const button of document.querySelectorAll('[data-alert-filter]')) {
      button.addEventListener('click', () => {
        view.filter = FILTERS.includes(button.dataset.alertFilter) ? button.dataset.alertFilter : 'all';
        renderFilterButtons();
        applyView();
      });
    }
    search.addEventListener('input', () => {
      view.query = search.value.trim().toLowerCase();
      applyView();
    });
    renderFilterButtons();
  }

  function renderFilterButtons() {
    for (const button of document.querySelectorAll('[data-alert-filter]')) {
      const active = button.dataset.alertFilter === view.filter;
      button.classList.toggle('is-active', active);
      button.setAttribute('aria-pressed', String(active));
    }
  }

  return {
    /** All cards drawn again (snapshot, language, login). */
    rebuild() {
      document.querySelector('.alert-filter')?.setAttribute('aria-label', t('alertsFilterLabel'));
      search.setAttribute('aria-label', t('alertsSearchLabel'));
      sync({ recreate: true });
    },
    /** An alert opened, changed or closed: `flash` a card that became critical. */
    changed(alert, { flash: flashIt = false } = {}) {
      if (alert?.incident_kind) {
        const id = incidentIdOf(alert);
        kinds.set(id, strongerKind(kinds.get(id), alert.incident_kind));
      }
      if (flashIt && alert) pendingFlash.add(incidentIdOf(alert));
      sync();
    },
    /** Called every second: relative times; held changes once nothing holds them (a kiosk
     *  cursor hid, a focused button went away). */
    tick() {
      for (const { openedAt, relNode } of cards.values()) setText(relNode, formatRelative(openedAt));
      if (pending && !isHeld()) sync();
      else list.dataset.held = String(isHeld());
    },
    renderEmptyState,
    get held() { return isHeld(); },
  };
}
