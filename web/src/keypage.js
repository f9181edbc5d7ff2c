// One key: its charts over 24 h, 7 d, 30 d or 90 d with its anomalies drawn
// on them, its limits and how much of them is used, its audit events, and
// the actions on it. Every figure is the key analytics API's (exact at once).
import { get, call } from './api.js';
import { h, int, usd, ms, ago, when, limitsText, errorBox, dayISO, hoursAgoISO, toast } from './dom.js';
import { timeChart, statusClasses } from './charts.js';
import { ask, showKeyOnce, keyForm, field } from './dialogs.js';

const ranges = {
  '24h': { granularity: 'hour', from: () => hoursAgoISO(23), span: 24 * 3600 },
  '7d': { granularity: 'hour', from: () => hoursAgoISO(7 * 24 - 1), span: 7 * 86400 },
  '30d': { granularity: 'day', from: () => dayISO(29), span: 30 * 86400 },
  '90d': { granularity: 'day', from: () => dayISO(89), span: 90 * 86400 },
};

const seconds = (iso) => Date.parse(iso) / 1000;
const points = (view) => (view.series[0] ? view.series[0].data : []);

// statusChart is requests by status class, stacked; the overview uses it too.
export function statusChart(id, title, view, marks) {
  const data = points(view);
  const present = statusClasses.filter(([c]) => c === '2xx' || (view.totals.by_status[c] || 0) > 0);
  const series = present.map(([c, color, pattern]) => ({
    label: c, color, pattern, total: view.totals.by_status[c] || 0, values: data.map((p) => p.by_status[c] || 0),
  }));
  return timeChart({ id, title, x: data.map((p) => seconds(p.start)), series, stacked: true, format: int, marks,
    summary: `${int(view.totals.requests)} requests; ${series.map((s) => `${s.label} ${int(s.total)}`).join(', ')}` });
}

function charts(view, marks) {
  const data = points(view);
  const x = data.map((p) => seconds(p.start));
  const t = view.totals;
  const line = (label, color, field, total, dash) => ({ label, color, dash, total, values: data.map((p) => p[field]) });
  return [
    statusChart('requests', 'Requests by status class', view, marks),
    timeChart({ id: 'tokens', title: 'Tokens', x, format: int, marks,
      series: [line('prompt', '#0072B2', 'prompt_tokens', t.prompt_tokens), line('completion', '#E69F00', 'completion_tokens', t.completion_tokens, [6, 3]),
        line('cached', '#009E73', 'cached_tokens', t.cached_tokens, [2, 2])],
      summary: `prompt ${int(t.prompt_tokens)}, completion ${int(t.completion_tokens)}, cached ${int(t.cached_tokens)}` }),
    timeChart({ id: 'cost', title: 'Cost (USD)', x, format: usd, marks,
      series: [line('cost', '#CC79A7', 'cost_usd', t.cost_usd)], summary: `${usd(t.cost_usd)} in all` }),
    timeChart({ id: 'latency', title: 'Latency', x, format: ms, marks,
      series: [line('p50', '#0072B2', 'latency_p50_ms', t.latency_p50_ms), line('p95', '#D55E00', 'latency_p95_ms', t.latency_p95_ms, [6, 3])],
      summary: `p50 ${ms(t.latency_p50_ms)}, p95 ${ms(t.latency_p95_ms)}` }),
  ];
}

