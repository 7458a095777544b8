/*
 * The camera grid over the map, shown while the Camera button is on: per camera its latest
 * picture (with the analysis worker's overlays) and numbers (traffic counts in and out,
 * occupancy, congestion; analysis paused; alerts). Cards appear from GET /api/v1/cameras when
 * the grid opens, then follow the websocket's `camera` frames (update()).
 */

/**
 * t, formatNumber   the wall's helpers (wall/format.js)
 */
export function createCameraGrid({ t, formatNumber }) {
  const { $, el } = window.IOC;

  const cameras = {
    cards: new Map(),

    init() {
      const button = $('camera-toggle');
      button.addEventListener('click', () => {
        const grid = $('camera-grid');
        grid.hidden = !grid.hidden;
        button.classList.toggle('is-on', !grid.hidden);
        if (!grid.hidden) this.load();
      });
    },

    async load() {
      try {
        const response = await fetch('/api/v1/cameras');
        const body = await response.json();
        for (const camera of body.cameras || []) {
          this.update(camera, `/api/v1/cameras/${encodeURIComponent(camera.camera)}/snapshots/latest.jpg`);
        }
      } catch (error) {
        console.debug('[wall] cameras', error);
      }
    },

    update(camera, snapshotUrl) {
      if (!camera || !camera.camera) return;
      const id = String(camera.camera);
      let card = this.cards.get(id);
      if (!card) {
        card = {
          img: el('img', { class: 'camera-img', alt: camera.name || id }),
          info: el('div', { class: 'camera-info' }),
        };
        card.root = el('figure', { class: 'camera-card', 'data-testid': 'camera-card', 'data-camera-id': id },
          card.img, card.info);
        this.cards.set(id, card);
        $('camera-grid').append(card.root);
      }
      if (snapshotUrl) card.img.src = `${snapshotUrl}?t=${Date.now()}`;
      const alerts = camera.alerts || [];
      card.root.classList.toggle('has-alert', alerts.length > 0);
      const traffic = camera.traffic || {};
      const parts = [camera.name || id];
      if (camera.kind === 'traffic' && traffic.count_in != null) {
        const levels = { free: 0, slow: 1, jammed: 2 };  // the worker names the level
        const level = t('congestion')[levels[traffic.congestion] ?? traffic.congestion ?? 0] || '';
        parts.push(`↑${traffic.count_in} ↓${traffic.count_out} · ${formatNumber(traffic.occupancy ?? 0)}% · ${level}`);
      }
      if (camera.analysing === false) parts.push(t('cameraAnalysisPaused'));
      if (alerts.length) parts.push(alerts.join(', '));
      card.info.replaceChildren(...parts.map((p) => el('div', {}, p)));
    },
  };

  cameras.init();
  return cameras;
}
