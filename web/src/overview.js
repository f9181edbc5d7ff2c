// The workspace overview: the last 7 days against the 7 before, top keys
// and open anomalies. Workspace figures come from the rollup job, so they
// are as fresh as its last run.
import { get } from './api.js';
import { h, int, usd, ms, pct, change, errorBox, dayISO, when } from './dom.js';
import { statusChart } from './keypage.js';

export async function overview(main) {
  const period = h('section', { 'aria-labelledby': 'period-h' }, h('h2', { id: 'period-h' }, 'Last 7 days'), h('p', { class: 'muted' }, 'Loading…'));
  const top = h('section', { 'aria-labelledby': 'top-h' }, h('h2', { id: 'top-h' }, 'Top keys'));
  const open = h('section', { 'aria-labelledby': 'open-h', id: 'open-anomalies' }, h('h2', { id: 'open-h' }, 'Open anomalies'));
  main.replaceChildren(h('h1', {}, 'Workspace overview'),
    h('p', { class: 'muted' }, 'Workspace figures are as fresh as the rollup job’s last run (every 5 minutes; every minute under make dev). A key’s own page is exact at once.'),
    period, h('div', { class: 'columns' }, top, open));

  const [cur, prev, byKey, anomalies, keys] = await Promise.allSettled([
    get('analytics', { granularity: 'day', from: dayISO(6) }),
    get('analytics', { granularity: 'day', from: dayISO(13), to: dayISO(6) }),
    get('analytics', { granularity: 'day', from: dayISO(6), group_by: 'key' }),
    get('anomalies', { status: 'open', limit: 20 }),
    get('keys', { limit: 100 }),
  ]);
  const names = {};
  if (keys.status === 'fulfilled') for (const k of keys.value.data) names[k.kid] = k.name;

  if (cur.status === 'rejected') period.replaceChildren(period.firstChild, errorBox(cur.reason));
  else {
    const t = cur.value.totals;
    const p = prev.status === 'fulfilled' ? prev.value.totals : null;
    const rate = (m) => (m && m.requests ? m.errors / m.requests : null);
    const card = (label, value, delta, name) => h('div', { class: 'card', 'data-figure': name }, h('div', { class: 'label' }, label), h('div', { class: 'big' }, value), delta);
    period.replaceChildren(period.firstChild,
      h('div', { class: 'cards' },
        card('Requests', int(t.requests), change(t.requests, p && p.requests), 'requests'),
        card('Error rate', `${pct(t.errors, t.requests)} (${int(t.errors)})`, change(rate(t), rate(p), true), 'error_rate'),
        card('Spend', usd(t.cost_usd), change(t.cost_usd, p && p.cost_usd, true), 'spend'),
        card('p95 latency', ms(t.latency_p95_ms), change(t.latency_p95_ms, p && p.latency_p95_ms, true), 'latency_p95')),
      statusChart('workspace-requests', 'Requests per day by status class', cur.value, []));
  }

  if (byKey.status === 'rejected') top.append(errorBox(byKey.reason));
  else {
    const rows = [...byKey.value.series].sort((a, b) => b.totals.requests - a.totals.requests).slice(0, 5);
    top.append(rows.length === 0 ? h('p', { class: 'muted' }, 'No traffic in the last 7 days.') :
      h('table', {}, h('thead', {}, h('tr', {}, ['Key', 'Requests', 'Errors', 'Spend'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.map((s) => h('tr', {},
          h('td', {}, h('a', { href: `#/keys/${s.group}` }, names[s.group] || s.group)),
          h('td', { class: 'num' }, int(s.totals.requests)), h('td', { class: 'num' }, int(s.totals.errors)),
          h('td', { class: 'num' }, usd(s.totals.cost_usd)))))));
  }

  if (anomalies.status === 'rejected') open.append(errorBox(anomalies.reason));
  else if (anomalies.value.data.length === 0) open.append(h('p', { class: 'muted' }, 'None open.'));
  else open.append(h('ul', { class: 'anomalies' }, anomalies.value.data.map((a) => h('li', { class: `sev-${a.severity}` },
    h('span', { class: 'badge' }, `${a.severity} · ${a.type}`), ' ',
    h('a', { href: `#/keys/${a.kid}?anomaly=${a.id}`, 'data-anomaly': a.id }, a.sentence),
    h('small', { class: 'muted' }, ` ${names[a.kid] || a.kid}, ${when(a.window_start)}`)))));
}
