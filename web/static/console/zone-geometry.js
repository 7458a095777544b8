/*
 * The zone drawing editor's geometry (console/zone-editor.js): its constants, the plane's
 * size (W, H: its viewBox, set by setPlaneSize), coordinates rounded to 6 decimals, a
 * polygon's area in km² and its text, and the test of a [lat, lon] point.
 */
import { lang } from './zone-editor-i18n.js';

export let W = 960; // the plane's viewBox: its size in CSS pixels once shown (draw)
export let H = 620;
export const M_PER_DEG = 111_320; // as analytics/journeys/zones.py
export const MAX_RADIUS_M = 50_000; // ZoneEntry.radius_m
export const DEFAULT_CENTRE = [11.94, 108.44]; // Đà Lạt, Lâm Đồng
export const DRAG_PX = 4; // a press that moves less than this is a click
export const STEPS = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

/** The plane's viewBox follows its size once shown (ZoneEditor.measure). */
export function setPlaneSize(width, height) {
  [W, H] = [width, height];
}

export function round6(value) {
  return Math.round(Number(value) * 1e6) / 1e6;
}

/** Area in km² of a polygon of [lat, lon] (a local flat frame: zones are a few km wide). */
export function polygonAreaKm2(points) {
  if (points.length < 3) return 0;
  const lat0 = points.reduce((s, p) => s + p[0], 0) / points.length;
  const kx = M_PER_DEG * Math.cos((lat0 * Math.PI) / 180);
  let twice = 0;
  for (let i = 0; i < points.length; i += 1) {
    const [aLat, aLon] = points[i];
    const [bLat, bLon] = points[(i + 1) % points.length];
    twice += aLon * kx * bLat * M_PER_DEG - bLon * kx * aLat * M_PER_DEG;
  }
  return Math.abs(twice) / 2 / 1e6;
}

export function formatKm2(value) {
  const digits = value < 10 ? 3 : 1;
  const text = new Intl.NumberFormat(lang() === 'en' ? 'en-GB' : 'vi-VN', { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
  return `${text} km²`;
}

export function isPoint(p) {
  return Array.isArray(p) && p.length >= 2 && Number.isFinite(Number(p[0])) && Number.isFinite(Number(p[1]));
}
