// Small DOM and formatting helpers. Elements are built, never parsed from
// strings, so no markup or inline style reaches the page (the CSP forbids it).

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const nf = new Intl.NumberFormat('en');
export const int = (n) => (n === null || n === undefined ? '—' : nf.format(n));
export const usd = (n) => (n === null || n === undefined ? '—' : n === 0 ? '$0' : `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`);
export const ms = (n) => (n === null || n === undefined ? '—' : `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`);
export const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)}%` : '—');

// change describes now against before, the previous period's figure.
export function change(now, before, lowerIsBetter) {
  if (now === null || before === null || now === undefined || before === undefined) return h('span', { class: 'muted' }, 'no earlier figure');
  if (before === 0) return h('span', { class: 'muted' }, now === 0 ? 'unchanged' : 'new');
  const d = (100 * (now - before)) / before;
  const worse = lowerIsBetter ? d > 0 : d < 0;
  const arrow = d > 0 ? '▲' : d < 0 ? '▼' : '■';
  return h('span', { class: Math.abs(d) < 0.05 ? 'muted' : worse ? 'worse' : 'better' },
    `${arrow} ${d > 0 ? '+' : ''}${d.toFixed(1)}% vs previous period`);
}

export function ago(iso) {
  if (!iso) return 'never';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export const when = (iso) => (iso ? iso.replace('T', ' ').replace(/(:\d\d)(\.\d+)?Z$/, '$1 UTC') : '—');

export function limitsText(l) {
  const parts = [];
  if (l && l.requests_per_minute) parts.push(`${int(l.requests_per_minute)}/min`);
  if (l && l.requests_per_day) parts.push(`${int(l.requests_per_day)}/day`);
  if (l && l.requests_per_month) parts.push(`${int(l.requests_per_month)}/month`);
  return parts.length ? parts.join(' · ') : 'no limit';
}

// errorBox shows a refused call where its figures would have been.
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err.text || err.message);
}

// dayISO is the UTC date n days before today, as the API's from/to take it.
export function dayISO(daysAgo) {
  const d = new Date();
  d.setUTCHours(0, 0, 0, 0);
  d.setUTCDate(d.getUTCDate() - daysAgo);
  return d.toISOString().slice(0, 10);
}

export function hoursAgoISO(n) {
  const d = new Date(Date.now() - n * 3600e3);
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString().replace('.000Z', 'Z');
}

let toastTimer;
export function toast(text) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.classList.add('shown');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('shown'), 4000);
}
