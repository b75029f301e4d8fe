// A small line chart as inline SVG (no chart library): several series over
// a shared x axis, with nice ticks, a zero line and a legend.

import { svg, h } from './cards.js';

export const PALETTE = ['#4cc38a', '#f5a524', '#5b9cf5', '#e5484d', '#b18cf2', '#3dd6d0', '#f07bc1', '#a3a3a3', '#d4d44c', '#ff8a4c'];

const W = 760;
const H = 320;
const PAD = { left: 56, right: 16, top: 16, bottom: 40 };

/** Round tick values covering [lo, hi]. */
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * `series`: [{name, points: [[x, y], ...]}]. Returns a figure with the SVG
 * and a legend, or a short message when there is nothing to draw.
 */
export function lineChart(series, { xLabel = '', yLabel = '' } = {}) {
  const all = series.flatMap((s) => s.points);
  if (all.length < 2) return h('p.muted', 'Not enough data to draw yet.');
  let [x0, x1] = [Infinity, -Infinity];
  let [y0, y1] = [0, 0];
  for (const [x, y] of all) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const yPad = (y1 - y0) * 0.06;
  y0 -= yPad;
  y1 += yPad;
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y) => PAD.top + (1 - (y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);

  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': yLabel });
  for (const t of ticks(y0, y1)) {
    root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: sy(t), y2: sy(t), class: t === 0 ? 'zero' : 'grid' }));
    root.append(svg('text', { x: PAD.left - 8, y: sy(t) + 4, class: 'tick', 'text-anchor': 'end' }, label(t)));
  }
  for (const t of ticks(x0, x1, 6)) {
    root.append(svg('line', { x1: sx(t), x2: sx(t), y1: H - PAD.bottom, y2: H - PAD.bottom + 5, class: 'axis' }));
    root.append(svg('text', { x: sx(t), y: H - PAD.bottom + 18, class: 'tick', 'text-anchor': 'middle' }, label(t)));
  }
  root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: 'axis' }));
  if (xLabel) root.append(svg('text', { x: (PAD.left + W - PAD.right) / 2, y: H - 6, class: 'axis-label', 'text-anchor': 'middle' }, xLabel));
  if (yLabel) {
    root.append(svg('text', { x: 14, y: (PAD.top + H - PAD.bottom) / 2, class: 'axis-label', 'text-anchor': 'middle',
      transform: `rotate(-90 14 ${(PAD.top + H - PAD.bottom) / 2})` }, yLabel));
  }
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map(([x, y], j) => `${j ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    root.append(svg('path', { d, class: 'series', stroke: PALETTE[i % PALETTE.length] }, svg('title', {}, s.name)));
  });
  const legend = h('ul.legend', series.map((s, i) => h('li',
    h('span.swatch', { style: { background: PALETTE[i % PALETTE.length] } }), s.name)));
  return h('figure.chart-figure', root, legend);
}
