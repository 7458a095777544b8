/*
 * The transport registry's kinds in the officer console (issue #13): for each, its routes,
 * key, list columns and editor fields. Loaded by console/fleet.js (dynamic import) when the
 * "Phương tiện / Vehicles" tab opens; the editor itself is console/registry-editor.js, the
 * one the station registry uses. The service validates every field (ioc/fleet.py); here a
 * value is only read from its control (text, list, number, JSON). decorateForm adds the zone
 * form's "Draw on map" (console/zone-editor.js), which fills the shape fields.
 */

export const VEHICLE_TYPES = ['bus', 'coach', 'truck', 'container', 'tractor', 'taxi'];
export const ROAD_CLASSES = ['urban', 'rural', 'highway', 'pass'];

/** A plate as the service keys it: 49C-555.55 → 49C55555 (the service checks the rest). */
export function compactPlate(text) {
  return String(text || '').replace(/[\s.\-]/g, '').toUpperCase();
}

/** field: {key, label (dictionary key), type: text|select|list|number|json, options,
 *  optional (left out when empty), keyField (the item's key)}. ``__body``: the whole item
 *  (a speed-limit table), ``__key``: a key that is not in the item (its road class). */
export const FLEET_KINDS = [
  {
    kind: 'vehicle',
    path: 'vehicles',
    label: 'fleetVehicles',
    keyField: 'id',
    keyOf: (draft) => compactPlate(draft.id),
    blank: () => ({ id: '', type: 'truck', company: '' }),
    columns: [['colPlate', (key) => key], ['colType', (_, i) => i.type], ['colCompany', (_, i) => i.company], ['colDriver', (_, i) => i.driver || '']],
    fields: [
      { key: 'id', label: 'fPlate', type: 'text', keyField: true },
      { key: 'type', label: 'fVehicleType', type: 'select', options: VEHICLE_TYPES },
      { key: 'company', label: 'fCompany', type: 'select', options: 'companies' },
      { key: 'driver', label: 'fDriverLicence', type: 'text', optional: true },
      { key: 'route', label: 'fRoute', type: 'text', optional: true },
    ],
  },
  {
    kind: 'company',
    path: 'companies',
    label: 'fleetCompanies',
    keyField: 'id',
    admin: true,
    keyOf: (draft) => draft.id,
    blank: () => ({ id: '', name: '', types: [] }),
    columns: [['colId', (key) => key], ['colName', (_, i) => i.name], ['colTypes', (_, i) => (i.types || []).join(', ')]],
    fields: [
      { key: 'id', label: 'fCompanyId', type: 'text', keyField: true },
      { key: 'name', label: 'fName', type: 'text' },
      { key: 'types', label: 'fTypes', type: 'list' },
    ],
  },
  {
    kind: 'driver',
    path: 'drivers',
    label: 'fleetDrivers',
    keyField: 'licence',
    keyOf: (draft) => draft.licence,
    blank: () => ({ licence: '', company: '', name: '' }),
    columns: [['colLicence', (key) => key], ['colName', (_, i) => i.name || ''], ['colCompany', (_, i) => i.company]],
    fields: [
      { key: 'licence', label: 'fDriverLicence', type: 'text', keyField: true },
      { key: 'name', label: 'fName', type: 'text' },
      { key: 'company', label: 'fCompany', type: 'select', options: 'companies' },
    ],
  },
  {
    kind: 'zone',
    path: 'zones',
    label: 'fleetZones',
    keyField: 'id',
    keyOf: (draft) => draft.id,
    blank: () => ({ id: '', name: '', kind: 'restricted', shape: 'circle', centre: [11.94, 108.44], radius_m: 500, vehicle_types: ['truck'], forbidden_hours: [[6, 20]] }),
    columns: [['colId', (key) => key], ['colName', (_, i) => i.name || ''], ['colZoneKind', (_, i) => i.kind || 'restricted'], ['colHours', (_, i) => (i.forbidden_hours || []).map((h) => h.join('–')).join(', ')]],
    fields: [
      { key: 'id', label: 'fZoneId', type: 'text', keyField: true },
      { key: 'name', label: 'fName', type: 'text' },
      { key: 'kind', label: 'fZoneKind', type: 'select', options: ['restricted', 'speed', 'depot', 'border_gate'] },
      { key: 'shape', label: 'fShape', type: 'select', options: ['circle', 'polygon'] },
      { key: 'centre', label: 'fCentre', type: 'json', optional: true },
      { key: 'radius_m', label: 'fRadius', type: 'number', optional: true },
      { key: 'polygon', label: 'fPolygon', type: 'json', optional: true },
      { key: 'vehicle_types', label: 'fTypes', type: 'list' },
      { key: 'forbidden_hours', label: 'fForbiddenHours', type: 'json', optional: true },
      { key: 'speed_limit_kmh', label: 'fZoneLimit', type: 'number', optional: true },
    ],
  },
  {
    kind: 'speed_limit',
    path: 'speed-limits',
    label: 'fleetSpeedLimits',
    keyField: null,
    keyOf: (_, key) => key,
    blank: () => Object.fromEntries(VEHICLE_TYPES.map((v) => [v, 50])),
    columns: [['colRoadClass', (key) => key], ['colLimits', (_, i) => Object.entries(i).map(([k, v]) => `${k} ${v}`).join(' · ')]],
    fields: [
      { key: '__key', label: 'fRoadClass', type: 'select', options: ROAD_CLASSES, keyField: true },
      { key: '__body', label: 'fLimits', type: 'json' },
    ],
  },
];

