/*
 * The transport registry's kinds in the officer console (issue #13): for each, its routes,
 * key, list columns and editor fields. Loaded by console.js (dynamic import) when the
 * "Phương tiện / Vehicles" tab opens; the editor itself is console.js's registryEditor, the
 * one the station registry uses. The service validates every field (ioc/fleet.py); here a
 * value is only read from its control (text, list, number, JSON).
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
