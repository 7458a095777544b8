/*
 * The zone drawing editor's strings (console/zone-editor.js), in Vietnamese and English:
 * the I18N table, the console's language (lang) and zt(key, ...args) to look one up.
 */

const I18N = {
  vi: {
    title: 'Vẽ vùng trên bản đồ',
    drawButton: 'Vẽ trên bản đồ',
    polygon: 'Đa giác',
    circle: 'Hình tròn',
    undo: 'Hoàn tác',
    closePolygon: 'Khép đa giác',
    deleteVertex: 'Xóa đỉnh',
    clear: 'Xóa hình',
    zoomIn: 'Phóng to',
    zoomOut: 'Thu nhỏ',
    fit: 'Vừa khung',
    apply: 'Áp dụng',
    cancel: 'Hủy',
    vertices: 'Số đỉnh',
    area: 'Diện tích',
    radius: 'Bán kính (m)',
    centre: 'Tâm',
    closed: 'đã khép',
    open: 'chưa khép',
    hintPolygon: 'Bấm để thêm đỉnh · kéo đỉnh để di chuyển · bấm đỉnh đầu hoặc Enter để khép · Backspace: bỏ đỉnh cuối · kéo nền hoặc phím mũi tên để di chuyển bản đồ, cuộn hoặc +/− để phóng to',
    hintCircle: 'Bấm để đặt tâm · kéo chấm ở mép để đổi bán kính, hoặc nhập bán kính · kéo nền hoặc phím mũi tên để di chuyển bản đồ, cuộn hoặc +/− để phóng to',
    legendStations: 'Trạm',
    legendZones: 'Vùng khác',
    needPolygon: 'Cần ít nhất 3 đỉnh',
    needCircle: 'Cần tâm và bán kính (0–50 000 m)',
    vertex: (n) => `Đỉnh ${n}`,
    map: 'Mặt phẳng vẽ vùng (kinh độ, vĩ độ)',
  },
  en: {
    title: 'Draw a zone on the map',
    drawButton: 'Draw on map',
    polygon: 'Polygon',
    circle: 'Circle',
    undo: 'Undo',
    closePolygon: 'Close polygon',
    deleteVertex: 'Delete vertex',
    clear: 'Clear shape',
    zoomIn: 'Zoom in',
    zoomOut: 'Zoom out',
    fit: 'Fit',
    apply: 'Apply',
    cancel: 'Cancel',
    vertices: 'Vertices',
    area: 'Area',
    radius: 'Radius (m)',
    centre: 'Centre',
    closed: 'closed',
    open: 'open',
    hintPolygon: 'Click to add a vertex · drag a vertex to move it · click the first vertex or press Enter to close · Backspace: remove the last vertex · drag the background or use the arrow keys to pan, wheel or +/− to zoom',
    hintCircle: 'Click to place the centre · drag the dot on the edge to change the radius, or type it · drag the background or use the arrow keys to pan, wheel or +/− to zoom',
    legendStations: 'Stations',
    legendZones: 'Other zones',
    needPolygon: 'At least 3 vertices needed',
    needCircle: 'A centre and a radius (0–50,000 m) needed',
    vertex: (n) => `Vertex ${n}`,
    map: 'Zone drawing plane (longitude, latitude)',
  },
};

/** The console's language (translatePage sets <html lang>). */
export function lang() {
  return document.documentElement.lang === 'en' ? 'en' : 'vi';
}

export function zt(key, ...args) {
  const entry = I18N[lang()][key] ?? I18N.vi[key] ?? key;
  return typeof entry === 'function' ? entry(...args) : entry;
}
