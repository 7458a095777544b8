/*
 * The wall's basemap (issue #14): a Leaflet map under the wall's own drawing.
 *
 * Leaflet (web/static/vendor/leaflet/, loaded as a classic script before the wall) owns the
 * projection (Web Mercator, fractional zoom fitted to the stations) and draws, beneath the
 * wall's SVG (grid, stations) and the vehicles' canvas:
 *   - raster tiles of the configured server (GET /api/v1/basemap: web.basemap.tile_url), if any;
 *   - the province's and districts' outlines (GET /api/v1/basemap/outlines, GeoJSON);
 *   - the cameras' sites (GET /api/v1/cameras: lat, lon), a layer that can be switched off.
 * The SVG markers and the vehicle canvas are placed with this map's latLngToContainerPoint, so
 * they stay where the tiles put the ground. The map does not pan or zoom by itself (a wall):
 * the wall fits it to its stations on every resize.
 *
 * Fallback: without a tile server, or when tiles fail, the wall's offline drawing (dark ground,
 * grid, scale, outlines) stays visible: the Leaflet container is transparent and a tile that
 * did not load is not shown. Without Leaflet at all (the script missing), createBasemap returns
 * null and the wall keeps its own equirectangular projection.
 *
 * State for tests and styling, on the map's wrap: data-basemap = offline (no tile server),
 * loading, tiles (at least one tile shown), failed (tiles asked for, none loaded);
 * data-tiles-loaded, data-tiles-failed (counts); data-outlines = the number of outlines drawn;
 * data-cameras = on | off.
 */

export const MAP_I18N = {
  vi: {
    mapLayerCameras: 'Vị trí camera',
    basemapFailed: 'Không tải được bản đồ nền — hiển thị bản đồ ngoại tuyến',
  },
  en: {
    mapLayerCameras: 'Camera sites',
    basemapFailed: 'Basemap tiles unavailable — showing the offline map',
  },
};

const CAMERAS_STORAGE_KEY = 'ioc.wall.mapCameras';
const APPEARANCES = ['dark', 'dim', 'natural'];

/**
 * container  the element Leaflet draws in (absolutely placed over the whole map area)
 * wrap       the map's wrap (carries the data-* state)
 * note       an element for the "tiles failed" note
 * t          the wall's translator
 * onChange   called when something the wall draws depends on changed (attribution shown)
 */
