// The key list: a page of keys with today's requests (one workspace
// analytics call grouped by key, not one call per key), keys unused for 30
// days or more flagged with a way to revoke them, search and paging.
import { get, call } from './api.js';
import { h, int, ago, limitsText, errorBox, dayISO, toast } from './dom.js';
import { sparkline } from './charts.js';
import { ask, showKeyOnce, keyForm } from './dialogs.js';

const pageSize = 20;
const unusedDays = 30;

export async function keyList(main, params, go) {
  const cursors = [params.get('cursor') || ''];
  const search = h('input', { type: 'search', id: 'key-search', placeholder: 'name, prefix or kid', value: params.get('q') || '' });
  const onlyUnused = h('input', { type: 'checkbox', id: 'only-unused', checked: params.get('unused') === '1' });
  const create = h('button', { type: 'button', class: 'primary', id: 'create-key' }, 'Create key');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.replaceChildren(h('h1', {}, 'Keys'),
    h('form', { class: 'toolbar', role: 'search', onsubmit: (e) => { e.preventDefault(); load(''); } },
      h('label', { for: 'key-search' }, 'Search'), search, h('button', { type: 'submit' }, 'Search'),
      h('label', { class: 'check' }, onlyUnused, ` Only keys unused for ${unusedDays} days or more`), create),
    body);
  onlyUnused.addEventListener('change', () => load(''));
  create.addEventListener('click', () => createKey(go));

  async function load(cursor) {
    body.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    const q = search.value.trim().toLowerCase();
    const filter = { unused_for_days: onlyUnused.checked ? unusedDays : undefined };
    try {
      let keys, next = null, scanned = 0;
      if (q) {
        // The API has no search: read up to 1,000 keys and match here.
        keys = [];
        let c = '';
        do {
          const page = await get('keys', { ...filter, limit: 100, cursor: c });
          scanned += page.data.length;
          keys.push(...page.data.filter((k) => [k.name, k.prefix, k.kid].some((f) => f.toLowerCase().includes(q))));
          c = page.next_cursor;
        } while (c && scanned < 1000);
      } else {
        const page = await get('keys', { ...filter, limit: pageSize, cursor });
        keys = page.data;
        next = page.next_cursor;
      }
      const [unused, today] = await Promise.allSettled([
        get('keys', { unused_for_days: unusedDays, limit: 100 }),
        get('analytics', { group_by: 'key', granularity: 'hour', from: `${dayISO(0)}T00:00:00Z` }),
      ]);
      const stale = new Set(unused.status === 'fulfilled' ? unused.value.data.map((k) => k.kid) : []);
      const usage = {};
      if (today.status === 'fulfilled') for (const s of today.value.series) usage[s.group] = s;
      render(keys, next, stale, usage, today.status === 'rejected' ? today.reason : null, q ? scanned : null);
    } catch (e) {
      body.replaceChildren(errorBox(e));
    }
  }

  function render(keys, next, stale, usage, usageError, scanned) {
    const rows = keys.map((k) => {
      const u = usage[k.kid];
      const flagged = stale.has(k.kid) && k.status !== 'revoked';
      return h('tr', { 'data-kid': k.kid, class: flagged ? 'flagged' : '' },
        h('td', {}, h('a', { href: `#/keys/${k.kid}` }, k.name)),
        h('td', {}, h('code', {}, k.prefix)),
        h('td', {}, h('span', { class: `status st-${k.status}` }, k.status)),
        h('td', {}, ago(k.last_used_at), flagged ? h('span', { class: 'badge warn', title: `No use for ${unusedDays} days or more` }, ` unused ≥ ${unusedDays} d`) : null),
        h('td', {}, limitsText(k.limits)),
        h('td', { class: 'num', 'data-today': u ? u.totals.requests : 0 }, usageError ? '—' : int(u ? u.totals.requests : 0)),
        h('td', {}, u ? sparkline(u.data.map((p) => p.requests), `Requests per hour today for ${k.name}`) : null),
        h('td', {}, flagged ? h('button', { type: 'button', class: 'danger small', 'data-revoke': k.kid, onclick: () => revoke(k) }, 'Revoke') : null));
    });
    const more = [];
    if (cursors.length > 1) more.push(h('button', { type: 'button', onclick: () => { cursors.pop(); load(cursors[cursors.length - 1]); } }, '← Previous'));
    if (next) more.push(h('button', { type: 'button', onclick: () => { cursors.push(next); load(next); } }, 'Next →'));
    body.replaceChildren(
      usageError ? errorBox(usageError) : null,
      scanned !== null ? h('p', { class: 'muted' }, `${keys.length} matching among ${scanned} keys.`) : null,
      keys.length === 0 ? h('p', { class: 'muted' }, 'No keys.') :
        h('table', { id: 'keys' }, h('caption', { class: 'muted' }, 'Today’s requests are as of the rollup job’s last run.'),
          h('thead', {}, h('tr', {}, ['Name', 'Prefix', 'Status', 'Last used', 'Limits', 'Today', 'Per hour', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows)),
      h('nav', { class: 'pager', 'aria-label': 'Pages' }, more));
  }

  async function revoke(k) {
    const done = await ask({ title: `Revoke ${k.name}?`, confirm: 'Revoke', danger: true,
      body: h('p', {}, `Key ${k.prefix}… has not been used for ${unusedDays} days or more. Revoking it is final: its next request gets 401.`),
      action: () => call('DELETE', `keys/${k.kid}`).then(() => true) });
    if (done) { toast(`Revoked ${k.name}.`); load(cursors[cursors.length - 1]); }
  }

  await load(cursors[0]);
}

export async function createKey(go) {
  const form = keyForm(null);
  const created = await ask({ title: 'Create an inference key', confirm: 'Create', body: form.fields,
    action: () => call('POST', 'keys', { body: form.read() }) });
  if (!created) return;
  await showKeyOnce('Your new key', created.data);
  go(`/keys/${created.data.kid}`);
}