export async function keyPage(main, kid, params, go) {
  const selected = params.get('anomaly') || '';
  main.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  let key;
  try {
    key = (await get(`keys/${kid}`)).data;
  } catch (e) {
    main.replaceChildren(h('h1', {}, kid), errorBox(e));
    return;
  }
  const [anomalies, month, audit, failures] = await Promise.allSettled([
    get('anomalies', { kid, limit: 100 }),
    get(`keys/${kid}/analytics`, { granularity: 'day', from: dayISO(0).slice(0, 8) + '01' }),
    auditOf(kid),
    get(`keys/${kid}/requests`),
  ]);
  const found = anomalies.status === 'fulfilled' ? anomalies.value.data : [];
  let range = params.get('range');
  if (!ranges[range]) {
    // Open on the shortest range that shows the anomaly asked for.
    const a = found.find((f) => f.id === selected);
    const age = a ? Date.now() / 1000 - seconds(a.window_start) : 0;
    range = Object.keys(ranges).find((r) => ranges[r].span > age) || '90d';
  }

  const chartBox = h('div', { class: 'charts', id: 'charts' });
  const marks = found.map((a) => ({ id: a.id, start: seconds(a.window_start), end: seconds(a.window_end), selected: a.id === selected }));
  const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': 'Time range' }, Object.keys(ranges).map((r) =>
    h('button', { type: 'button', 'data-range': r, 'aria-pressed': String(r === range), onclick: () => showRange(r) }, r)));

  async function showRange(r) {
    range = r;
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.range === r));
    chartBox.setAttribute('aria-busy', 'true');
    try {
      const view = await get(`keys/${kid}/analytics`, { granularity: ranges[r].granularity, from: ranges[r].from() });
      chartBox.replaceChildren(h('p', { class: 'muted' }, `${int(view.totals.requests)} requests, ${int(view.totals.errors)} errors, ${usd(view.totals.cost_usd)} from ${when(view.from)} to ${when(view.to)}, per ${view.granularity}.`),
        ...charts(view, marks));
      chartBox.dataset.range = r;
      chartBox.dataset.from = view.from;
      chartBox.dataset.granularity = view.granularity;
    } catch (e) {
      chartBox.replaceChildren(errorBox(e));
    }
    chartBox.removeAttribute('aria-busy');
  }

  main.replaceChildren(
    header(key, go),
    h('section', { 'aria-labelledby': 'charts-h' }, h('h2', { id: 'charts-h' }, 'Traffic'), tabs, chartBox),
    h('div', { class: 'columns' },
      anomalySection(anomalies, marks, selected, chartBox, () => keyPage(main, kid, new URLSearchParams({ range }), go)),
      limitsSection(key, month)),
    sampleSection(failures),
    auditSection(audit));
  await showRange(range);
  const open = main.querySelector(`details[data-anomaly="${CSS.escape(selected)}"]`);
  if (open) { open.scrollIntoView({ block: 'center' }); open.querySelector('summary').focus(); }
}

function header(k, go) {
  const reload = () => go(`/keys/${k.kid}`, true);
  const actions = [];
  if (k.status !== 'revoked') {
    actions.push(
      h('button', { type: 'button', id: 'edit-key', onclick: () => edit(k).then((ok) => ok && reload()) }, 'Edit'),
      h('button', { type: 'button', id: 'rotate-key', onclick: () => rotate(k, go) }, 'Rotate'),
      h('button', { type: 'button', id: 'toggle-key', onclick: () => toggle(k).then((ok) => ok && reload()) }, k.status === 'disabled' ? 'Enable' : 'Disable'),
      h('button', { type: 'button', id: 'revoke-key', class: 'danger', onclick: () => revoke(k).then((ok) => ok && reload()) }, 'Revoke'));
  }
  return h('header', { class: 'keyhead' },
    h('p', {}, h('a', { href: '#/keys' }, '← Keys')),
    h('h1', {}, k.name, ' ', h('span', { class: `status st-${k.status}`, id: 'key-status' }, k.status)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Key id'), h('dd', {}, h('code', {}, k.kid)),
      h('dt', {}, 'Prefix'), h('dd', {}, h('code', {}, k.prefix)),
      h('dt', {}, 'Created'), h('dd', {}, when(k.created_at)),
      h('dt', {}, 'Last used'), h('dd', {}, ago(k.last_used_at)),
      h('dt', {}, 'Expires'), h('dd', {}, k.expires_at ? when(k.expires_at) : 'never'),
      h('dt', {}, 'Models'), h('dd', {}, k.models.length ? k.models.join(', ') : 'any'),
      h('dt', {}, 'Providers'), h('dd', {}, k.providers.length ? k.providers.join(', ') : 'any'),
      k.rotated_to ? [h('dt', {}, 'Rotated to'), h('dd', {}, h('a', { href: `#/keys/${k.rotated_to}` }, k.rotated_to))] : null),
    h('div', { class: 'actions' }, actions));
}

async function edit(k) {
  const form = keyForm(k);
  return ask({ title: `Edit ${k.name}`, confirm: 'Save', body: form.fields, action: () => call('PATCH', `keys/${k.kid}`, { body: form.read() }) });
}

