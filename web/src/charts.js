// Charts: uPlot for the time series, a tiny SVG for sparklines. Each chart
// carries the values it draws in data-values (as the API gave them, before
// any stacking), so the browser tests read back what was drawn.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, int } from './dom.js';

const compactFormat = new Intl.NumberFormat('en', { notation: 'compact' });
const compact = (n) => compactFormat.format(n);

// Status classes are told apart by a pattern and a label, not by hue alone;
// the colours are Okabe–Ito's, which survive the common colour blindnesses.
export const statusClasses = [
  ['2xx', '#009E73', 'solid'], ['400', '#F0E442', 'slash'], ['401', '#E69F00', 'backslash'],
  ['403', '#CC79A7', 'cross'], ['404', '#56B4E9', 'horizontal'], ['429', '#0072B2', 'dots'],
  ['4xx', '#999999', 'vertical'], ['5xx', '#D55E00', 'grid'], ['upstream_5xx', '#000000', 'bigdots'],
];

function patternCanvas(color, kind) {
  const c = document.createElement('canvas');
  c.width = c.height = 8;
  const g = c.getContext('2d');
  g.fillStyle = color;
  g.globalAlpha = kind === 'solid' ? 1 : 0.45;
  g.fillRect(0, 0, 8, 8);
  g.globalAlpha = 1;
  g.strokeStyle = kind === 'bigdots' ? '#fff' : '#000';
  g.fillStyle = g.strokeStyle;
  g.lineWidth = 1.2;
  const line = (x0, y0, x1, y1) => { g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke(); };
  switch (kind) {
    case 'slash': line(0, 8, 8, 0); break;
    case 'backslash': line(0, 0, 8, 8); break;
    case 'cross': line(0, 8, 8, 0); line(0, 0, 8, 8); break;
    case 'horizontal': line(0, 4, 8, 4); break;
    case 'vertical': line(4, 0, 4, 8); break;
    case 'grid': line(0, 4, 8, 4); line(4, 0, 4, 8); break;
    case 'dots': g.fillRect(3, 3, 2, 2); break;
    case 'bigdots': g.fillRect(2, 2, 4, 4); break;
  }
  return c;
}

function swatch(s) {
  const c = document.createElement('canvas');
  c.width = c.height = 14;
  c.className = 'swatch';
  c.setAttribute('aria-hidden', 'true');
  const g = c.getContext('2d');
  if (s.pattern) {
    g.fillStyle = g.createPattern(patternCanvas(s.color, s.pattern), 'repeat');
    g.fillRect(0, 0, 14, 14);
  } else {
    g.fillStyle = s.color;
    g.fillRect(0, s.dash ? 5 : 4, 14, s.dash ? 3 : 6);
  }
  g.strokeStyle = '#333';
  g.strokeRect(0.5, 0.5, 13, 13);
  return c;
}

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');

// anomalyMarks draws each finding's window over the plot, numbered as in
// the anomaly list beside the charts.
function anomalyMarks(marks) {
  return (u) => {
    const g = u.ctx;
    const [x0, x1] = [u.scales.x.min, u.scales.x.max];
    marks.forEach((m, i) => {
      if (m.end < x0 || m.start > x1) return;
      const left = u.valToPos(Math.max(m.start, x0), 'x', true);
      const right = u.valToPos(Math.min(m.end, x1), 'x', true);
      const w = Math.max(right - left, 4 * devicePixelRatio);
      g.save();
      g.fillStyle = m.selected ? 'rgba(213,94,0,0.35)' : 'rgba(213,94,0,0.15)';
      g.fillRect(left, u.bbox.top, w, u.bbox.height);
      g.strokeStyle = '#D55E00';
      g.lineWidth = (m.selected ? 3 : 1.5) * devicePixelRatio;
      g.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
      g.strokeRect(left, u.bbox.top, w, u.bbox.height);
      g.setLineDash([]);
      g.fillStyle = '#000';
      g.font = `bold ${11 * devicePixelRatio}px system-ui, sans-serif`;
      g.fillText(String(i + 1), left + 2 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
      g.restore();
    });
  };
}

// timeChart draws series over time. With stacked, bars are stacked by
// drawing each cumulative series over the next (the numbers shown stay the
// API's own: the legend and data-values hold the unstacked values).
export function timeChart({ id, title, x, series, stacked, format, marks, summary }) {
  const values = {};
  for (const s of series) values[s.label] = s.values;
  const legendValues = series.map((s) => h('span', { class: 'value' }, format(s.total)));
  const legend = h('ul', { class: 'legend' }, series.map((s, i) =>
    h('li', {}, swatch(s), h('span', {}, s.label), ' ', legendValues[i])));
  const plot = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${summary}` });
  const fig = h('figure', { class: 'chart', 'data-chart': id, 'data-points': x.length, 'data-values': JSON.stringify(values) },
    h('figcaption', {}, title), plot, legend);

  let drawn = series;
  let data = [x, ...series.map((s) => s.values)];
  if (stacked) {
    const acc = x.map(() => 0);
    const cumulative = series.map((s) => s.values.map((v, i) => (acc[i] += v || 0)));
    drawn = [...series].reverse();
    data = [x, ...cumulative.reverse()];
  }
  const bars = uPlot.paths.bars({ size: [0.85, 40] });
  const opts = {
    width: 600, height: 200, tzDate: utc, legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { size: 64, values: (u, ticks) => ticks.map(format === int ? compact : format) }],
    series: [{}, ...drawn.map((s) => ({
      label: s.label, stroke: s.color, width: s.pattern ? 0 : 2, dash: s.dash,
      fill: s.pattern ? (u) => u.ctx.createPattern(patternCanvas(s.color, s.pattern), 'repeat') : undefined,
      paths: stacked ? bars : undefined, points: stacked ? { show: false } : {}, spanGaps: false,
    }))],
    hooks: {
      draw: marks ? [anomalyMarks(marks)] : [],
      setCursor: [(u) => {
        const i = u.cursor.idx;
        series.forEach((s, k) => { legendValues[k].textContent = format(i === null || i === undefined ? s.total : s.values[i]); });
      }],
      ready: [() => fig.setAttribute('data-drawn', 'true')],
    },
  };
  const chart = new uPlot(opts, data, plot);
  const fit = () => { const w = plot.clientWidth; if (w > 0 && w !== chart.width) chart.setSize({ width: w, height: 200 }); };
  new ResizeObserver(fit).observe(plot);
  fig.redraw = () => chart.redraw(false);
  return fig;
}

// sparkline is a small SVG polyline of values, with its own text alternative.
export function sparkline(values, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const max = Math.max(1, ...values);
  const n = Math.max(values.length - 1, 1);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', values.map((v, i) => `${((100 * i) / n).toFixed(1)},${(22 - (20 * v) / max).toFixed(1)}`).join(' '));
  svg.append(line);
  return svg;
}