/** The text a control shows for a value. */
export function toInput(field, value) {
  if (value == null) return '';
  if (field.type === 'list') return (value || []).join(', ');
  if (field.type === 'json') return JSON.stringify(value);
  return String(value);
}

/** The value of a control's text: {value} (undefined: left out) or {error} (bad JSON). */
export function fromInput(field, raw) {
  const text = raw.trim();
  if (!text && (field.optional || field.type === 'number')) return { value: undefined };
  if (field.type === 'number') return { value: Number(text) };
  if (field.type === 'list') return { value: text ? text.split(/[\s,]+/).filter(Boolean) : [] };
  if (field.type === 'json') {
    try {
      return { value: JSON.parse(text) };
    } catch (_) {
      return { error: true };
    }
  }
  return { value: raw };
}

/** The zone form's shape fields, by the key of their control (console/fleet.js: fleet-field-KEY). */
const SHAPE_FIELDS = ['shape', 'centre', 'radius_m', 'polygon'];
const DRAW_LABEL = { vi: 'Vẽ trên bản đồ', en: 'Draw on map' };
const VIEW_LABEL = { vi: 'Xem trên bản đồ', en: 'View on map' }; // who may not change zones

/** After console/fleet.js renders a kind's form: the zone's "Draw on map" button (zone-editor.js,
 *  imported on first use). Apply writes the shape drawn into the form's controls and sends
 *  their input/change events, so the draft, the validation and saving are the form's own. */
export function decorateForm(kind, form, may) {
  if (kind.kind !== 'zone') return;
  const control = (key) => form.querySelector(`[data-key="${key}"]`);
  const anchor = form.querySelector('[data-field-row="polygon"]');
  if (!anchor || SHAPE_FIELDS.some((key) => !control(key))) return;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'ghost small zone-draw-button';
  button.dataset.testid = 'zone-draw';
  button.textContent = (may ? DRAW_LABEL : VIEW_LABEL)[document.documentElement.lang === 'en' ? 'en' : 'vi'];
  const row = document.createElement('div');
  row.className = 'form-row zone-draw-row';
  row.append(button);
  anchor.after(row);
  button.addEventListener('click', async () => {
    const { openZoneEditor } = await import('/static/console/zone-editor.js');
    const read = (key) => {
      const text = control(key)?.value.trim();
      if (!text) return undefined;
      try { return JSON.parse(text); } catch (_) { return undefined; }
    };
    openZoneEditor({
      shape: control('shape').value,
      centre: read('centre'),
      radius_m: read('radius_m'),
      polygon: read('polygon'),
      exclude: control('id')?.value || '',
      readOnly: !may,
      onApply(result) {
        // the form may have been rebuilt meanwhile (a language switch): its controls now
        const set = (key, value) => {
          const input = form.isConnected ? control(key) : document.querySelector(`#fleet-form [data-key="${key}"]`);
          if (!input) return;
          input.value = value;
          input.dispatchEvent(new Event(input.tagName === 'SELECT' ? 'change' : 'input', { bubbles: true }));
        };
        set('shape', result.shape);
        set('centre', result.centre ? JSON.stringify(result.centre) : '');
        set('radius_m', result.radius_m != null ? String(result.radius_m) : '');
        set('polygon', result.polygon ? JSON.stringify(result.polygon) : '');
      },
    });
  });
}