async function rotate(k, go) {
  const overlap = h('select', { name: 'overlap' },
    [['0', 'at once'], ['3600', 'in 1 hour'], ['86400', 'in 1 day'], ['604800', 'in 7 days']].map(([v, t]) => h('option', { value: v, selected: v === '3600' }, t)));
  const rotated = await ask({ title: `Rotate ${k.name}?`, confirm: 'Rotate',
    body: [h('p', {}, 'A new key with the same settings replaces this one. Your clients need the new text.'),
      field('The current key stops working', overlap)],
    action: () => call('POST', `keys/${k.kid}/rotate`, { body: { previous_key_expires_in: Number(overlap.value) } }) });
  if (!rotated) return;
  await showKeyOnce('The rotated key', rotated.data);
  go(`/keys/${rotated.data.kid}`);
}

function toggle(k) {
  const disable = k.status !== 'disabled';
  return ask({ title: `${disable ? 'Disable' : 'Enable'} ${k.name}?`, confirm: disable ? 'Disable' : 'Enable', danger: disable,
    body: h('p', {}, disable ? 'Its requests are refused with 401 until it is enabled again.' : 'Its requests are accepted again.'),
    action: () => call('PATCH', `keys/${k.kid}`, { body: { disabled: disable } }) });
}

function revoke(k) {
  return ask({ title: `Revoke ${k.name}?`, confirm: 'Revoke', danger: true,
    body: h('p', {}, 'Revoking is final: the key’s next request gets 401, and it cannot be enabled again.'),
    action: () => call('DELETE', `keys/${k.kid}`).then(() => { toast(`Revoked ${k.name}.`); return true; }) });
}

function anomalySection(result, marks, selected, chartBox, reload) {
  const s = h('section', { 'aria-labelledby': 'anom-h', id: 'key-anomalies' }, h('h2', { id: 'anom-h' }, 'Anomalies'));
  if (result.status === 'rejected') { s.append(errorBox(result.reason)); return s; }
  const list = result.value.data;
  if (list.length === 0) { s.append(h('p', { class: 'muted' }, 'None found for this key.')); return s; }
  const redraw = () => chartBox.querySelectorAll('figure.chart').forEach((f) => f.redraw && f.redraw());
  s.append(h('p', { class: 'muted' }, 'Numbered as marked on the charts.'), h('ol', { class: 'anomalies' }, list.map((a, i) => {
    const d = h('details', { 'data-anomaly': a.id, open: a.id === selected, class: `sev-${a.severity}` },
      h('summary', {}, h('span', { class: 'badge' }, `${i + 1} · ${a.severity} · ${a.type}`), ' ', a.sentence),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Observed'), h('dd', { 'data-observed': a.observed }, int(a.observed)),
        h('dt', {}, 'Expected'), h('dd', { 'data-expected': `${a.expected_low}..${a.expected_high}` }, `${int(a.expected_low)} to ${int(a.expected_high)}`),
        h('dt', {}, 'Window'), h('dd', {}, `${when(a.window_start)} to ${when(a.window_end)}`),
        h('dt', {}, 'Status'), h('dd', {}, a.status === 'open' ? 'open' : `resolved ${when(a.resolved_at)}`)),
      a.status === 'open' ? h('button', { type: 'button', 'data-resolve': a.id, onclick: () => resolve(a, reload) }, 'Resolve') : null);
    d.addEventListener('toggle', () => { marks.forEach((m) => { m.selected = m.id === a.id && d.open; }); redraw(); });
    return h('li', {}, d);
  })));
  return s;
}

async function resolve(a, reload) {
  const ok = await ask({ title: 'Resolve this anomaly?', confirm: 'Resolve', body: h('p', {}, a.sentence),
    action: () => call('POST', `anomalies/${a.id}/resolve`) });
  if (ok) { toast('Resolved.'); reload(); }
}

function limitsSection(k, month) {
  const l = k.limits;
  const today = dayISO(0);
  let usedDay = '—', usedMonth = '—';
  if (month.status === 'fulfilled') {
    const p = points(month.value).find((d) => d.start.startsWith(today));
    usedDay = int(p ? p.requests : 0);
    usedMonth = int(month.value.totals.requests);
  }
  const row = (label, limit, used) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', { class: 'num' }, limit ? int(limit) : 'none'), h('td', { class: 'num' }, used));
  return h('section', { 'aria-labelledby': 'lim-h', id: 'limits' }, h('h2', { id: 'lim-h' }, 'Limits'),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', { scope: 'col' }, 'Limit'), h('th', { scope: 'col' }, 'Used'))),
      h('tbody', {}, row('Requests per minute', l.requests_per_minute, 'not reported by the API'),
        row('Requests per day (UTC)', l.requests_per_day, usedDay), row('Requests per month (UTC)', l.requests_per_month, usedMonth))),
    month.status === 'rejected' ? errorBox(month.reason) : h('p', { class: 'muted' }, `Used counts every request recorded for the key, refused ones included. ${limitsText(l)}.`),
    budgetsTable(k.budgets || []));
}

