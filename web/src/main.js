// The dashboard's entry: sign-in, sign-out and a hash router over three
// views (overview, key list, key page). The hash holds only public key ids.
import './style.css';
import { signedIn, signIn, signOut, get } from './api.js';
import { h, errorBox } from './dom.js';
import { overview } from './overview.js';
import { keyList } from './keylist.js';
import { keyPage } from './keypage.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');

function go(path, replace) {
  const hash = `#${path}`;
  if (location.hash === hash) route();
  else if (replace) { history.replaceState(null, '', hash); route(); } else location.hash = hash;
}

function signInView(message) {
  nav.hidden = true;
  document.body.removeAttribute('data-ready');
  // No name attribute: even a native form submission (no script) carries no
  // key, and the CSP's form-action 'none' blocks it anyway.
  const key = h('input', { type: 'password', id: 'mk', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'aistats_v1_mk_…' });
  const keep = h('input', { type: 'checkbox', id: 'keep' });
  const error = h('p', { class: 'error', role: 'alert', hidden: !message }, message || '');
  const form = h('form', { class: 'signin', id: 'signin' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste a management key. The page sends it only to this gateway’s API and keeps it in this tab’s memory; it can do no more than the key’s scopes allow.'),
    h('label', { for: 'mk' }, 'Management key'), key,
    h('label', { class: 'check' }, keep, ' Stay signed in while this tab is open (sessionStorage; never localStorage or a cookie)'),
    error, h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    signIn(key.value, keep.checked);
    key.value = '';
    try {
      await get('workspace');
    } catch (e) {
      // A key short of keys:read may still read usage: only a refused key stops here.
      if (e.status === 401 || e.status === 0) { signOut(); error.textContent = e.text; error.hidden = false; return; }
    }
    route();
  });
  main.replaceChildren(form);
  key.focus();
}

async function route() {
  if (!signedIn()) return signInView();
  nav.hidden = false;
  document.body.removeAttribute('data-ready');
  const [path, query] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = (path || '/').split('/').filter(Boolean);
  for (const a of nav.querySelectorAll('a')) a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${parts[0] || ''}`);
  try {
    if (parts[0] === 'keys' && parts[1]) await keyPage(main, parts[1], params, go);
    else if (parts[0] === 'keys') await keyList(main, params, go);
    else await overview(main, params, go);
  } catch (e) {
    if (e.status === 401) { signOut(); return signInView('The key was refused: it may be revoked, disabled or expired.'); }
    main.replaceChildren(errorBox(e));
  }
  document.body.setAttribute('data-view', parts[0] || 'overview');
  document.body.setAttribute('data-ready', String(Date.now()));
}

document.getElementById('signout').addEventListener('click', () => {
  signOut();
  history.replaceState(null, '', location.pathname);
  signInView('Signed out. The key is gone from this page.');
});
window.addEventListener('hashchange', route);
route();