export function createBasemap({ container, wrap, note, t, onChange = () => {} }) {
  const L = window.L;
  if (!L || !container) return null;

  const map = L.map(container, {
    zoomControl: false,
    attributionControl: false,
    dragging: false,
    touchZoom: false,
    scrollWheelZoom: false,
    doubleClickZoom: false,
    boxZoom: false,
    keyboard: false,
    zoomSnap: 0,
    zoomAnimation: false,
    fadeAnimation: false,
    markerZoomAnimation: false,
    inertia: false,
  });
  const attribution = L.control.attribution({ position: 'bottomright', prefix: false });
  const outlinePane = map.createPane('outlines');
  outlinePane.classList.add('basemap-outlines');
  const labelPane = map.createPane('district-labels');
  labelPane.classList.add('basemap-district-labels');
  const cameras = L.layerGroup();
  let tileLayer = null;
  let attributionShown = false;
  let loaded = 0;
  let failed = 0;
  let fitted = false;

  wrap.dataset.basemap = 'offline';
  wrap.dataset.tilesLoaded = '0';
  wrap.dataset.tilesFailed = '0';
  wrap.dataset.outlines = '0';

  let camerasOn = true;
  try { camerasOn = localStorage.getItem(CAMERAS_STORAGE_KEY) !== 'off'; } catch (_) { /* ignore */ }
  const cameraButton = document.querySelector('[data-basemap-layer="cameras"]');
  cameraButton?.addEventListener('click', () => {
    camerasOn = !camerasOn;
    try { localStorage.setItem(CAMERAS_STORAGE_KEY, camerasOn ? 'on' : 'off'); } catch (_) { /* ignore */ }
    applyCameras();
  });
  function applyCameras() {
    wrap.dataset.cameras = camerasOn ? 'on' : 'off';
    if (cameraButton) {
      cameraButton.classList.toggle('is-active', camerasOn);
      cameraButton.setAttribute('aria-pressed', String(camerasOn));
    }
    if (camerasOn) cameras.addTo(map);
    else cameras.remove();
  }
  applyCameras();

  function renderState() {
    wrap.dataset.tilesLoaded = String(loaded);
    wrap.dataset.tilesFailed = String(failed);
    if (!tileLayer) wrap.dataset.basemap = 'offline';
    else if (loaded > 0) wrap.dataset.basemap = 'tiles';
    else if (failed > 0) wrap.dataset.basemap = 'failed';
    else wrap.dataset.basemap = 'loading';
    if (note) {
      note.hidden = wrap.dataset.basemap !== 'failed';
      note.textContent = t('basemapFailed');
    }
  }

  function addTiles(tiles) {
    const appearance = APPEARANCES.includes(tiles.appearance) ? tiles.appearance : 'dim';
    wrap.dataset.basemapAppearance = appearance;
    tileLayer = L.tileLayer(tiles.url, {
      subdomains: tiles.subdomains || 'abc',
      minNativeZoom: tiles.min_zoom,
      maxNativeZoom: tiles.max_zoom,
      maxZoom: 24,
      className: 'basemap-tiles',
      // The pages send no referrer across origins; tile servers (OpenStreetMap's policy)
      // want to know which site asks: the origin only.
      referrerPolicy: 'strict-origin-when-cross-origin',
    });
    tileLayer.on('tileload', () => { loaded += 1; renderState(); });
    tileLayer.on('tileerror', () => { failed += 1; renderState(); });
    tileLayer.addTo(map);
    if (tiles.attribution) {
      map.addControl(attribution);
      attribution.addAttribution(escapeHtml(tiles.attribution));
      attributionShown = true;
      onChange();
    }
    renderState();
  }

  function addOutlines(geojson) {
    let count = 0;
    L.geoJSON(geojson, {
      pane: 'outlines',
      interactive: false,
      style: (feature) => {
        count += 1;
        const province = feature?.properties?.level === 'province';
        return {
          className: province ? 'outline-province' : 'outline-district',
          weight: province ? 2.2 : 1,
          fill: province,
          fillOpacity: province ? 0.04 : 0,
        };
      },
      onEachFeature: (feature) => {
        const props = feature?.properties || {};
        const label = props.label;
        if (props.level !== 'district' || !Array.isArray(label) || !props.name) return;
        const node = document.createElement('span');
        node.textContent = props.name;
        L.marker([label[1], label[0]], {
          pane: 'district-labels',
          interactive: false,
          keyboard: false,
          icon: L.divIcon({ className: 'district-label', html: node, iconSize: null }),
        }).addTo(map);
      },
    }).addTo(map);
    wrap.dataset.outlines = String(count);
  }

  function addCameras(list) {
    cameras.clearLayers();
    for (const camera of list) {
      const lat = Number(camera.lat), lon = Number(camera.lon);
      if (camera.lat == null || camera.lon == null || !Number.isFinite(lat) || !Number.isFinite(lon)) continue;
      const node = document.createElement('span');
      node.className = 'camera-site-glyph';
      node.dataset.testid = 'camera-site';
      node.dataset.cameraId = camera.camera;
      node.dataset.kind = camera.kind || '';
      node.title = camera.name || camera.camera;
      L.marker([lat, lon], {
        interactive: false,
        keyboard: false,
        icon: L.divIcon({ className: 'camera-site', html: node, iconSize: [18, 18] }),
      }).addTo(cameras);
    }
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  async function load() {
    try {
      const settings = await getJson('/api/v1/basemap');
      if (settings.tiles) addTiles(settings.tiles);
      if (settings.outlines) addOutlines(await getJson(settings.outlines));
    } catch (error) {
      console.warn('basemap:', error); // the offline drawing stays
    }
    try {
      addCameras((await getJson('/api/v1/cameras')).cameras || []);
    } catch (error) {
      console.warn('basemap cameras:', error);
    }
  }
  load();

  return {
    map,

    /**
     * Fit the map to the box (padding in px: top, bottom, x) and give the projection the wall
     * draws with: toScreen(lat, lon) → [x, y] in the wrap's pixels, toGeo(x, y) → [lat, lon],
     * scale = pixels per degree of latitude at the centre.
     */
    fit({ minLat, maxLat, minLon, maxLon }, { padTop, padBottom, padX }) {
      map.invalidateSize({ pan: false });
      map.fitBounds([[minLat, minLon], [maxLat, maxLon]], {
        paddingTopLeft: [padX, padTop],
        paddingBottomRight: [padX, padBottom],
        animate: false,
      });
      fitted = true;
      const centre = map.getCenter();
      const above = map.latLngToContainerPoint([centre.lat + 0.5, centre.lng]);
      const below = map.latLngToContainerPoint([centre.lat - 0.5, centre.lng]);
      const scale = Math.abs(below.y - above.y);
      return {
        scale,
        kx: Math.cos((centre.lat * Math.PI) / 180),
        toScreen: (lat, lon) => {
          const p = map.latLngToContainerPoint([lat, lon]);
          return [p.x, p.y];
        },
        toGeo: (x, y) => {
          const ll = map.containerPointToLatLng([x, y]);
          return [ll.lat, ll.lng];
        },
      };
    },

    get fitted() { return fitted; },

    /** Height (px) the attribution takes at the bottom right, for the scale bar above it. */
    bottomInset() {
      return attributionShown ? (attribution.getContainer()?.offsetHeight || 16) : 0;
    },

    onLanguage() {
      if (cameraButton) cameraButton.textContent = t('mapLayerCameras');
      renderState();
    },
  };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