// budgetsTable shows the key's token and money budgets as its record gives
// them: limit, used (settled and in flight apart) and when each resets.
function budgetsTable(budgets) {
  const head = h('h3', { id: 'budgets-h' }, 'Budgets');
  if (!budgets.length) {
    return h('div', { id: 'budgets', 'aria-labelledby': 'budgets-h' }, head, h('p', { class: 'muted' }, 'No token or money budget is set on this key.'));
  }
  const fmt = (b, v) => (b.unit === 'usd' ? `$${v}` : int(v));
  return h('div', { id: 'budgets', 'aria-labelledby': 'budgets-h' }, head,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Budget'), h('th', { scope: 'col' }, 'Limit'),
      h('th', { scope: 'col' }, 'Used'), h('th', { scope: 'col' }, 'In flight'), h('th', { scope: 'col' }, 'Resets'))),
      h('tbody', {}, ...budgets.map((b) => h('tr', { 'data-budget': b.name },
        h('th', { scope: 'row' }, b.name), h('td', { class: 'num' }, fmt(b, b.limit)),
        h('td', { class: 'num' }, `${fmt(b, b.used)} (${Math.round(b.percent)} %)`),
        h('td', { class: 'num' }, fmt(b, b.reserved)),
        h('td', {}, b.resets_at ? new Date(b.resets_at).toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : 'never'))))));
}

// sampleSection lists the key's recent failures (every non-2xx answer of
// the last 7 days, newest 100), metadata only, as GET /keys/{kid}/requests
// gives them.
function sampleSection(result) {
  const s = h('section', { 'aria-labelledby': 'sample-h', id: 'sample' }, h('h2', { id: 'sample-h' }, 'Recent non-2xx requests'));
  if (result.status === 'rejected') s.append(errorBox(result.reason));
  else if (result.value.data.length === 0) s.append(h('p', { class: 'muted' }, 'None in the last 7 days.'));
  else s.append(h('table', {}, h('thead', {}, h('tr', {}, ['Time', 'Route', 'Model', 'Status', 'Code', 'Latency', 'Client'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, result.value.data.map((f) => h('tr', { 'data-status': String(f.status) },
      h('td', {}, when(f.time)), h('td', {}, f.route), h('td', {}, f.model || '—'), h('td', { class: 'num' }, `${f.status} (${f.class})`),
      h('td', {}, f.code ? h('code', {}, f.code) : '—'), h('td', { class: 'num' }, ms(f.latency_ms)), h('td', {}, f.client || '—'))))));
  return s;
}

// auditOf reads the workspace's latest audit events (up to 300) and keeps
// the key's: the API lists a workspace's trail, not one key's.
async function auditOf(kid) {
  const mine = [];
  let cursor = '';
  for (let i = 0; i < 3; i++) {
    const page = await get('audit-events', { limit: 100, cursor });
    mine.push(...page.data.filter((e) => e.target_kid === kid));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return mine;
}

function auditSection(result) {
  const s = h('section', { 'aria-labelledby': 'audit-h', id: 'audit' }, h('h2', { id: 'audit-h' }, 'Audit events'));
  if (result.status === 'rejected') s.append(errorBox(result.reason));
  else if (result.value.length === 0) s.append(h('p', { class: 'muted' }, 'None among the workspace’s latest 300 events.'));
  else s.append(h('table', {}, h('thead', {}, h('tr', {}, ['Time', 'Action', 'By', 'Changes'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, result.value.map((e) => h('tr', { 'data-action': e.action },
      h('td', {}, when(e.time)), h('td', {}, e.action), h('td', {}, h('code', {}, e.actor_kid)),
      h('td', {}, h('code', {}, Object.keys(e.changes).length ? JSON.stringify(e.changes) : '')))))));
  return s;
}
